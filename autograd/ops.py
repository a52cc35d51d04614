"""Functions of several tensors: ``maximum``, ``minimum``, ``where``, ``concatenate``, ``stack``.

Each takes tensors, arrays or numbers (at least one operand should be a tensor for a gradient to
flow) and records one primitive of the table (``stack`` is a ``concatenate`` of reshaped
inputs). Shapes are checked here, at forward time, with messages naming every shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import primitives as P
from .tensor import Tensor, _binary, _constant, _fmt, _thread, _tracked, _wrap, apply


def maximum(x: Any, y: Any) -> Tensor:
    """``max(x, y)`` elementwise, broadcasting as NumPy; tied elements share the gradient equally."""
    return _binary(P.MAXIMUM, "maximum", *_operands("maximum", x, y))


def minimum(x: Any, y: Any) -> Tensor:
    """``min(x, y)`` elementwise, broadcasting as NumPy; tied elements share the gradient equally."""
    return _binary(P.MINIMUM, "minimum", *_operands("minimum", x, y))


def _operands(op: str, *values: Any) -> list:
    """The values as they are when one is a tensor, else the first as a constant tensor (the
    engine's functions always return tensors)."""
    if any(isinstance(v, Tensor) for v in values):
        return list(values)
    first = np.asarray(values[0])
    if first.dtype.kind not in "biuf":
        raise TypeError(f"{op}: operand of dtype {first.dtype} is not numeric")
    return [Tensor(first)] + list(values[1:])


def where(cond: Any, x: Any, y: Any) -> Tensor:
    """``x`` where ``cond`` holds, ``y`` elsewhere, all three broadcast together as ``np.where``.

    ``cond`` is a constant (a boolean array, or a tensor's values, e.g. ``t > 0``); the gradient
    of ``x`` is ``g`` where ``cond`` holds and 0 elsewhere, and the other way round for ``y``.
    """
    if isinstance(cond, Tensor):
        if _tracked(cond) and cond.dtype.kind == "f":
            raise TypeError("where: the condition must not require grad (it has no gradient)")
        cond = cond._data
    cond = np.asarray(cond)
    if cond.dtype.kind not in "biuf":
        raise TypeError(f"where: the condition has non-numeric dtype {cond.dtype}")
    if cond.dtype != np.bool_:
        cond = cond != 0
    x, y = _operands("where", x, y)
    if not isinstance(x, Tensor):
        x = _constant(x, y, y.requires_grad and _thread.s.grad_enabled)
    elif not isinstance(y, Tensor):
        y = _constant(y, x, x.requires_grad and _thread.s.grad_enabled)
    shapes = (cond.shape, x._data.shape, y._data.shape)
    try:
        shape = np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(
            f"where: the condition, x and y of shapes {_fmt(shapes[0])}, {_fmt(shapes[1])} and "
            f"{_fmt(shapes[2])} cannot be broadcast together"
        ) from None
    # As in tensor._binary: a tracked operand is broadcast by a node, so the rules see one shape.
    if x._data.shape != shape and _tracked(x):
        x = apply(P.BROADCAST_TO, (x,), (shape,))
    if y._data.shape != shape and _tracked(y):
        y = apply(P.BROADCAST_TO, (y,), (shape,))
    return apply(P.WHERE, (x, y), (cond,))


def _sequence(op: str, seq: Any) -> list[Tensor]:
    if isinstance(seq, (Tensor, np.ndarray)) or not isinstance(seq, Sequence) or not len(seq):
        raise TypeError(f"{op}: expects a non-empty sequence (list or tuple) of tensors or arrays")
    like = next((t for t in seq if isinstance(t, Tensor)), None)
    if like is None:
        like = Tensor(np.asarray(seq[0]))
    return [t if isinstance(t, Tensor) else _constant(t, like, False) for t in seq]


def _axis(op: str, axis: Any, ndim: int, shapes: list) -> int:
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{op}: axis {axis} is out of range for inputs of shapes " + ", ".join(_fmt(s) for s in shapes)
        )
    return int(axis) % ndim


def concatenate(seq: Sequence[Any], axis: int = 0) -> Tensor:
    """The tensors of ``seq`` joined along ``axis`` (which must exist); the gradient of each is
    its slice of the output's."""
    tensors = _sequence("concatenate", seq)
    shapes = [t._data.shape for t in tensors]
    ndim = len(shapes[0])
    if ndim == 0 or any(len(s) != ndim for s in shapes):
        raise ValueError(
            "concatenate: the inputs must have the same number of axes (at least one); got shapes "
            + ", ".join(_fmt(s) for s in shapes)
        )
    axis = _axis("concatenate", axis, ndim, shapes)
    if any(s[:axis] + s[axis + 1 :] != shapes[0][:axis] + shapes[0][axis + 1 :] for s in shapes):
        raise ValueError(
            f"concatenate: the inputs must have the same shape except along axis {axis}; got shapes "
            + ", ".join(_fmt(s) for s in shapes)
        )
    return apply(P.CONCATENATE, tuple(tensors), (axis,))


def stack(seq: Sequence[Any], axis: int = 0) -> Tensor:
    """The tensors of ``seq`` (all of one shape) stacked along a new ``axis``."""
    tensors = _sequence("stack", seq)
    shapes = [t._data.shape for t in tensors]
    if any(s != shapes[0] for s in shapes):
        raise ValueError(
            "stack: the inputs must all have the same shape; got shapes " + ", ".join(_fmt(s) for s in shapes)
        )
    ndim = len(shapes[0]) + 1
    axis = _axis("stack", axis, ndim, shapes)
    new_shape = shapes[0][:axis] + (1,) + shapes[0][axis:]
    parts = tuple(t.reshape(new_shape) if _tracked(t) else _wrap(t._data.reshape(new_shape)) for t in tensors)
    return apply(P.CONCATENATE, parts, (axis,))
