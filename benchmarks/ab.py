"""Before and after: two checkouts of the engine timed in one process, rounds interleaved.

``python -m benchmarks.ab BEFORE AFTER`` takes two directories that each hold an ``autograd``
package (two git worktrees of this repository, say ``git worktree add ../before <commit>``),
loads each under a name of its own, and times the engine's first-order hot path with both, in
turn, round after round: the per-op cost of a chain of tiny elementwise ops (1,000 and 200,000
ops) and the fused MLP steps (``linear``, ``relu``, ``softmax_cross_entropy``, backward, then
``p.data = p.data - lr * p.grad``) at the three sizes of ``benchmarks/mlp.py``. Each figure is
the median over rounds of ``t(after) / t(before)`` measured in the same round, so a change of
the machine's load hits both alike: above 1 the change made the path slower.

This is the measurement to take before and after any change on the hot path. Only ``autograd``
is loaded from the checkouts (not ``nn``); both run on the NumPy of this interpreter.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from . import handwritten as hand
from .timing import interleave, median, paired_ratio


def load_engine(root: Path, alias: str) -> ModuleType:
    """The ``autograd`` package under ``root``, imported as ``alias`` (with its submodules)."""
    package = root / "autograd"
    spec = importlib.util.spec_from_file_location(
        alias, package / "__init__.py", submodule_search_locations=[str(package)]
    )
    if spec is None or spec.loader is None:
        raise SystemExit(f"benchmarks.ab: no autograd package in {root}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    spec.loader.exec_module(module)
    return module


def chain(ag: ModuleType, n_ops: int) -> Callable[[], None]:
    """Forward and backward through ``n_ops`` tiny ops (the repeating unit of the benchmarks)."""
    x = ag.Tensor(hand.chain_input(), requires_grad=True)

    def run() -> None:
        x.grad = None
        y = x
        for _ in range(n_ops // 6):
            y = y * 2
            y = y + 0.25
            y = y.exp()
            y = y.log()
            y = y - 0.25
            y = y * 0.5
        y.sum().backward()

    return run


def mlp_step(ag: ModuleType, size: str, params: list | None = None) -> Callable[[], None]:
    """One training step of the fused MLP, the update written out, on ``params`` (by default
    tensors of the benchmarks' initial parameters)."""
    sizes, m = hand.MLP_SIZES[size]
    if params is None:
        params = [ag.Tensor(p, requires_grad=True) for p in hand.init_mlp(sizes)]
    X, Y = hand.make_batch(sizes[0], sizes[-1], m)
    lr = hand.LEARNING_RATE

    def run() -> None:
        a = X
        n_layers = len(params) // 2
        for layer in range(n_layers):
            z = ag.linear(params[2 * layer], a, params[2 * layer + 1])
            a = z.relu() if layer < n_layers - 1 else z
        loss = ag.softmax_cross_entropy(a, Y)
        for p in params:
            p.grad = None
        loss.backward()
        for p in params:
            p.data = p.data - lr * p.grad

    return run


WORKLOADS: dict[str, tuple[Callable[[ModuleType], Callable[[], None]], int]] = {
    "chain of 1,000 ops": (lambda ag: chain(ag, 1002), 31),
    "chain of 200,000 ops": (lambda ag: chain(ag, 200_004), 7),
    "small MLP step (64-32-10, m=32)": (lambda ag: mlp_step(ag, "small"), 31),
    "medium MLP step (784-256-256-10, m=128)": (lambda ag: mlp_step(ag, "medium"), 15),
    "large MLP step": (lambda ag: mlp_step(ag, "large"), 5),
}


def compare(before: ModuleType, after: ModuleType, rounds_scale: float = 1.0, only=None) -> list[dict]:
    """Per workload: the median seconds per call of each engine and the paired ratio."""
    rows = []
    for name, (make, rounds) in WORKLOADS.items():
        if only and not any(word in name for word in only):
            continue
        times = interleave(
            {"before": make(before), "after": make(after)},
            max(3, round(rounds * rounds_scale)),
            target_seconds=0.05,
        )
        rows.append(
            {
                "workload": name,
                "before": median(times["before"]),
                "after": median(times["after"]),
                "ratio": paired_ratio(times, "after", "before"),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab", description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="a directory holding autograd/ before the change")
    parser.add_argument("after", type=Path, help="the same, after the change")
    parser.add_argument("--rounds", type=float, default=1.0, help="scale the number of rounds (default 1)")
    parser.add_argument("--only", nargs="*", help="workloads whose name contains one of these words")
    args = parser.parse_args(argv)
    before, after = load_engine(args.before, "engine_before"), load_engine(args.after, "engine_after")
    print("| workload | before | after | after / before (median of paired rounds) |")
    print("|---|---|---|---|")
    for row in compare(before, after, args.rounds, args.only):
        print(
            f"| {row['workload']} | {row['before'] * 1e3:.3f} ms | {row['after'] * 1e3:.3f} ms | "
            f"{row['ratio']:.3f} |"
        )


if __name__ == "__main__":
    main()
