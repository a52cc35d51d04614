"""Second derivatives, forward against reverse: the four ways to a Hessian-vector product.

For a scalar ``f: Rⁿ → R`` the product ``H v`` needs no Hessian (docs/maths.md, "Second
derivatives"). Composing the two modes gives four routes (:func:`autograd.hvp`):

* ``fwd-over-rev``: ``jvp(grad(f), x, v)``: one forward sweep over one reverse sweep;
* ``rev-over-fwd``: ``grad(x ↦ J(x) v)``: one reverse sweep over one forward sweep;
* ``rev-over-rev``: ``grad(x ↦ <∇f(x), v>)``: a reverse sweep over a recorded reverse sweep;
* ``fwd-over-fwd``: ``(H v)_i = e_iᵀ H v``: ``n`` forward sweeps of nested dual numbers.

Theory: the first three take a number of sweeps that does not grow with ``n``, each a small
constant times the cost of ``f``, so an HVP costs a small constant times a gradient
(Pearlmutter, 1994); forward over forward takes ``n`` sweeps, like a full gradient in forward
mode. :func:`compare_hvp_modes` counts what each route does as the engine runs (sweeps and
primitive calls, from :mod:`autograd.counters`), times it, and measures its peak memory
(``tracemalloc``). ``python -m autograd.compare --order 2`` prints the table.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .counters import count
from .functional import HVP_MODES, grad, hvp
from .tensor import Tensor
from .timing import best_seconds

#: What theory predicts for the sweeps of each route: (forward, reverse), ``n`` the input size.
PREDICTED_SWEEPS: dict[str, Callable[[int], tuple[int, int]]] = {
    "fwd-over-rev": lambda n: (1, 1),
    "rev-over-fwd": lambda n: (1, 1),
    "rev-over-rev": lambda n: (0, 2),
    "fwd-over-fwd": lambda n: (n, 0),
}


@dataclass(frozen=True)
class HvpComparison:
    """One route to ``H v``: what the engine counted and what it cost.

    ``ops`` are the primitive calls it ran (forward ops, JVP rules, VJP rules); ``seconds`` the
    best of a few uninstrumented runs and ``gradient_seconds`` the same for one gradient of
    ``f``, so ``seconds / gradient_seconds`` is the HVP's cost in gradients; ``peak_bytes`` the
    peak of NumPy's and Python's allocations during one run; ``max_abs_diff`` the largest
    difference from the forward-over-reverse result (for that one, from reverse over forward).
    """

    mode: str
    n_inputs: int
    forward_sweeps: int
    reverse_sweeps: int
    ops: int
    seconds: float
    gradient_seconds: float
    peak_bytes: int
    max_abs_diff: float

    @property
    def predicted_sweeps(self) -> tuple[int, int]:
        """(forward, reverse) sweeps theory predicts for this route."""
        return PREDICTED_SWEEPS[self.mode](self.n_inputs)

    @property
    def gradients(self) -> float:
        """The HVP's time in units of one gradient's."""
        return self.seconds / self.gradient_seconds if self.gradient_seconds else float("nan")




def _peak_bytes(run: Callable[[], Any]) -> int:
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    run()
    peak = tracemalloc.get_traced_memory()[1] - before
    if not tracing:
        tracemalloc.stop()
    return int(peak)


def compare_hvp_modes(
    f: Callable[..., Tensor], x: Any, v: Any, *, modes: Sequence[str] = HVP_MODES, repeats: int = 3
) -> list[HvpComparison]:
    """``H v`` of a scalar ``f`` at ``x`` by each route in ``modes``, counted, timed, measured.

    Each route runs once under :func:`autograd.counters.count`, once under ``tracemalloc`` and
    then is timed without either (best of ``repeats`` short runs).
    """
    x = np.asarray(x.data if isinstance(x, Tensor) else x)
    v = np.asarray(v.data if isinstance(v, Tensor) else v)
    gradient_seconds = best_seconds(lambda: grad(f)(x), repeats, budget=0.5)
    results, values, counted = {}, {}, {}
    for mode in modes:
        with count() as c:
            values[mode] = np.asarray(hvp(f, x, v, mode=mode))
        counted[mode] = c
        results[mode] = (
            best_seconds(lambda mode=mode: hvp(f, x, v, mode=mode), repeats, budget=0.5),
            _peak_bytes(lambda mode=mode: hvp(f, x, v, mode=mode)),
        )
    reference = values.get("fwd-over-rev")
    comparisons = []
    for mode in modes:
        other = values.get("rev-over-fwd") if mode == "fwd-over-rev" else reference
        diff = float(np.max(np.abs(values[mode] - other))) if other is not None and x.size else 0.0
        seconds, peak = results[mode]
        c = counted[mode]
        comparisons.append(
            HvpComparison(
                mode=mode,
                n_inputs=int(x.size),
                forward_sweeps=c.forward_sweeps,
                reverse_sweeps=c.reverse_sweeps,
                ops=c.primitive_calls,
                seconds=seconds,
                gradient_seconds=gradient_seconds,
                peak_bytes=peak,
                max_abs_diff=diff,
            )
        )
    return comparisons


# ---------------------------------------------------------------------------------------------
# The problems of `python -m autograd.compare --order 2`
# ---------------------------------------------------------------------------------------------


def mlp_cost_of_parameters(n_hidden: int, n_in: int = 8, n_out: int = 4, m: int = 16, seed: int = 0):
    """``f(θ)``: softmax cross-entropy of a tanh network ``n_in-n_hidden-n_out`` on ``m`` fixed
    examples, as a function of the flat parameter vector ``θ``; returns ``(f, θ0)``."""
    from . import primitives as P
    from .fused import linear, softmax_cross_entropy
    from .tensor import apply

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_in, m))
    Y = np.eye(n_out)[:, rng.integers(0, n_out, m)]
    shapes = [(n_hidden, n_in), (n_hidden, 1), (n_out, n_hidden), (n_out, 1)]
    sizes = [int(np.prod(s)) for s in shapes]
    offsets = np.cumsum([0] + sizes)

    def f(theta: Tensor) -> Tensor:
        w1, b1, w2, b2 = (
            apply(P.GETITEM, (theta,), ((slice(int(start), int(stop)),),)).reshape(shape)
            for start, stop, shape in zip(offsets[:-1], offsets[1:], shapes)
        )
        hidden = linear(w1, X, b1)
        e = (hidden * -2.0).exp()  # tanh z = (1 - e^{-2z}) / (1 + e^{-2z}), moderate z only
        a1 = (1.0 - e) * (e + 1.0).reciprocal()
        return softmax_cross_entropy(linear(w2, a1, b2), Y)

    theta0 = rng.standard_normal(int(offsets[-1])) * 0.3
    return f, theta0


def hvp_table(hidden_sizes: Sequence[int] = (2, 8, 32), repeats: int = 3) -> list[tuple[str, HvpComparison]]:
    """The comparison on MLP costs of growing parameter counts ``n``."""
    rows = []
    for n_hidden in hidden_sizes:
        f, theta = mlp_cost_of_parameters(n_hidden)
        v = np.random.default_rng(1).standard_normal(theta.size)
        label = f"MLP cost 8→{n_hidden}→4, 16 examples"
        rows += [(label, c) for c in compare_hvp_modes(f, theta, v, repeats=repeats)]
    return rows


HVP_COLUMNS = (
    "f", "n", "mode", "forward sweeps", "reverse sweeps", "theory (fwd, rev)", "primitive calls",
    "seconds", "gradients", "peak KiB", "max abs diff",
)


def hvp_markdown(rows: Sequence[tuple[str, HvpComparison]]) -> str:
    lines = ["| " + " | ".join(HVP_COLUMNS) + " |", "|" + "---|" * len(HVP_COLUMNS)]
    for label, c in rows:
        cells = [
            label, str(c.n_inputs), c.mode, str(c.forward_sweeps), str(c.reverse_sweeps),
            str(c.predicted_sweeps), str(c.ops), f"{c.seconds:.4f}", f"{c.gradients:.1f}",
            f"{c.peak_bytes / 1024:.0f}", f"{c.max_abs_diff:.1e}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
