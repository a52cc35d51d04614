"""Activations ``A = g(Z)``, assembled from the engine's primitives.

Each one is a small graph of primitives, so both reverse mode (VJPs) and forward mode (JVPs)
come from the primitive table with no rule written here. The graphs of docs/maths.md overflow for large
``|Z|`` (``exp(1000) = inf``, then ``0 * inf = nan`` in sigmoid's backward), so each activation is
rearranged to exponentiate only non-positive numbers, which keeps every value and every
gradient finite for any finite input while computing the same function and the same derivative:

* the sign of ``Z`` is read from the data and enters the graph as a constant (it is piecewise
  constant, so it has no derivative to lose), which turns ``-|Z|`` into a product ``Z ⊙ (-s)``;
* softmax subtracts the column maximum, a constant (the result does not depend on it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd import Tensor
from autograd.compile import host


def as_tensor(x: Any) -> Tensor:
    """``x`` itself if it is a Tensor, else a constant Tensor holding it."""
    return x if isinstance(x, Tensor) else Tensor(x)


def _sign_split(z: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The constant masks ``p = I(Z >= 0)`` and ``s = 2p - 1`` in Z's dtype.

    ``Z ⊙ s = |Z|``, with the derivative ``s`` (one-sided at 0, where ``s = +1``); using the same
    ``p`` for every piece of a formula keeps the pieces consistent at the kink.
    """
    # Computed in NumPy from the values (host: a compiled step recomputes it on every call).
    positive = host(_nonnegative, z)
    return positive, 2 * positive - 1


def _nonnegative(values: np.ndarray) -> np.ndarray:
    return (values >= 0).astype(values.dtype)


def _column_max(values: np.ndarray) -> np.ndarray:
    return values.max(axis=0, keepdims=True)


def relu(z: Any) -> Tensor:
    """``A = max(0, Z)``; ``dZ = dA ⊙ I(Z > 0)`` (0 at the kink)."""
    return as_tensor(z).relu()


def sigmoid(z: Any) -> Tensor:
    """``A = 1 / (1 + exp(-Z))``; ``dZ = dA ⊙ A ⊙ (1 - A)``.

    Written with ``e = exp(-|Z|) ∈ (0, 1]``: ``A = 1/(1 + e)`` for ``Z >= 0`` and ``A = e/(1 + e)``
    for ``Z < 0``. Both are the same function as docs/maths.md's graph, but nothing overflows, and the
    small values of ``A`` for negative ``Z`` keep their relative precision (no ``1 - A`` rounding).
    """
    z = as_tensor(z)
    positive, sign = _sign_split(z)
    e = (z * -sign).exp()
    numerator = e * (1 - positive) + positive  # 1 where Z >= 0, e where Z < 0
    return numerator * (e + 1).reciprocal()


def tanh(z: Any) -> Tensor:
    """``A = (exp(Z) - exp(-Z)) ⊙ 1/(exp(Z) + exp(-Z))``; ``dZ = dA ⊙ (1 - A ⊙ A)``.

    Multiplying through by ``exp(-|Z|)`` gives ``A = s ⊙ (1 - e) ⊙ 1/(1 + e)`` with
    ``e = exp(-2|Z|) ∈ (0, 1]`` and ``s`` the sign of ``Z``: the same function, no overflow.
    """
    z = as_tensor(z)
    _, sign = _sign_split(z)
    e = (z * (-2 * sign)).exp()
    return (1 - e) * sign * (e + 1).reciprocal()


def softmax(z: Any) -> Tensor:
    """Softmax over each column (axis 0): ``A = exp(Z) ⊙ 1/broadcast(Σ_axis0 exp(Z))``.

    ``dZ = A ⊙ (dA - broadcast(Σ_axis0 (dA ⊙ A)))``. The column maximum ``c`` is subtracted first,
    as a constant: ``softmax(Z - c) = softmax(Z)``, and ``exp(Z - c) <= 1`` cannot overflow while
    the largest entry of each column gives ``exp(0) = 1``, so the sum is at least 1.
    """
    z = as_tensor(z)
    if z.ndim == 0:
        raise ValueError("softmax: expects logits of shape (n_classes, m); got a scalar of shape ()")
    e = (z - host(_column_max, z)).exp()
    return e * e.sum(axis=0, keepdims=True).reciprocal()


def log_softmax(z: Any) -> Tensor:
    """``log softmax(Z)`` per column: ``(Z - c) - log Σ_axis0 exp(Z - c)``, finite for finite ``Z``.

    ``c`` is the column maximum (a constant), so the sum is at least 1 and its log at least 0.
    """
    z = as_tensor(z)
    if z.ndim == 0:
        raise ValueError("log_softmax: expects logits of shape (n_classes, m); got a scalar of shape ()")
    shifted = z - host(_column_max, z)
    return shifted - shifted.exp().sum(axis=0, keepdims=True).log()


#: Activations by name, for command lines and configuration files.
ACTIVATIONS = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax}
