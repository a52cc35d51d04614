"""``benchmarks.ab``: two checkouts of the engine loaded side by side in one process."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks import ab
from benchmarks import handwritten as hand

ROOT = Path(__file__).resolve().parents[1]


def test_each_checkout_is_an_engine_of_its_own_and_both_compute_the_same_step():
    before = ab.load_engine(ROOT, "engine_under_test_a")
    after = ab.load_engine(ROOT, "engine_under_test_b")
    assert before is not after and before.Tensor is not after.Tensor
    assert before.tensor.__name__ == "engine_under_test_a.tensor"  # its submodules, not the installed ones
    # One fused step with each engine, checked against the hand-written NumPy step.
    sizes, m = hand.MLP_SIZES["small"]
    X, Y = hand.make_batch(sizes[0], sizes[-1], m)
    expected = hand.init_mlp(sizes)
    hand.mlp_step(expected, X, Y)  # in place
    for engine in (before, after):
        params = [engine.Tensor(p, requires_grad=True) for p in hand.init_mlp(sizes)]
        ab.mlp_step(engine, "small", params)()
        for got, want in zip(params, expected):
            np.testing.assert_allclose(got.data, want, rtol=1e-5, atol=1e-6)


def test_the_comparison_pairs_rounds_of_both_engines():
    engine = ab.load_engine(ROOT, "engine_under_test_c")
    rows = ab.compare(engine, engine, rounds_scale=0.0, only=["1,000"])
    assert [row["workload"] for row in rows] == ["chain of 1,000 ops"]
    (row,) = rows
    assert row["before"] > 0 and row["after"] > 0 and 0.2 < row["ratio"] < 5
