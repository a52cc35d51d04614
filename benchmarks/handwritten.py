"""The baselines: the same computations written by hand in NumPy, with the closed forms of docs/maths.md.

No engine can do less work than these, so every engine's time is reported as a ratio to them.
NumPy only (the HIPS autograd worker, in another virtualenv, imports this module too).

MLP (examples are columns): ``Z[l] = W[l] A[l-1] + b[l]``, ReLU hidden, softmax output,
``J = -(1/m) Σ Y ⊙ log softmax(Z[L])``. Backward: ``dZ[L] = (A[L] - Y)/m``,
``dW[l] = dZ[l] A[l-1]^T``, ``db[l] = Σ_axis1 dZ[l]``, ``dA[l-1] = W[l]^T dZ[l]``,
``dZ[l-1] = dA[l-1] ⊙ I(Z[l-1] > 0)``; then SGD ``W -= lr dW``.
"""

from __future__ import annotations

import numpy as np

MLP_SIZES = {
    "small": ((64, 32, 10), 32),
    "medium": ((784, 256, 256, 10), 128),
    "large": ((784, 1024, 1024, 10), 512),
}
LEARNING_RATE = 0.01


def init_mlp(sizes: tuple[int, ...], seed: int = 0, dtype=np.float32) -> list[np.ndarray]:
    """He-initialised ``[W1, b1, W2, b2, ...]``: ``W[l]`` ``(n[l], n[l-1])``, ``b[l]`` ``(n[l], 1)``."""
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        params.append((rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)).astype(dtype))
        params.append(np.zeros((n_out, 1), dtype=dtype))
    return params


def make_batch(n_in: int, n_classes: int, m: int, seed: int = 1, dtype=np.float32):
    """``X`` of shape ``(n_in, m)`` and one-hot ``Y`` of shape ``(n_classes, m)``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_in, m)).astype(dtype)
    Y = np.zeros((n_classes, m), dtype=dtype)
    Y[rng.integers(0, n_classes, m), np.arange(m)] = 1
    return X, Y


def _forward(params, X):
    """Activations ``A[0..L-1]`` and pre-activations ``Z[1..L]``."""
    activations, pre = [X], []
    A = X
    n_layers = len(params) // 2
    for l in range(n_layers):
        Z = params[2 * l] @ A + params[2 * l + 1]
        pre.append(Z)
        if l < n_layers - 1:
            A = np.maximum(Z, 0)
            activations.append(A)
    return activations, pre


def _softmax_cross_entropy(Z, Y):
    """``J`` and ``dZ = (softmax(Z) - Y)/m``, max-shifted so that large logits stay finite."""
    m = Z.shape[1]
    S = Z - Z.max(axis=0, keepdims=True)
    E = np.exp(S)
    total = E.sum(axis=0, keepdims=True)
    J = -(Y * (S - np.log(total))).sum() / m
    return J, (E / total - Y) / m


def mlp_loss(params, X, Y):
    """Forward only: the cost ``J``."""
    _, pre = _forward(params, X)
    m = X.shape[1]
    S = pre[-1] - pre[-1].max(axis=0, keepdims=True)
    return -(Y * (S - np.log(np.exp(S).sum(axis=0, keepdims=True)))).sum() / m


def mlp_grads(params, X, Y):
    """Forward and backward: ``J`` and ``[dW1, db1, dW2, db2, ...]``."""
    activations, pre = _forward(params, X)
    J, dZ = _softmax_cross_entropy(pre[-1], Y)
    n_layers = len(params) // 2
    grads = [None] * len(params)
    for l in range(n_layers - 1, -1, -1):
        grads[2 * l] = dZ @ activations[l].T
        grads[2 * l + 1] = dZ.sum(axis=1, keepdims=True)
        if l > 0:
            dZ = (params[2 * l].T @ dZ) * (pre[l - 1] > 0)
    return J, grads


def mlp_step(params, X, Y, lr=LEARNING_RATE):
    """One SGD step, in place: forward, loss, backward, ``W -= lr dW``."""
    J, grads = mlp_grads(params, X, Y)
    for p, g in zip(params, grads):
        p -= lr * g
    return J


# ---------------------------------------------------------------------------------------------
# The chain of tiny elementwise ops
# ---------------------------------------------------------------------------------------------

#: The repeating unit of the chain: y*2, y+0.25, exp(y), log(y), y-0.25, y*0.5. It maps y to
#: itself with derivative 1, so a chain of any length keeps its values and its gradient finite.
CHAIN_UNIT = ("mul 2", "add 0.25", "exp", "log", "sub 0.25", "mul 0.5")


def chain_input(dtype=np.float32) -> np.ndarray:
    return np.linspace(0.5, 1.5, 4).astype(dtype)


def chain(x, n_ops: int, exp=np.exp, log=np.log):
    """The first ``n_ops`` ops of the repeated unit, written once for every contender.

    ``x`` may be an ndarray or any engine's tensor; ``exp`` and ``log`` are that library's
    (``np.exp``, ``autograd.numpy.exp``, or ``lambda y: y.exp()`` for method-style tensors).
    """
    y = x
    for i in range(n_ops):
        k = i % 6
        if k == 0:
            y = y * 2.0
        elif k == 1:
            y = y + 0.25
        elif k == 2:
            y = exp(y)
        elif k == 3:
            y = log(y)
        elif k == 4:
            y = y - 0.25
        else:
            y = y * 0.5
    return y


def chain_grad(x: np.ndarray, n_ops: int) -> np.ndarray:
    """d/dx of ``sum(chain(x))`` by hand: a forward loop saving what each local derivative needs."""
    saved = []
    y = x
    for i in range(n_ops):
        k = i % 6
        if k == 0:
            y = y * 2.0
        elif k == 1:
            y = y + 0.25
        elif k == 2:
            y = np.exp(y)
            saved.append(y)  # d exp(y) = exp(y)
        elif k == 3:
            saved.append(y)  # d log(y) = 1/y
            y = np.log(y)
        elif k == 4:
            y = y - 0.25
        else:
            y = y * 0.5
    g = np.ones_like(y)
    for i in range(n_ops - 1, -1, -1):
        k = i % 6
        if k == 0:
            g = g * 2.0
        elif k == 2:
            g = g * saved.pop()
        elif k == 3:
            g = g / saved.pop()
        elif k == 5:
            g = g * 0.5
    return g
