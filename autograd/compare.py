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

    python -m autograd.compare [--out runs/compare_modes.png] [--table PATH] [--quick]

Second derivatives are compared the same way, route by route (:mod:`autograd.second_order`,
re-exported here): ``compare_hvp_modes(f, x, v)``, and ``python -m autograd.compare --order 2``
prints the table of the four Hessian-vector-product routes.
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
from .second_order import HvpComparison, compare_hvp_modes, hvp_markdown, hvp_table
from .state import no_grad
from .tensor import Tensor
from .timing import best_seconds


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
        forward_seconds=best_seconds(lambda: forward(*xs), repeats),
        reverse_seconds=best_seconds(lambda: reverse(*xs), repeats),
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
            sparse_seconds=best_seconds(lambda: colouring(*xs), repeats),
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


# The README's copy of the table: the columns that are the same on every run and machine (the
# engine's counts and the predictions), between two markers that --readme rewrites in place.
README_COLUMNS = COLUMNS[:8] + ("fewer calls", "docs/maths.md predicts")
README_BEGIN = "<!-- begin: table written by `python -m autograd.compare --readme README.md` -->"
README_END = "<!-- end: table written by `python -m autograd.compare --readme README.md` -->"


def readme_table(results: Sequence[tuple[Problem, Comparison]]) -> str:
    """The Markdown table of the counted columns (no timings, which change from run to run)."""
    keep = [COLUMNS.index(name) for name in README_COLUMNS]
    lines = ["| " + " | ".join(README_COLUMNS) + " |", "|" + "|".join("---" for _ in README_COLUMNS) + "|"]
    lines += ["| " + " | ".join(row[k] for k in keep) + " |" for row in table_rows(results)]
    return "\n".join(lines)


def readme_block(text: str) -> str:
    """The table between the README markers of ``text``; ValueError when they are missing."""
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin < 0 or end < begin:
        raise ValueError(f"compare: no table between the markers {README_BEGIN!r} and {README_END!r}")
    return text[begin + len(README_BEGIN) : end].strip()


def replace_readme_block(text: str, table: str) -> str:
    """``text`` with the table between the README markers replaced by ``table``."""
    old = readme_block(text)
    begin = text.find(README_BEGIN) + len(README_BEGIN)
    end = text.find(README_END)
    return text[:begin] + "\n" + table + "\n" + text[end:] if old != table else text


def plot(results: Sequence[tuple[Problem, Comparison]], path: Path) -> Path:
    """Sweeps, primitive calls and seconds of both modes against n/m (log scales), and the
    sweeps colouring saves on the sparse Jacobians: a 2 × 2 figure readable at its own size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    dense = [(p, r) for p, r in results if p.family == "dense"]
    costs = [(p, r) for p, r in results if p.family == "cost"]
    ratio = np.array([r.n_inputs / r.n_outputs for _, r in dense])
    panels = [
        ("Sweeps: n forward, m reverse", lambda r: (r.forward_sweeps, r.reverse_sweeps)),
        ("Primitive calls, counted by the engine", lambda r: (r.forward_ops, r.reverse_ops)),
        ("Seconds", lambda r: (r.forward_seconds, r.reverse_seconds)),
    ]
    with plt.rc_context({"font.size": 11, "axes.titlesize": 13, "axes.titleweight": "bold"}):
        figure, grid = plt.subplots(2, 2, figsize=(12, 9))
        axes = grid.ravel()
        for axis, (title, values) in zip(axes, panels):
            forward = np.array([values(r)[0] for _, r in dense], dtype=float)
            reverse = np.array([values(r)[1] for _, r in dense], dtype=float)
            axis.plot(ratio, forward, "o-", color="tab:blue", lw=2, ms=7, label="forward mode")
            axis.plot(ratio, reverse, "s-", color="tab:orange", lw=2, ms=7, label="reverse mode")
            for _, r in costs:
                x = r.n_inputs / r.n_outputs
                f_value, r_value = values(r)
                axis.plot([x], [f_value], "o", mfc="none", mew=2, color="tab:blue", ms=11)
                axis.plot([x], [r_value], "s", mfc="none", mew=2, color="tab:orange", ms=11)
                axis.annotate("MLP cost", (x, f_value), fontsize=10, color="0.3", textcoords="offset points",
                              xytext=(-8, 6), ha="right", va="bottom")
            axis.axvline(1.0, color="0.55", ls="--", lw=1.2)
            axis.text(1.0, 0.03, " n = m", transform=axis.get_xaxis_transform(), color="0.35")
            axis.set_xscale("log")
            axis.set_yscale("log")
            axis.margins(x=0.1, y=0.25)
            axis.set_xlabel("n / m  (inputs / outputs)")
            axis.set_title(title, loc="left")
            axis.grid(True, which="major", alpha=0.3)
        handles = [
            Line2D([], [], color="tab:blue", marker="o", lw=2, label="forward mode"),
            Line2D([], [], color="tab:orange", marker="s", lw=2, label="reverse mode"),
            Line2D([], [], color="0.3", marker="o", mfc="none", ls="none", ms=10,
                   label=", ".join(f"MLP cost: n = {r.n_inputs:,}, m = 1" for _, r in costs)),
        ]
        figure.legend(handles=handles, loc="upper center", ncol=3, frameon=False, bbox_to_anchor=(0.5, 0.955))

        coloured = [(p, r) for p, r in results if p.family != "dense" and r.sparse_sweeps is not None]
        bars = axes[3]
        positions = np.arange(len(coloured))
        bars.bar(positions - 0.2, [r.forward_sweeps for _, r in coloured], 0.4, color="tab:blue",
                 label="one per input")
        bars.bar(positions + 0.2, [r.sparse_sweeps for _, r in coloured], 0.4, color="tab:green",
                 label="one per colour")
        for i, (_, r) in enumerate(coloured):
            for dx, value in ((-0.2, r.forward_sweeps), (0.2, r.sparse_sweeps)):
                bars.annotate(f"{value:,}", (i + dx, value), ha="center", textcoords="offset points",
                              xytext=(0, 3))
        names = [p.label.split(",")[0].replace("MLP cost ", "MLP cost\n") for p, _ in coloured]
        bars.set_xticks(positions, names)
        bars.set_yscale("log")
        bars.margins(y=0.2)
        bars.set_title("Forward sweeps on sparse Jacobians", loc="left")
        bars.legend(loc="upper left", frameon=False)
        figure.suptitle(
            "Full Jacobian of tanh(W x + b), Rⁿ → Rᵐ: forward mode wins for n < m, reverse for n > m",
            fontsize=13,
        )
        figure.tight_layout(rect=(0, 0, 1, 0.93))
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=100)
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
    parser.add_argument(
        "--readme", type=Path, default=None, help="rewrite the counted table between the markers of this file"
    )
    parser.add_argument(
        "--order", type=int, choices=(1, 2), default=1,
        help="1: Jacobians by forward and reverse mode; 2: the four Hessian-vector-product routes",
    )
    args = parser.parse_args(argv)
    if args.order == 2:
        return _second_order_main(args)

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
    if args.readme is not None:
        text = args.readme.read_text(encoding="utf-8")
        args.readme.write_text(replace_readme_block(text, readme_table(results)), encoding="utf-8")
        print(f"table rewritten in {args.readme}")
    return results


def _second_order_main(args: argparse.Namespace) -> list:
    start = time.perf_counter()
    rows = hvp_table((2, 8) if args.quick else (2, 8, 32), repeats=args.repeats)
    table = hvp_markdown(rows)
    print(table)
    print(
        f"\n{len(rows)} Hessian-vector products in {time.perf_counter() - start:.1f} s. Theory: "
        "fwd-over-fwd takes n forward sweeps; the other routes a number that does not grow with n, "
        "each a small constant times a gradient (Pearlmutter)."
    )
    if args.table is not None:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        args.table.write_text(table + "\n")
    return rows


__all__ = ["Comparison", "HvpComparison", "compare_hvp_modes", "compare_modes", "main"]

if __name__ == "__main__":
    main()
