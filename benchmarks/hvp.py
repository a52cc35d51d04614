"""Benchmark 7: the cost of a Hessian-vector product, in gradients, on the medium MLP cost.

``f(params)`` is the medium network's cost (784-256-256-10, batch 128, float32, ReLU hidden,
the fused ``linear`` and softmax cross-entropy) as a function of a dict of its parameters
(269,322 numbers). Pearlmutter's bound says ``H v`` costs a small constant times a
gradient; the goal is forward over reverse ≤ 4 gradients. Every route runs interleaved with the
gradient in the same process and is reported as the median paired ratio to it. Forward over
forward takes ``n`` sweeps: one of them is timed and multiplied by ``n`` (extrapolated).
"""

from __future__ import annotations

import numpy as np

from .handwritten import MLP_SIZES as SIZES
from .timing import interleave, median, paired_ratio

GRADIENT = "gradient"
GOAL = 4.0


def medium_cost(seed: int = 0):
    """``(f, params, v)``: the medium MLP cost of a dict of parameters, the point and a direction
    of the same structure (a pytree, as a JAX user writes it)."""
    from autograd import linear, softmax_cross_entropy

    sizes, m = SIZES["medium"]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((sizes[0], m)).astype(np.float32)
    Y = np.eye(sizes[-1], dtype=np.float32)[:, rng.integers(0, sizes[-1], m)]
    params, v = {}, {}
    for k, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        params[f"W{k}"] = (rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)).astype(np.float32)
        params[f"b{k}"] = np.zeros((n_out, 1), dtype=np.float32)
        v[f"W{k}"] = rng.standard_normal((n_out, n_in)).astype(np.float32)
        v[f"b{k}"] = rng.standard_normal((n_out, 1)).astype(np.float32)
    layers = len(sizes) - 1

    def f(p):
        a = X
        for k in range(layers):
            z = linear(p[f"W{k}"], a, p[f"b{k}"])
            a = z.relu() if k < layers - 1 else z
        return softmax_cross_entropy(a, Y)

    return f, params, v


def _flat(tree: dict) -> np.ndarray:
    return np.concatenate([np.asarray(tree[k], dtype=np.float64).reshape(-1) for k in sorted(tree)])


def run(rounds: int, target_seconds: float, notes: list) -> dict:
    from autograd import grad, hvp, jvp

    f, params, v = medium_cost()
    n = sum(p.size for p in params.values())
    contenders = {GRADIENT: lambda: grad(f)(params)}
    for mode in ("fwd-over-rev", "rev-over-fwd", "rev-over-rev"):
        contenders[mode] = lambda mode=mode: hvp(f, params, v, mode=mode)
    reference = _flat(hvp(f, params, v, mode="fwd-over-rev"))
    tolerance = 1e-3 * np.abs(reference).max()
    for mode in ("rev-over-fwd", "rev-over-rev"):
        if not np.allclose(_flat(contenders[mode]()), reference, rtol=1e-3, atol=tolerance):
            raise AssertionError(f"hvp {mode} differs from fwd-over-rev on the medium MLP cost")
    basis = {k: np.zeros_like(p) for k, p in params.items()}
    basis["W0"].reshape(-1)[0] = 1.0

    def one_outer_sweep():  # e_0ᵀ H v: one of forward over forward's n sweeps
        return jvp(lambda x: jvp(f, (x,), (v,))[1], (params,), (basis,))[1]

    first = reference[0]  # W0's first entry: the dict's leaves in sorted order start with W0
    if not np.isclose(float(one_outer_sweep()), first, rtol=1e-3, atol=tolerance):
        raise AssertionError("hvp fwd-over-fwd's first sweep differs from fwd-over-rev's first entry")
    contenders["fwd-over-fwd (one of n sweeps)"] = one_outer_sweep
    times = interleave(contenders, rounds, target_seconds, warmup=1)
    ratios = {name: paired_ratio(times, name, GRADIENT) for name in contenders if name != GRADIENT}
    ratios["fwd-over-fwd"] = ratios.pop("fwd-over-fwd (one of n sweeps)") * n
    seconds = {name: median(times[name]) for name in contenders}
    seconds["fwd-over-fwd"] = seconds.pop("fwd-over-fwd (one of n sweeps)") * n
    return {"n": int(n), "seconds": seconds, "ratio": ratios, "goal": GOAL}


def table(result: dict) -> str:
    rows = ["| route | seconds | gradients (paired ratio) |", "|---|---|---|"]
    rows.append(f"| one gradient | {result['seconds'][GRADIENT]:.4f} | 1 |")
    for mode, ratio in result["ratio"].items():
        extra = " (extrapolated: one sweep × n)" if mode == "fwd-over-fwd" else ""
        rows.append(f"| {mode}{extra} | {result['seconds'][mode]:.4g} | {ratio:.3g} |")
    return "\n".join(rows)
