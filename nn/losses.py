"""Costs ``J = f(A[L], Y)``: the scalar that seeds backpropagation (docs/maths.md, "Costs").

Every cost averages over ``m``, the number of columns (examples), so the ``1/m`` sits in the
seed ``dA[L]`` and every gradient downstream carries it.

The costs on probabilities take the log of ``A`` and ``1 - A``, which may be exactly 0. As in
PyTorch, each log is clamped at -100, so such a cost is finite; the clamped entries are
constants of the graph (the derivative of a clamp below its floor is 0), so the gradient is
finite too. The costs from logits never take the log of anything smaller than 1 and are exact.

Targets are validated before anything is computed: same shape as the predictions (they are
never broadcast), values in ``[0, 1]``, and for the multiclass costs columns that sum to 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd import Tensor, fused
from autograd.compile import check_values, host, recording

from .activations import _sign_split, as_tensor

#: PyTorch's floor for ``log`` in the cross-entropies: ``log 0`` counts as -100.
LOG_FLOOR = -100.0

#: How far from 1 a column of one-hot targets may sum: the rounding of a sum in the dtype
#: (sqrt of its machine epsilon), by itemsize.
_SUM_TOLERANCE = {size: float(np.sqrt(np.finfo(f"f{size}").eps)) for size in (2, 4, 8)}


def _fmt(shape: tuple) -> str:
    return str(tuple(shape))


def _check_predictions(cost: str, a: Tensor, name: str) -> int:
    """Check that predictions are floating-point ``(n_L, m)`` and return ``m``."""
    if a.dtype.kind != "f":
        raise TypeError(f"{cost}: {name} must be floating-point, got dtype {a.dtype}")
    if a.ndim != 2:
        raise ValueError(
            f"{cost}: {name} must have shape (n_L, m), one column per example; got {_fmt(a.shape)}"
        )
    if a.shape[1] == 0:
        raise ValueError(f"{cost}: {name} has shape {_fmt(a.shape)}: there are no examples (m = 0)")
    return a.shape[1]


#: The arrays of Tensor targets already found valid, by id: ``(array, tolerance)`` (the
#: tolerance of the column sums, None if they were not checked). A tensor's array is read-only
#: and replaced, never written, when its data changes, so a read-only array that is still the
#: same object holds the same values: a training loop's fixed targets are checked once, not on
#: every step. An entry keeps its array alive, so that id is not reused while it is here.
_VALID_TARGETS: dict[int, tuple] = {}
_VALID_TARGETS_MAX = 8


def _targets(cost: str, y: Any, like: Tensor, name: str, columns_sum_to_one: bool = False) -> Any:
    """Validate the targets ``Y`` against predictions ``like`` and return them ready for the graph.

    A target that is not a Tensor is data: it takes the predictions' dtype, so float64 labels
    never promote a float32 network's cost. A Tensor keeps its graph (targets may need a grad).
    """
    # A check that only raises: allowed in a compiled step, which runs it when recording.
    values = check_values(y)
    if values.shape != like.shape:
        raise ValueError(
            f"{cost}: the targets Y have shape {_fmt(values.shape)} but the {name} have shape "
            f"{_fmt(like.shape)}; they must have the same shape (targets are never broadcast)"
        )
    if values.dtype.kind not in "biuf":
        raise TypeError(f"{cost}: the targets Y have non-numeric dtype {values.dtype}")
    tolerance = _SUM_TOLERANCE[like.dtype.itemsize] if columns_sum_to_one else None
    tensor = isinstance(y, Tensor)
    if tensor:
        known = _VALID_TARGETS.get(id(values))
        if known is not None and known[0] is values and known[1] == tolerance and not values.flags.writeable:
            return y
    _check_target_values(cost, values, tolerance)
    if tensor:
        if not values.flags.writeable:  # a tensor's own array (a writeable one could change)
            if len(_VALID_TARGETS) >= _VALID_TARGETS_MAX:
                _VALID_TARGETS.clear()
            _VALID_TARGETS[id(values)] = (values, tolerance)
        return y
    return values.astype(like.dtype, copy=False)


def _check_target_values(cost: str, values: np.ndarray, tolerance: float | None) -> None:
    """Targets in ``[0, 1]``; with a ``tolerance``, columns summing to 1 within it."""
    # Two reductions and no temporaries; a NaN target fails both comparisons, so it is caught.
    # The ufuncs' reduce directly: the array methods' Python layer costs more than a small
    # reduction, and new targets (a batch) are checked on every call.
    if values.size and not (np.minimum.reduce(values, None) >= 0 and np.maximum.reduce(values, None) <= 1):
        outside = ~((values >= 0) & (values <= 1))
        bad = values[outside].flat[0].item()
        raise ValueError(
            f"{cost}: the targets Y must lie in [0, 1]; found {bad!r} (and {outside.sum()} in all)"
        )
    if tolerance is not None:
        sums = np.add.reduce(values, 0, np.float64)
        low, high = 1 - tolerance, 1 + tolerance
        if sums.size and not (np.minimum.reduce(sums, None) >= low and np.maximum.reduce(sums, None) <= high):
            wrong = np.flatnonzero(~((sums >= low) & (sums <= high)))
            raise ValueError(
                f"{cost}: each column of Y must be a one-hot (or probability) vector summing to 1; "
                f"column {wrong[0]} sums to {sums[wrong[0]]:g} ({wrong.size} such columns)"
            )


def _check_probabilities(cost: str, a: Tensor) -> None:
    """Predictions must be probabilities; NaN is let through, so that it propagates to the cost.
    (A check that only raises: a compiled step runs it when recording.)"""
    values = check_values(a)
    outside = (values < 0) | (values > 1)
    if outside.any():
        raise ValueError(
            f"{cost}: the predictions A must be probabilities in [0, 1]; found {values[outside].flat[0]!r} "
            "(for logits, use the *_with_logits / softmax_cross_entropy costs)"
        )


def clamped_log(x: Tensor) -> Tensor:
    """``max(log x, -100)`` elementwise, for floating ``x >= 0``, with no ``log 0`` ever evaluated.

    Where ``x`` is below ``exp(-100)`` (or below the dtype's smallest normal number, whose
    reciprocal, the derivative of ``log``, still fits in the dtype) the result is the constant
    ``max(log x, -100)``, with derivative 0; elsewhere it is ``log x`` with derivative ``1/x``.
    Which entries are clamped depends on the values: a compiled step finds them again on every
    call (``host``), and an eager call with nothing to clamp takes ``log x`` alone (the same
    numbers: ``x · 1 + 0`` is ``x``, and ``log x + 0`` is ``log x``).
    """
    if recording() is None and bool((check_values(x) >= _log_floor(x.dtype)).all()):
        return x.log()
    kept_mask = host(_kept_mask, x)
    # Kept entries go through log; clamped ones are replaced by 1 (log 1 = 0) and get the constant.
    safe = x * kept_mask + (1 - kept_mask)
    return safe.log() + host(_clamped_logs, x)


def _log_floor(dtype: np.dtype) -> float:
    return max(np.exp(LOG_FLOOR), float(np.finfo(dtype).tiny))


def _kept_mask(values: np.ndarray) -> np.ndarray:
    """1 where ``clamped_log`` takes the log, 0 where it is clamped (in the values' dtype)."""
    return (values >= _log_floor(values.dtype)).astype(values.dtype)


def _clamped_logs(values: np.ndarray) -> np.ndarray:
    """``max(log x, -100)`` where clamped, 0 elsewhere: log of the value pushed above 0 (log 0
    would warn), then the floor."""
    kept = values >= _log_floor(values.dtype)
    tiny = np.finfo(values.dtype).smallest_subnormal
    clamped = np.maximum(np.log(np.maximum(values, tiny)), LOG_FLOOR).astype(values.dtype)
    return np.where(kept, 0, clamped).astype(values.dtype)


def binary_cross_entropy(a: Any, y: Any) -> Tensor:
    """``J = -(1/m) Σ_all (Y ⊙ log A + (1 - Y) ⊙ log(1 - A))`` for binary and multi-label outputs.

    ``A`` is ``(n_L, m)`` of probabilities (sigmoid outputs), ``Y`` the same shape of 0/1 labels.
    ``dA[L] = (1/m) (1/(1 - A) ⊙ (1 - Y) - 1/A ⊙ Y)``; after a sigmoid, ``dZ[L] = (A - Y)/m``.
    Each log is clamped at -100 (see :func:`clamped_log`).
    """
    cost = "binary_cross_entropy"
    a = as_tensor(a)
    m = _check_predictions(cost, a, "predictions A")
    y = _targets(cost, y, a, "predictions A")
    _check_probabilities(cost, a)
    log_likelihood = y * clamped_log(a) + (1 - y) * clamped_log(1 - a)
    return log_likelihood.sum() * (-1.0 / m)


def categorical_cross_entropy(a: Any, y: Any) -> Tensor:
    """``J = -(1/m) Σ_all Y ⊙ log A`` for multiclass outputs (classes are rows).

    ``A`` is ``(n_L, m)`` of class probabilities (softmax outputs), ``Y`` one-hot columns.
    ``dA[L] = -(1/m) Y ⊙ 1/A``; after a softmax, ``dZ[L] = (A - Y)/m``. ``log A`` is clamped at
    -100 (see :func:`clamped_log`).
    """
    cost = "categorical_cross_entropy"
    a = as_tensor(a)
    m = _check_predictions(cost, a, "predictions A")
    y = _targets(cost, y, a, "predictions A", columns_sum_to_one=True)
    _check_probabilities(cost, a)
    return (y * clamped_log(a)).sum() * (-1.0 / m)


def softmax_cross_entropy(z: Any, y: Any) -> Tensor:
    """``categorical_cross_entropy(softmax(Z), Y)`` computed from the logits ``Z``, stably.

    ``J = -(1/m) Σ_all Y ⊙ log_softmax(Z)`` with ``log_softmax(Z) = (Z - c) - log Σ_axis0 exp(Z - c)``
    and ``c`` the column maximum, so no exp overflows and no log sees less than 1: logits
    ``(1000, 0, -1000)`` with target class 2 cost exactly 2000. ``dZ[L] = (softmax(Z) - Y)/m``.
    """
    cost = "softmax_cross_entropy"
    z = as_tensor(z)
    _check_predictions(cost, z, "logits Z")
    y = _targets(cost, y, z, "logits Z", columns_sum_to_one=True)
    return fused.softmax_cross_entropy(z, y)  # one node: (y * log_softmax(z)).sum() * (-1/m)


def cross_entropy(z: Any, labels: Any) -> Tensor:
    """Softmax cross-entropy from logits ``Z`` of shape ``(n_classes, m)`` and integer class
    labels of shape ``(m,)``: ``J = -(1/m) Σ_j log softmax(Z)[labels[j], j]``.

    The same value and gradient as PyTorch's ``F.cross_entropy(Z.T, labels)`` (examples are
    columns here, rows there): the one-hot targets of the labels through the fused
    :func:`softmax_cross_entropy` node, so ``dZ = (softmax(Z) - onehot(labels))/m``.
    """
    cost = "cross_entropy"
    z = as_tensor(z)
    m = _check_predictions(cost, z, "logits Z")
    labels = as_tensor(labels)
    values = check_values(labels)  # (checks that only raise: a compiled step runs them when recording)
    if values.dtype.kind not in "iu":
        raise TypeError(
            f"{cost}: labels must be integer class indices, got dtype {values.dtype} "
            "(for one-hot or probability targets, use softmax_cross_entropy)"
        )
    if values.shape != (m,):
        raise ValueError(
            f"{cost}: labels must have shape (m,) = {_fmt((m,))}, one class index per column of the "
            f"logits Z of shape {_fmt(z.shape)}; got shape {_fmt(values.shape)}"
        )
    # The one-hot targets from the labels' values, made again on every call of a compiled step
    # (host), which checks the range each time: a label of -1 would otherwise pick the last class.
    y = host(_OneHot(cost, z.shape[0], z.dtype), labels)
    return fused.softmax_cross_entropy(z, y)


class _OneHot:
    """Integer labels of shape ``(m,)`` as one-hot columns ``(n_classes, m)``, each label
    checked to be a class index."""

    def __init__(self, cost: str, n_classes: int, dtype: np.dtype) -> None:
        self.cost, self.n_classes, self.dtype = cost, n_classes, dtype

    def __call__(self, labels: np.ndarray) -> np.ndarray:
        n_classes = self.n_classes
        outside = (labels < 0) | (labels >= n_classes)
        if outside.any():
            raise ValueError(
                f"{self.cost}: labels must lie in [0, {n_classes - 1}] for logits with {n_classes} "
                f"classes; found {labels[outside][0]} ({int(outside.sum())} out of range)"
            )
        y = np.zeros((n_classes, labels.shape[0]), dtype=self.dtype)
        y[labels, np.arange(labels.shape[0])] = 1
        return y


def binary_cross_entropy_with_logits(z: Any, y: Any) -> Tensor:
    """``binary_cross_entropy(sigmoid(Z), Y)`` computed from the logits ``Z``, stably.

    Per element, ``-(y log σ(z) + (1 - y) log(1 - σ(z))) = max(z, 0) - z y + log(1 + exp(-|z|))``,
    which exponentiates only non-positive numbers. ``max(z, 0) = z ⊙ p`` and ``-|z| = -z ⊙ s`` use
    the same constant masks ``p = I(z >= 0)``, ``s = 2p - 1``, so the derivative is exactly
    ``σ(z) - y`` everywhere, the kink at 0 included: ``dZ[L] = (σ(Z) - Y)/m``.
    """
    cost = "binary_cross_entropy_with_logits"
    z = as_tensor(z)
    m = _check_predictions(cost, z, "logits Z")
    y = _targets(cost, y, z, "logits Z")
    positive, sign = _sign_split(z)  # from the values, replayed by a compiled step
    softplus = ((z * -sign).exp() + 1).log()  # log(1 + exp(-|z|)), between 0 and log 2
    return (z * (positive - y) + softplus).sum() * (1.0 / m)


#: Costs by name, for command lines and configuration files.
LOSSES = {
    "binary_cross_entropy": binary_cross_entropy,
    "categorical_cross_entropy": categorical_cross_entropy,
    "softmax_cross_entropy": softmax_cross_entropy,
    "cross_entropy": cross_entropy,
    "binary_cross_entropy_with_logits": binary_cross_entropy_with_logits,
}
