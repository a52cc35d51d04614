"""HIPS autograd's side of the benchmarks, run inside its own virtualenv.

HIPS autograd installs a top-level package named ``autograd``, as vecgrad does, so the two
cannot share an environment. ``benchmarks.hips`` runs this script with the other environment's
Python; it times HIPS autograd against the same hand-written NumPy baseline, interleaved in
this one process, and prints the results as JSON. It imports only NumPy, HIPS autograd and the
standard-library-only helpers next to it (never vecgrad).

    python benchmarks/hips_worker.py '{"command": "mlp", "size": "small", "rounds": 15}'
"""

from __future__ import annotations

import json
import sys
import tracemalloc

import threads  # noqa: F401  (before numpy: one BLAS thread)

# isort: split
import autograd.numpy as anp
import handwritten as hand
import numpy as np
from timing import interleave, median, paired_ratio

from autograd import grad, make_vjp

NAME = "HIPS autograd"
BASELINE = "NumPy by hand"


def mlp_loss(params, X, Y):
    A = X
    n_layers = len(params) // 2
    for l in range(n_layers):
        Z = anp.dot(params[2 * l], A) + params[2 * l + 1]
        A = anp.maximum(Z, 0) if l < n_layers - 1 else Z
    S = Z - anp.max(Z, axis=0, keepdims=True)
    return -anp.sum(Y * (S - anp.log(anp.sum(anp.exp(S), axis=0, keepdims=True)))) / Z.shape[1]


mlp_grad = grad(mlp_loss)


def _setup(size):
    sizes, m = hand.MLP_SIZES[size]
    params = hand.init_mlp(sizes)
    X, Y = hand.make_batch(sizes[0], sizes[-1], m)
    return params, X, Y


def _check(params, X, Y):
    _, expected = hand.mlp_grads(params, X, Y)
    got = mlp_grad(params, X, Y)
    for e, g in zip(expected, got):
        if g.dtype != e.dtype or not np.allclose(g, e, rtol=1e-3, atol=1e-5 * np.abs(e).max()):
            raise AssertionError("HIPS autograd's gradients differ from the hand-written ones")


def mlp(size, rounds, target_seconds):
    params, X, Y = _setup(size)
    _check(params, X, Y)
    ours, theirs = [p.copy() for p in params], [p.copy() for p in params]
    lr = hand.LEARNING_RATE

    def hips_step():
        for p, g in zip(theirs, mlp_grad(theirs, X, Y)):
            p -= lr * g

    times = interleave(
        {BASELINE: lambda: hand.mlp_step(ours, X, Y, lr), NAME: hips_step}, rounds, target_seconds
    )
    return {
        "seconds": median(times[NAME]),
        "baseline_seconds": median(times[BASELINE]),
        "ratio": paired_ratio(times, NAME, BASELINE),
    }


def cheap(size, rounds, target_seconds):
    params, X, Y = _setup(size)
    times = interleave(
        {"fwd": lambda: mlp_loss(params, X, Y), "fwd+bwd": lambda: mlp_grad(params, X, Y)},
        rounds,
        target_seconds,
    )
    return {
        "forward": median(times["fwd"]),
        "forward_backward": median(times["fwd+bwd"]),
        "ratio": median([b / a for a, b in zip(times["fwd"], times["fwd+bwd"])]),
    }


def _chain(x, n_ops):
    return anp.sum(hand.chain(x, n_ops, exp=anp.exp, log=anp.log))


def chain(n_ops, rounds, target_seconds):
    x = hand.chain_input()
    chain_grad = grad(lambda x: _chain(x, n_ops))
    expected = hand.chain_grad(x.astype(np.float64), n_ops)
    if not np.allclose(chain_grad(x), expected, rtol=1e-4):
        raise AssertionError("HIPS autograd's chain gradient differs from the hand-written one")
    times = interleave(
        {BASELINE: lambda: hand.chain_grad(x, n_ops), NAME: lambda: chain_grad(x)},
        rounds,
        target_seconds,
        warmup=1,
    )
    return {"seconds": median(times[NAME]), "us_per_op": median(times[NAME]) / n_ops * 1e6}


def memory():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((2048, 2048)).astype(np.float32)
    X = rng.standard_normal((2048, 128)).astype(np.float32)
    G = rng.standard_normal((2048, 128)).astype(np.float32)
    make_vjp(lambda p: anp.dot(p[0], p[1]))((W[:8, :8], X[:8, :8]))[0](G[:8, :8])  # warm-up
    pullback, _ = make_vjp(lambda p: anp.dot(p[0], p[1]))((W, X))
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    grads = pullback(G)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert grads[0].shape == W.shape and grads[1].shape == X.shape
    return {"tracemalloc_peak": peak - before}


if __name__ == "__main__":
    request = json.loads(sys.argv[1])
    command = request.pop("command")
    from importlib import metadata

    versions = {"autograd": metadata.version("autograd"), "numpy": np.__version__}
    print(json.dumps({"result": globals()[command](**request), "versions": versions}))
