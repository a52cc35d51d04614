"""NumPy's functions applied to tensors: the engine's differentiable op, or a clear TypeError.

``Tensor.__array_ufunc__`` and ``Tensor.__array_function__`` (NEP 13 and NEP 18) send
``np.exp(t)``, ``array * t``, ``np.sum(t, axis=0)``, ``np.concatenate([t, u])`` and the like
here. Each supported function runs the engine's own operation, so the result is a tensor with a
gradient; anything else raises a ``TypeError`` that names the engine's equivalent, or says to use
``t.data`` for values without a gradient. NumPy never gets to loop over a tensor as an object
(``np.stack([t, u])`` would otherwise build an array of dtype object), and never silently drops
a gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import ops
from .tensor import Tensor, matmul


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


def _binary_method(method: str, reflected: str) -> Callable:
    """``x (op) y`` for a tensor on either side, through the tensor's own operator methods
    (never the other operand's, which would send an array straight back to NumPy)."""

    def run(x: Any, y: Any) -> Any:
        if isinstance(x, Tensor):
            return getattr(x, method)(y)
        return getattr(y, reflected)(x)

    return run


def _unary_method(method: str) -> Callable:
    return lambda x: getattr(_tensor(x), method)()


#: ufunc -> the engine's operation.
UFUNCS: dict[Any, Callable] = {
    np.add: _binary_method("__add__", "__radd__"),
    np.subtract: _binary_method("__sub__", "__rsub__"),
    np.multiply: _binary_method("__mul__", "__rmul__"),
    np.true_divide: _binary_method("__truediv__", "__rtruediv__"),
    np.power: _binary_method("__pow__", "__rpow__"),
    np.float_power: _binary_method("__pow__", "__rpow__"),
    np.matmul: matmul,
    np.maximum: ops.maximum,
    np.minimum: ops.minimum,
    np.less: _binary_method("__lt__", "__gt__"),
    np.less_equal: _binary_method("__le__", "__ge__"),
    np.greater: _binary_method("__gt__", "__lt__"),
    np.greater_equal: _binary_method("__ge__", "__le__"),
    np.equal: _binary_method("__eq__", "__eq__"),
    np.not_equal: _binary_method("__ne__", "__ne__"),
    np.negative: lambda x: -_tensor(x),
    np.positive: lambda x: _tensor(x),
    np.exp: _unary_method("exp"),
    np.log: _unary_method("log"),
    np.sqrt: _unary_method("sqrt"),
    np.absolute: _unary_method("abs"),
    np.tanh: _unary_method("tanh"),
    np.sin: _unary_method("sin"),
    np.cos: _unary_method("cos"),
    np.reciprocal: _unary_method("reciprocal"),
    np.square: lambda x: _tensor(x) * _tensor(x),
}

#: ufuncs with no primitive of their own, and what to write instead.
UFUNC_HINTS = {
    "expm1": "x.exp() - 1",
    "log1p": "(1 + x).log()",
    "log2": "x.log() / np.log(2)",
    "log10": "x.log() / np.log(10)",
    "exp2": "2 ** x",
    "floor_divide": "the values: (x.data // y)",
    "sign": "the values: np.sign(x.data) (the derivative of sign is 0)",
    "fmax": "autograd.maximum",
    "fmin": "autograd.minimum",
    "tan": "x.sin() / x.cos()",
}

#: ufunc methods (np.add.reduce(t), ...) and their equivalents.
METHOD_HINTS = {
    ("add", "reduce"): "t.sum(axis)",
    ("maximum", "reduce"): "t.max(axis)",
    ("minimum", "reduce"): "t.min(axis)",
}


def array_ufunc(ufunc: Any, method: str, inputs: tuple, kwargs: dict) -> Any:
    """What ``ufunc(*inputs, **kwargs)`` means for tensors (``Tensor.__array_ufunc__``)."""
    name = f"np.{ufunc.__name__}"
    if method != "__call__":
        hint = METHOD_HINTS.get((ufunc.__name__, method))
        raise TypeError(
            f"{name}.{method} is not supported on Tensors"
            + (f"; use {hint}" if hint else "; apply it to t.data for values without a gradient")
        )
    if kwargs:
        raise TypeError(
            f"{name}: the arguments {sorted(kwargs)} are not supported on Tensors (the engine never "
            "writes into an existing array, and keeps NumPy's result dtypes)"
        )
    run = UFUNCS.get(ufunc)
    if run is None:
        hint = UFUNC_HINTS.get(ufunc.__name__)
        raise TypeError(
            f"{name} has no differentiable equivalent in the engine"
            + (f"; use {hint}" if hint else "; apply it to t.data for values without a gradient")
        )
    return run(*inputs)


def _no_extra(name: str, kwargs: dict, allowed: tuple = ()) -> None:
    extra = [k for k, v in kwargs.items() if k not in allowed and v is not None and v is not np._NoValue]
    if extra:
        raise TypeError(f"np.{name}: the arguments {sorted(extra)} are not supported on Tensors")


def _reduction(method: str) -> Callable:
    def run(a, axis=None, *args, keepdims=False, **kwargs):
        if args:
            raise TypeError(f"np.{method}: only a, axis and keepdims are supported on Tensors")
        _no_extra(method, kwargs)
        return getattr(_tensor(a), method)(
            axis=axis, keepdims=bool(keepdims) if keepdims is not np._NoValue else False
        )

    return run


def _arg(method: str) -> Callable:
    def run(a, axis=None, **kwargs):
        _no_extra(method, kwargs)
        return getattr(_tensor(a), method)(axis)

    return run


def _concatenate(seq, axis=0, **kwargs):
    _no_extra("concatenate", kwargs)
    return ops.concatenate(list(seq), axis=axis)


def _stack(seq, axis=0, **kwargs):
    _no_extra("stack", kwargs)
    return ops.stack(list(seq), axis=axis)


def _where(cond, x=None, y=None):
    if x is None or y is None:
        raise TypeError(
            "np.where(cond) (the indices of True elements) is not supported on Tensors; "
            "use np.nonzero(t.data)"
        )
    return ops.where(cond, x, y)


def _transpose(a, axes=None):
    t = _tensor(a)
    return t.transpose() if axes is None else t.transpose(*axes)


def _clip(a, a_min=None, a_max=None, **kwargs):
    _no_extra("clip", kwargs, ("min", "max"))
    lo = kwargs.get("min", a_min)
    hi = kwargs.get("max", a_max)
    return _tensor(a).clip(lo, hi)


def _dot(a, b):
    a, b = _tensor(a), _tensor(b)
    if a.ndim > 2 or b.ndim > 2:
        raise TypeError("np.dot of stacks of matrices is not supported on Tensors; use np.matmul (or @)")
    return a * b if a.ndim == 0 or b.ndim == 0 else matmul(a, b)


#: NumPy function -> the engine's operation.
FUNCTIONS: dict[Any, Callable] = {
    np.sum: _reduction("sum"),
    np.mean: _reduction("mean"),
    np.max: _reduction("max"),
    np.min: _reduction("min"),
    np.amax: _reduction("max"),
    np.amin: _reduction("min"),
    np.argmax: _arg("argmax"),
    np.argmin: _arg("argmin"),
    np.concatenate: _concatenate,
    np.stack: _stack,
    np.where: _where,
    np.transpose: _transpose,
    np.reshape: lambda a, *shape, **kwargs: _tensor(a).reshape(
        *(shape or (kwargs.pop("shape", None) or kwargs.pop("newshape"),))
    ),
    np.clip: _clip,
    np.dot: _dot,
    np.shape: lambda a: _tensor(a).shape,
    np.ndim: lambda a: _tensor(a).ndim,
    np.size: lambda a, axis=None: _tensor(a).size if axis is None else _tensor(a).shape[axis],
    np.result_type: lambda *args: np.result_type(*[a.dtype if isinstance(a, Tensor) else a for a in args]),
}

#: NumPy functions with an engine equivalent under another name.
FUNCTION_HINTS = {
    "expand_dims": "t.reshape(...) with the new axis of size 1",
    "squeeze": "t.reshape(...) without the size-1 axes",
    "broadcast_to": "t.broadcast_to(shape)",
    "vstack": "autograd.concatenate (rows) or autograd.stack",
    "hstack": "autograd.concatenate",
    "abs": "abs(t)",
    "maximum": "autograd.maximum",
    "minimum": "autograd.minimum",
}


def array_function(func: Any, args: tuple, kwargs: dict) -> Any:
    """What ``func(*args, **kwargs)`` means for tensors (``Tensor.__array_function__``)."""
    run = FUNCTIONS.get(func)
    if run is None:
        hint = FUNCTION_HINTS.get(func.__name__)
        raise TypeError(
            f"np.{func.__name__} is not supported on Tensors"
            + (f"; use {hint}" if hint else "; apply it to t.data for values without a gradient")
        )
    return run(*args, **kwargs)
