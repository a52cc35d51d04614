"""Forward against reverse accumulation, measured on the engine as it runs.

For ``f: Rⁿ → Rᵐ`` the full Jacobian takes ``n`` forward sweeps (one JVP per input element) or
``m`` reverse sweeps (one VJP per output element), each costing a small constant times one
evaluation of ``f`` (docs/maths.md, "Forward vs reverse accumulation"). So forward mode should win for
tall Jacobians (``n < m``), reverse mode for wide ones (``n > m``), with the crossover at
``n = m``, and a training cost (``m = 1``, ``n`` = the number of parameters) should take one
reverse sweep against ``n`` forward ones. When the Jacobian is sparse, forward mode needs only
one sweep per colour of its columns (:mod:`autograd.sparsity`).

:func:`compare_modes` computes one Jacobian both ways, counting sweeps and primitive calls with
:mod:`autograd.counters` (never from shapes), and timing each mode on its own, uninstrumented.
``python -m autograd.compare`` runs it over a grid of ``(n, m)``, prints a table and writes a
plot::

    python -m autograd.compare [--out runs/compare_modes.png] [--table FILE.md] [--quick]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .counters import count
from .functional import jacfwd, jacrev
from .fused import softmax_cross_entropy
from .state import no_grad
from .tensor import Tensor


@dataclass(frozen=True)
class Comparison:
    """One Jacobian computed by forward and by reverse mode.

    ``*_ops`` are the primitive calls the engine ran (forward ops, JVP rules and VJP rules),
    ``*_flops`` their estimated floating-point operations; ``max_abs_diff`` is
    ``max |J_forward - J_reverse|``. The sparse path seeds one sweep per colour:
    ``sparse_sweeps`` sweeps, ``sweeps_saved = forward_sweeps - sparse_sweeps``.
    """

    n_inputs: int
    n_outputs: int
    forward_sweeps: int
    reverse_sweeps: int
    forward_seconds: float
    reverse_seconds: float
    forward_ops: int
    reverse_ops: int
    forward_flops: int
    reverse_flops: int
    max_abs_diff: float
    sparse_sweeps: int | None = None
    sweeps_saved: int | None = None
    sparse_ops: int | None = None
    sparse_seconds: float | None = None
    sparse_max_abs_diff: float | None = None

    @property
    def cheaper(self) -> str:
        """The mode that ran fewer primitive calls: ``"forward"``, ``"reverse"`` or ``"tie"``."""
        if self.forward_ops == self.reverse_ops:
            return "tie"
        return "forward" if self.forward_ops < self.reverse_ops else "reverse"

    @property
    def predicted(self) -> str:
        """What docs/maths.md predicts from the sweep counts ``n`` and ``m``."""
        if self.n_inputs == self.n_outputs:
            return "either"
        return "forward" if self.n_inputs < self.n_outputs else "reverse"


def _max_abs_diff(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    return max((float(np.max(np.abs(x - y))) for x, y in zip(a, b) if x.size), default=0.0)


def _seconds(run: Callable[[], Any], repeats: int, budget: float = 0.05) -> float:
    """The best of up to ``repeats`` runs; a run longer than ``budget`` seconds is not repeated
    (noise matters for short runs only)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
        if best > budget:
            break
    return best


def compare_modes(
    f: Callable[..., Tensor], x: Any, *, sparse: bool = True, repeats: int = 5
) -> Comparison:
    """Compute the Jacobian of ``f`` at ``x`` by ``n`` forward and ``m`` reverse sweeps.

    ``x`` is one array, or a tuple of arrays passed to ``f`` as separate arguments (the
    parameters of a network), whose elements together make up the ``n`` inputs. Each mode runs
    once under :func:`autograd.counters.count`, then is timed without counters (best of
    ``repeats`` runs, short runs only). With ``sparse`` the colouring path runs too.
    """
    xs = tuple(x) if isinstance(x, tuple) else (x,)
    argnums = tuple(range(len(xs)))
    forward, reverse = jacfwd(f, argnums), jacrev(f, argnums)
    with no_grad():
        out = f(*(Tensor(a) for a in xs))
    n_inputs = int(sum(np.size(a) for a in xs))
    n_outputs = int(np.size(out.data if isinstance(out, Tensor) else out))

    with count() as counted_forward:
        j_forward = forward(*xs)
    with count() as counted_reverse:
        j_reverse = reverse(*xs)
    fields: dict[str, Any] = dict(
        n_inputs=n_inputs,
        n_outputs=n_outputs,
        forward_sweeps=counted_forward.forward_sweeps,
        reverse_sweeps=counted_reverse.reverse_sweeps,
        forward_seconds=_seconds(lambda: forward(*xs), repeats),
        reverse_seconds=_seconds(lambda: reverse(*xs), repeats),
        forward_ops=counted_forward.primitive_calls,
        reverse_ops=counted_reverse.primitive_calls,
        forward_flops=counted_forward.total_flops,
        reverse_flops=counted_reverse.total_flops,
        max_abs_diff=_max_abs_diff(j_forward, j_reverse),
    )
    if sparse:
        colouring = jacfwd(f, argnums, sparse=True)
        with count() as counted_sparse:
            j_sparse = colouring(*xs)
        fields.update(
            sparse_sweeps=counted_sparse.forward_sweeps,
            sweeps_saved=counted_forward.forward_sweeps - counted_sparse.forward_sweeps,
            sparse_ops=counted_sparse.primitive_calls,
            sparse_seconds=_seconds(lambda: colouring(*xs), repeats),
            sparse_max_abs_diff=_max_abs_diff(j_sparse, j_forward),
        )
    return Comparison(**fields)


# ---------------------------------------------------------------------------------------------
# The grid
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """A function to differentiate, the point, and what to call it in the table."""

    label: str
    f: Callable[..., Tensor]
    x: Any
    family: str  # "dense" (the crossover sweep), "sparse" or "cost"


def _frozen(array: np.ndarray) -> np.ndarray:
    """A read-only array: the engine can use it as a constant without copying it at every op."""
    array.flags.writeable = False
    return array


def dense_map(n: int, m: int, seed: int = 0) -> Problem:
    """``f(x) = tanh(W x + b)`` with a fixed random ``W`` of shape ``(m, n)``: a dense Jacobian."""
    rng = np.random.default_rng(seed)
    w, b = _frozen(rng.standard_normal((m, n)) / np.sqrt(n)), _frozen(rng.standard_normal(m))
    return Problem("tanh(W x + b)", lambda x: (w @ x + b).tanh(), rng.standard_normal(n), "dense")


def elementwise_map(n: int, seed: int = 1) -> Problem:
    """``f(x) = sigmoid(x) ⊙ x``: a diagonal Jacobian, one colour."""
    x = np.random.default_rng(seed).standard_normal(n)
    return Problem("sigmoid(x) ⊙ x", lambda x: x.sigmoid() * x, x, "sparse")


def tridiagonal_map(n: int, seed: int = 2) -> Problem:
    """``f(x) = tanh(T x)`` with a fixed tridiagonal ``T``: three colours."""
    rng = np.random.default_rng(seed)
    t = _frozen(sum(np.diag(rng.standard_normal(n - abs(k)), k) for k in (-1, 0, 1)))
    return Problem("tanh(T x), T tridiagonal", lambda x: (t @ x).tanh(), rng.standard_normal(n), "sparse")


def mlp_cost(sizes: Sequence[int], examples: int, seed: int = 0) -> Problem:
    """The softmax cross-entropy of a ReLU network on random data, as a function of its parameters.

    ``J(W1, b1, ..., WL, bL)`` with ``Z[l] = W[l] A[l-1] + b[l]``, ``A[l] = relu(Z[l])``, He
    initialisation and one-hot targets of random classes: n is the number of parameters, m = 1.
    """
    rng = np.random.default_rng(seed)
    x = _frozen(rng.standard_normal((sizes[0], examples)))
    y = _frozen(np.eye(sizes[-1])[rng.integers(0, sizes[-1], size=examples)].T.copy())
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        params += [rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in), np.zeros((n_out, 1))]

    def cost(*params: Tensor) -> Tensor:
        a = x
        for layer in range(0, len(params), 2):
            z = params[layer] @ a + params[layer + 1]
            a = z.relu() if layer + 2 < len(params) else z
        return softmax_cross_entropy(a, y)

    label = "MLP cost " + "→".join(map(str, sizes)) + f", {examples} examples"
    return Problem(label, cost, tuple(params), "cost")


GRID = [(1, 1000), (10, 1000), (30, 300), (100, 100), (300, 30), (1000, 10), (1000, 1)]
QUICK_GRID = [(1, 100), (10, 100), (30, 30), (100, 10), (100, 1)]


def problems(quick: bool = False) -> list[Problem]:
    if quick:
        return (
            [dense_map(n, m) for n, m in QUICK_GRID]
            + [elementwise_map(100), tridiagonal_map(100), mlp_cost([16, 8, 3], 20)]
        )
    return (
        [dense_map(n, m) for n, m in GRID]
        + [elementwise_map(1000), tridiagonal_map(500), mlp_cost([64, 32, 10], 128)]
    )


# ---------------------------------------------------------------------------------------------
# Table and plot
# ---------------------------------------------------------------------------------------------

COLUMNS = (
    "f", "n", "m", "forward sweeps", "reverse sweeps", "sweeps with colouring", "forward calls",
    "reverse calls", "forward s", "reverse s", "fewer calls",
    "docs/maths.md predicts", "agreement (max abs diff)",
)


def table_rows(results: Sequence[tuple[Problem, Comparison]]) -> list[list[str]]:
    rows = []
    for problem, r in results:
        rows.append([
            problem.label,
            str(r.n_inputs),
            str(r.n_outputs),
            str(r.forward_sweeps),
            str(r.reverse_sweeps),
            "" if r.sparse_sweeps is None else str(r.sparse_sweeps),
            str(r.forward_ops),
            str(r.reverse_ops),
            f"{r.forward_seconds:.4f}",
            f"{r.reverse_seconds:.4f}",
            r.cheaper,
            r.predicted,
            f"{r.max_abs_diff:.1e}",
        ])
    return rows


def markdown_table(results: Sequence[tuple[Problem, Comparison]]) -> str:
    rows = table_rows(results)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def plot(results: Sequence[tuple[Problem, Comparison]], path: Path) -> Path:
    """Sweeps, primitive calls and seconds of both modes against n/m (log scales), and the
    sweeps colouring saves on the sparse Jacobians."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dense = [(p, r) for p, r in results if p.family == "dense"]
    costs = [(p, r) for p, r in results if p.family == "cost"]
    ratio = np.array([r.n_inputs / r.n_outputs for _, r in dense])
    panels = [
        ("sweeps", lambda r: (r.forward_sweeps, r.reverse_sweeps)),
        ("primitive calls (counted)", lambda r: (r.forward_ops, r.reverse_ops)),
        ("seconds", lambda r: (r.forward_seconds, r.reverse_seconds)),
    ]
    figure, axes = plt.subplots(1, 4, figsize=(20, 4.8), gridspec_kw={"width_ratios": [1, 1, 1, 0.8]})
    for axis, (title, values) in zip(axes, panels):
        forward = np.array([values(r)[0] for _, r in dense], dtype=float)
        reverse = np.array([values(r)[1] for _, r in dense], dtype=float)
        axis.plot(ratio, forward, "o-", color="tab:blue", label="forward mode (n sweeps)")
        axis.plot(ratio, reverse, "s-", color="tab:orange", label="reverse mode (m sweeps)")
        for (_, r), y in zip(dense, np.maximum(forward, reverse)):
            axis.annotate(f"{r.n_inputs}×{r.n_outputs}", (r.n_inputs / r.n_outputs, y), fontsize=7,
                          textcoords="offset points", xytext=(0, 6), ha="center", color="0.35")
        for _, r in costs:
            x = r.n_inputs / r.n_outputs
            f_value, r_value = values(r)
            axis.plot([x], [f_value], "o", mfc="none", color="tab:blue", ms=9)
            axis.plot([x], [r_value], "s", mfc="none", color="tab:orange", ms=9)
            axis.annotate(f"MLP cost\nn={r.n_inputs}, m=1", (x, r_value), fontsize=7,
                          textcoords="offset points", xytext=(6, 10), ha="right", color="0.35")
        axis.axvline(1.0, color="0.6", ls="--", lw=1)
        axis.text(1.0, 0.02, " n = m", transform=axis.get_xaxis_transform(), fontsize=8, color="0.4")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.margins(x=0.08, y=0.15)
        axis.set_xlabel("n / m  (inputs / outputs)")
        axis.set_title(title)
        axis.grid(True, which="major", alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper left")

    coloured = [(p, r) for p, r in results if p.family != "dense" and r.sparse_sweeps is not None]
    bars = axes[3]
    positions = np.arange(len(coloured))
    bars.bar(positions - 0.2, [r.forward_sweeps for _, r in coloured], 0.4, color="tab:blue",
             label="forward, one sweep per input")
    bars.bar(positions + 0.2, [r.sparse_sweeps for _, r in coloured], 0.4, color="tab:green",
             label="forward, one sweep per colour")
    for i, (_, r) in enumerate(coloured):
        bars.annotate(str(r.sparse_sweeps), (i + 0.2, r.sparse_sweeps), ha="center", fontsize=8,
                      textcoords="offset points", xytext=(0, 3))
    bars.set_xticks(positions, [p.label.split(",")[0] for p, _ in coloured], fontsize=7)
    bars.set_yscale("log")
    bars.margins(y=0.15)
    bars.set_title("sparse Jacobians: sweeps with colouring")
    bars.legend(fontsize=8, loc="upper left")
    figure.suptitle(
        "Full Jacobian of f: Rⁿ → Rᵐ, f(x) = tanh(Wx + b): forward mode wins for n < m, reverse for n > m"
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def main(argv: Sequence[str] | None = None) -> list[tuple[Problem, Comparison]]:
    parser = argparse.ArgumentParser(
        prog="python -m autograd.compare",
        description="Forward- against reverse-mode Jacobians over a grid of (n, m): a table and a plot.",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/compare_modes.png"), help="the plot (PNG)")
    parser.add_argument("--table", type=Path, default=None, help="also write the table as Markdown here")
    parser.add_argument("--quick", action="store_true", help="a smaller grid (n, m <= 100), in seconds")
    parser.add_argument("--repeats", type=int, default=5, help="time short runs as the best of this many")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    results = []
    for problem in problems(args.quick):
        results.append((problem, compare_modes(problem.f, problem.x, repeats=args.repeats)))
    elapsed = time.perf_counter() - start
    table = markdown_table(results)
    print(table)
    print(f"\n{len(results)} Jacobians, each by both modes (and by colouring), in {elapsed:.1f} s")
    path = plot(results, args.out)
    print(f"plot: {path}")
    if args.table is not None:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        args.table.write_text(table + "\n")
    return results


if __name__ == "__main__":
    main()
