"""Activations ``A = g(Z)``, from the engine's primitives.

``relu``, ``sigmoid`` and ``tanh`` are one primitive each (one node in a network's picture),
computed so that no value or gradient overflows for any finite input and small values keep their
relative precision. ``softmax`` and ``log_softmax`` are small graphs of primitives along an axis
(0 by default: examples are columns); both subtract the maximum along the axis first, a
constant (the result does not depend on it), so no exp overflows. Reverse mode and forward mode
both come from the primitive table, with no rule written here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd import Tensor
from autograd.compile import host


def as_tensor(x: Any) -> Tensor:
    """``x`` itself if it is a Tensor, else a constant Tensor holding it."""
    return x if isinstance(x, Tensor) else Tensor(x)


def sigmoid(z: Any) -> Tensor:
    """``A = 1 / (1 + exp(-Z))``; ``dZ = dA ⊙ A ⊙ (1 - A)``.

    One ``sigmoid`` node of the engine, which exponentiates only ``-|Z|`` (nothing overflows for
    any finite input) and keeps the relative precision of small values: a few ulps everywhere.
    """
    return as_tensor(z).sigmoid()


def tanh(z: Any) -> Tensor:
    """``A = tanh(Z)``; ``dZ = dA ⊙ (1 - A ⊙ A)``: one ``tanh`` node (NumPy's ``tanh``, accurate
    to about an ulp, relative precision near 0 included)."""
    return as_tensor(z).tanh()


def _sign_split(z: Tensor) -> tuple[Tensor, Tensor]:
    """The constant masks ``p = I(Z >= 0)`` and ``s = 2p - 1`` in Z's dtype.

    ``Z ⊙ s = |Z|``, with the derivative ``s`` (one-sided at 0, where ``s = +1``); using the same
    ``p`` for every piece of a formula keeps the pieces consistent at the kink. Read from the
    values through host(): a compiled step recomputes them on every call.
    """
    return host(_nonnegative, z), host(_sign, z)


def _nonnegative(values: np.ndarray) -> np.ndarray:
    return (values >= 0).astype(values.dtype)


def _sign(values: np.ndarray) -> np.ndarray:
    return np.where(values >= 0, 1, -1).astype(values.dtype)


def relu(z: Any) -> Tensor:
    """``A = max(0, Z)``; ``dZ = dA ⊙ I(Z > 0)`` (0 at the kink)."""
    return as_tensor(z).relu()


def _shifted(op: str, z: Tensor, axis: int) -> Tensor:
    """``Z - c`` with ``c`` the maximum along ``axis``, a constant: softmax does not depend on it,
    and ``exp(Z - c) <= 1`` cannot overflow while the largest entry gives ``exp(0) = 1``."""
    if z.ndim == 0:
        raise ValueError(
            f"{op}: expects logits with at least one axis, e.g. (n_classes, m); got a scalar of shape ()"
        )
    if not isinstance(axis, (int, np.integer)) or not -z.ndim <= axis < z.ndim:
        raise ValueError(f"{op}: axis {axis!r} is out of range for logits of shape {tuple(z.shape)}")
    if z.shape[axis] == 0:
        raise ValueError(f"{op}: the axis {axis} of logits of shape {tuple(z.shape)} is empty")
    # The maximum is read from the values through host(): a compiled step recomputes it per call.
    return z - host(lambda values: values.max(axis=axis, keepdims=True), z)


def softmax(z: Any, axis: int = 0) -> Tensor:
    """Softmax along ``axis`` (0: each column, the classes of one example):
    ``A = exp(Z - c) / Σ_axis exp(Z - c)``, ``c`` the maximum along the axis (a constant).

    ``dZ = A ⊙ (dA - Σ_axis (dA ⊙ A))``. For PyTorch's ``(batch, classes)`` logits pass ``axis=1``.
    """
    e = _shifted("softmax", as_tensor(z), axis).exp()
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(z: Any, axis: int = 0) -> Tensor:
    """``log softmax(Z)`` along ``axis``: ``(Z - c) - log Σ_axis exp(Z - c)``, finite for finite ``Z``.

    ``c`` is the maximum along the axis (a constant), so the sum is at least 1 and its log at least 0.
    """
    shifted = _shifted("log_softmax", as_tensor(z), axis)
    return shifted - shifted.exp().sum(axis=axis, keepdims=True).log()


#: Activations by name, for command lines and configuration files.
ACTIVATIONS = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax}
