"""Benchmark 4: forward mode (jacfwd, n sweeps) against reverse mode (jacrev, m sweeps).

``f(x) = exp(W x + b)`` maps ``R^n`` to ``R^m`` with a dense Jacobian ``diag(f) W``; ``W`` is
scaled by ``1/sqrt(n)`` so the exponent stays of order one. Over the grid of ``(n, m)`` the time
of ``jacfwd`` grows with ``n`` and the time of ``jacrev`` with ``m`` (docs/maths.md, "Forward vs reverse
accumulation"). The closed form ``diag(f(x)) W`` in NumPy is the floor and the referee: every
Jacobian is checked against it before timing. float64, one process, interleaved.
"""

from __future__ import annotations

import numpy as np

from .timing import interleave, median

GRID = ((1, 1000), (10, 1000), (100, 100), (1000, 10), (1000, 1))


def problem(n: int, m: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((m, n)) / np.sqrt(n)
    b = rng.standard_normal((m,)) * 0.1
    x = rng.standard_normal((n,))
    return W, b, x


def run(rounds: int, target_seconds: float, notes: list) -> dict | None:
    try:
        from autograd.functional import jacfwd, jacrev
    except ImportError as error:
        notes.append(f"forward vs reverse skipped: autograd.functional is missing ({error})")
        return None
    result = {"workload": "jacfwd vs jacrev, f(x) = exp(W x + b)", "rows": []}
    for n, m in GRID:
        W, b, x = problem(n, m)

        def f(x, W=W, b=b):
            return (W @ x + b).exp()

        def closed_form(W=W, b=b, x=x):
            return np.exp(W @ x + b)[:, None] * W

        contenders = {
            "closed form (NumPy)": closed_form,
            "jacfwd": lambda f=f, x=x: jacfwd(f)(x),
            "jacrev": lambda f=f, x=x: jacrev(f)(x),
        }
        expected = closed_form()
        for name in ("jacfwd", "jacrev"):
            got = contenders[name]()
            if got.shape != (m, n) or not np.allclose(got, expected, rtol=1e-10, atol=1e-12):
                raise AssertionError(f"{name} differs from diag(f) W for (n, m) = ({n}, {m})")
        times = interleave(contenders, rounds, target_seconds, warmup=1)
        row = {"n": n, "m": m}
        for name in contenders:
            row[name] = median(times[name])
        row["fwd/rev"] = median([a / b for a, b in zip(times["jacfwd"], times["jacrev"])])
        result["rows"].append(row)
    return result
