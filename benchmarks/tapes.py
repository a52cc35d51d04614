"""Benchmark 8: Jacobians with their sweeps replayed on a tape, against every sweep eager.

``jacfwd`` (n forward sweeps) and ``jacrev`` (m reverse sweeps) at top level run their first
sweep through the engine and replay it for the others (``autograd.sweep_tape``); with
``sweep_tape.disabled()`` every sweep goes through the engine. Both variants run interleaved in
the same process; each Jacobian is first checked bitwise equal between the two and close to
its closed form. Reported: median seconds per Jacobian
and the median paired speed-up ``t(eager) / t(replay)``.

Workloads (float64):

* ``mlp``: ``f(x) = W2 tanh(W1 x + b1) + b2`` (bias columns broadcast), ``x`` of 16 elements,
  32 hidden units, 16 outputs: 16 sweeps either way.
* ``chain``: 60 elementwise ops on a 16-element vector (``y*2, y+0.25, exp, log, y-0.25,
  y*0.5`` repeated, which maps ``y`` to itself; the Jacobian is the identity): 16 sweeps, many
  tiny ops.

    python -m benchmarks.tapes            # print the table
    python -m benchmarks --only tapes --no-write
"""

from __future__ import annotations

import numpy as np

from .timing import interleave, median, paired_ratio

N = 16


def mlp(seed: int = 0):
    """``(f, x, J)``: a two-layer network as a function of its input column, the point, and
    the Jacobian's closed form ``W2 diag(1 - tanh²(W1 x + b1)) W1``."""
    rng = np.random.default_rng(seed)
    W1 = rng.standard_normal((32, N)) / np.sqrt(N)
    b1 = rng.standard_normal((32, 1))
    W2 = rng.standard_normal((N, 32)) / np.sqrt(32)
    b2 = rng.standard_normal((N, 1))

    def f(x):
        return (W2 @ (W1 @ x.reshape(N, 1) + b1).tanh() + b2).reshape(N)

    x = rng.standard_normal(N)
    slope = 1 - np.tanh(W1 @ x[:, None] + b1) ** 2
    return f, x, W2 @ (slope * W1)


def chain(n_ops: int = 60, seed: int = 0):
    """``(f, x, J)``: ``n_ops`` elementwise ops that map ``y`` back to itself; ``J = I``."""
    steps = (lambda y: y * 2, lambda y: y + 0.25, lambda y: y.exp(), lambda y: y.log(),
             lambda y: y - 0.25, lambda y: y * 0.5)

    def f(x):
        y = x
        for k in range(n_ops):
            y = steps[k % len(steps)](y)
        return y

    return f, np.abs(np.random.default_rng(seed).standard_normal(N)) + 0.5, np.eye(N)


WORKLOADS = {"mlp": mlp, "chain": chain}


def run(rounds: int, target_seconds: float, notes: list) -> dict:
    from autograd import sweep_tape
    from autograd.functional import jacfwd, jacrev

    def eager(transform):
        def call():
            with sweep_tape.disabled():
                return transform()
        return call

    result = {"workload": "jacfwd and jacrev, replayed vs eager", "rows": []}
    for name, make in WORKLOADS.items():
        f, x, referee = make()
        for mode, transform in (("jacfwd", jacfwd), ("jacrev", jacrev)):
            replayed = lambda transform=transform, f=f, x=x: transform(f)(x)  # noqa: E731
            contenders = {"replay": replayed, "eager": eager(replayed)}
            got, want = contenders["replay"](), contenders["eager"]()
            if not np.array_equal(got, want):
                raise AssertionError(f"{mode} on {name}: the replayed Jacobian differs from the eager one")
            if not np.allclose(got.reshape(referee.shape), referee, rtol=1e-10, atol=1e-12):
                raise AssertionError(f"{mode} on {name}: the Jacobian differs from its closed form")
            times = interleave(contenders, rounds, target_seconds)
            result["rows"].append({
                "workload": name,
                "transform": mode,
                "sweeps": x.size if mode == "jacfwd" else referee.shape[0],
                "replay": median(times["replay"]),
                "eager": median(times["eager"]),
                "speed-up": paired_ratio(times, "eager", "replay"),
            })
    return result


def table(result: dict) -> str:
    lines = [
        "| workload | transform | sweeps | eager | replayed | speed-up (eager / replayed) |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['workload']} | {r['transform']} | {r['sweeps']} | {r['eager'] * 1e3:.3g} ms "
            f"| {r['replay'] * 1e3:.3g} ms | {r['speed-up']:.2f} |"
        )
    return "\n".join(lines)


def section(result: dict) -> str:
    """The table as a section of the results page."""
    return (
        "\n### 8. Jacobians with their sweeps replayed on a tape, against every sweep eager\n"
        "Median seconds per Jacobian; speed-up: median over rounds of t(eager) / t(replayed).\n\n"
        + table(result) + "\n"
    )


if __name__ == "__main__":
    from . import threads

    threads.limit_blas_threads()
    print(table(run(15, 0.1, [])))
