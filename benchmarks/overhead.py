"""Benchmark 2: the cost of the engine itself, on a long chain of tiny elementwise ops.

On arrays of 4 elements NumPy's own work is a fraction of a microsecond, so the time of
forward + backward through a chain of N ops, divided by N, is what the engine adds per op:
recording a node, the backward loop's bookkeeping, and the rule calls. The chain repeats
``y*2, y+0.25, exp(y), log(y), y-0.25, y*0.5`` (``handwritten.CHAIN_UNIT``), which maps ``y``
to itself, so values and gradients stay finite at any length; it ends with ``sum``.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import numpy as np

from . import handwritten as hand
from .mlp import Unavailable
from .timing import interleave, median, paired_ratio

BASELINE = "NumPy by hand"


def _engine_chain(x, n_ops):
    """The shared chain on method-style tensors (vecgrad, PyTorch)."""
    return hand.chain(x, n_ops, exp=lambda y: y.exp(), log=lambda y: y.log())


def vecgrad_chain(n_ops: int):
    from autograd import Tensor

    x = Tensor(hand.chain_input(), requires_grad=True)

    def run():
        x.grad = None
        _engine_chain(x, n_ops).sum().backward()
        return x.grad

    return run


def torch_chain(n_ops: int):
    try:
        import torch
    except ImportError:
        raise Unavailable("torch is not installed") from None
    torch.set_num_threads(1)
    x = torch.tensor(hand.chain_input(), requires_grad=True)

    def run():
        x.grad = None
        _engine_chain(x, n_ops).sum().backward()
        return x.grad.numpy()

    return run


def hand_chain(n_ops: int):
    x = hand.chain_input()
    return lambda: hand.chain_grad(x, n_ops)


def run_chain(n_ops: int, rounds: int, target_seconds: float, notes: list) -> dict:
    """Seconds for forward + backward through ``n_ops`` ops, per contender; µs per op."""
    contenders = {BASELINE: hand_chain(n_ops), "vecgrad": vecgrad_chain(n_ops)}
    try:
        contenders["PyTorch eager"] = torch_chain(n_ops)
    except Unavailable as why:
        notes.append(f"PyTorch eager skipped (chain of {n_ops:,} ops): {why}")
    expected = hand.chain_grad(hand.chain_input(np.float64), n_ops)
    for name, fn in contenders.items():
        got = np.asarray(fn(), dtype=np.float64)
        if not np.allclose(got, expected, rtol=1e-4):
            raise AssertionError(f"{name}: chain gradient {got} differs from {expected}")
    times = interleave(contenders, rounds, target_seconds, warmup=1)
    result = {
        "workload": f"chain of {n_ops:,} tiny ops, fwd+bwd",
        "n_ops": n_ops,
        "seconds": {},
        "us_per_op": {},
    }
    for name in contenders:
        result["seconds"][name] = median(times[name])
        result["us_per_op"][name] = median(times[name]) / n_ops * 1e6
    return result


def run_chain_growth(n_small: int, n_large: int, rounds: int, collector: bool = True) -> dict:
    """The per-op cost of the long chain over the short one's, measured in the same rounds.

    Each round runs the short chain ``n_large / n_small`` times and the long one once (the same
    number of ops), in turn, so a change of the machine's load hits both alike; the ratio is the
    median over rounds of ``t(long) / t(short chains)``. With ``collector=False`` Python's cycle
    collector is off while it runs (the graph holds no cycles: reference counting frees it).
    """
    repeats = max(1, n_large // n_small)
    short, long = vecgrad_chain(n_small), vecgrad_chain(n_large)

    def shorts():
        for _ in range(repeats):
            short()

    was_enabled = gc.isenabled()
    if not collector:
        gc.disable()
    try:
        times = interleave({"short": shorts, "long": long}, rounds, target_seconds=0.0, warmup=1)
    finally:
        if was_enabled:
            gc.enable()
    return {
        "workload": f"per-op cost, chain of {n_large:,} ops / chain of {n_small:,} ops (same rounds)",
        "n_small": n_small,
        "n_large": n_large,
        "ratio": paired_ratio(times, "long", "short"),
        "us_per_op": {
            f"{n_small:,} ops": median(times["short"]) / (repeats * n_small) * 1e6,
            f"{n_large:,} ops": median(times["long"]) / n_large * 1e6,
        },
    }


def run_chain_growth_fresh(n_small: int, n_large: int, rounds: int) -> dict:
    """:func:`run_chain_growth` in a fresh interpreter that imports only vecgrad and NumPy, with
    the cycle collector on (the figure of the goal) and off (what the collector costs).

    The collector's full passes traverse every container object of the process, and a long
    chain's growing graph triggers several of them: in the benchmarks' own process, which has
    also imported PyTorch and JAX (a few hundred thousand objects), each pass costs more than
    the engine's work for thousands of ops. The fresh interpreter measures the engine's growth,
    not the size of the process it shares.
    """
    command = [sys.executable, "-m", "benchmarks.overhead", "growth", str(n_small), str(n_large), str(rounds)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    on, off = json.loads(done.stdout)
    on["ratio_collector_off"] = off["ratio"]
    on["us_per_op_collector_off"] = off["us_per_op"]
    return on


if __name__ == "__main__":  # the fresh interpreter of run_chain_growth_fresh
    if sys.argv[1:2] != ["growth"]:
        raise SystemExit("usage: python -m benchmarks.overhead growth N_SMALL N_LARGE ROUNDS")
    n_small, n_large, rounds = (int(a) for a in sys.argv[2:5])
    growth = [run_chain_growth(n_small, n_large, rounds, collector) for collector in (True, False)]
    print(json.dumps(growth))
