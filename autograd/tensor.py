"""``Tensor``: an n-dimensional array that records the primitives applied to it.

Every operation goes through :func:`apply`, the engine's one choke point: it computes the
output, records the node when an input requires grad, and pushes tangents forward when an input
carries one. Broadcasting is made explicit here: a tracked operand of a smaller shape goes
through a ``broadcast_to`` node, so ``add`` and ``mul`` only see equal shapes and the only
unbroadcast is ``broadcast_to``'s VJP (``primitives.sum_to``).
"""

from __future__ import annotations

from collections.abc import Sequence
from copy import deepcopy as _deepcopy
from operator import attrgetter as _attrgetter
from typing import Any

import numpy as np

from . import primitives as P
from . import state
from .backward import backward as _backward

_thread = state.thread

_ndarray = np.ndarray
_tick = state.tick
_new = object.__new__
_PYTHON_SCALARS = (int, float, bool)
_NUMERIC_KINDS = "biuf"


def _fmt(shape: tuple) -> str:
    return str(tuple(shape))


def _concretization(construct: str) -> Exception:
    from .compile import concretization

    return concretization(construct)


class Tensor:
    """An array with a gradient: ``Tensor(data, requires_grad=False)``.

    ``data`` is copied, and the tensor's array is read-only: arrays saved for backward can not
    be changed under it. Replace the data with ``t.data = new_array`` (backward through nodes
    recorded before the change then raises rather than give a wrong gradient).

    Python lists and Python numbers become float64; arrays keep their dtype. Only
    floating-point data may require grad.

    Every assignment is checked where it happens: ``t.requires_grad`` takes True or False (True
    only for floating-point data, False only on a leaf); ``t.grad`` takes None or an ndarray of
    ``t``'s shape and dtype; ``t.data`` of a tensor that requires grad takes values of its
    shape and dtype (Python numbers are converted to it).

    Pickles and copies (``copy.copy``, ``copy.deepcopy``) keep the values, the flag, ``.grad``
    and the name, and are leaves ready to be trained in the process that loads them. Pickling a
    computed tensor gives a leaf that requires grad, without the graph; deep-copying one raises
    (as in PyTorch).
    """

    # Tensors are hashable by identity (graphs key them by id), although == is elementwise.
    __hash__ = object.__hash__

    # Defaults shared by every tensor: an instance stores only what differs, which keeps the
    # creation of op outputs cheap. ``requires_grad`` and ``grad`` are properties over the
    # private ``_requires_grad`` and ``_grad``, so that every assignment is checked.
    _requires_grad: bool = False
    _grad: np.ndarray | None = None
    name: str | None = None
    _prim: P.Primitive | None = None  # the primitive that made this tensor; None for a leaf
    _parents: tuple = ()
    _static: tuple = ()  # the primitive's non-differentiable arguments (axes, shapes)
    #: forward mode: {level: tangent} (an array, or a tensor when nested transforms need the
    #: tangent's own derivatives); see :func:`_push_tangents`
    _tangents: dict | None = None
    _clock: int = 0  # the mutation clock (state.tick) read before its forward read its inputs
    _mutated_at: int = 0  # the mutation clock's value taken when .data was last replaced
    _retains_grad: bool = False
    _consumed: bool = False  # a backward pass without retain_graph went through this node
    _origin: Any = None  # where the node was created, kept in anomaly mode
    _scope: str | None = None  # the module path (e.g. "layers.0") active when it was recorded

    def __init__(
        self, data: Any, requires_grad: bool = False, *, dtype: Any = None, name: str | None = None
    ) -> None:
        requires_grad = _flag("Tensor", "requires_grad", requires_grad)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Tensor: name must be a str or None; got {name!r} ({type(name).__name__})")
        self._data = _to_array("Tensor", data, dtype, copy=True)
        self._data.flags.writeable = False
        if requires_grad:
            if self._data.dtype.kind != "f":
                raise TypeError(
                    f"Tensor: only floating-point data can require grad; got dtype {self._data.dtype}"
                )
            self._requires_grad = True
        if name is not None:
            self.name = name

    # -- data ------------------------------------------------------------------------------

    @property
    def data(self) -> np.ndarray:
        """The values, as a read-only array (copy it to modify it)."""
        if state.recordings and _thread.s.recorder is not None:
            raise _concretization(".data read")
        array = self._data
        if array.flags.writeable:
            array.flags.writeable = False
        return array

    @data.setter
    def data(self, value: Any) -> None:
        self.assign(value)

    def assign(self, value: Any, *, copy: bool = True) -> None:
        """Replace the values (``t.data = value`` is ``t.assign(value)``).

        With ``copy=False`` a NumPy array is taken as it is, without a copy, and made read-only:
        for an optimizer that has just computed the new values into a fresh array of its own.
        Either way, backward through nodes recorded before the change raises.

        A tensor that requires grad keeps its shape and dtype: integer values would truncate
        its gradients, and another shape or dtype would no longer match its ``.grad`` or an
        optimizer's moments, so they raise (cast the values, or make a new ``Tensor``).
        """
        if state.recordings and _thread.s.recorder is not None:
            raise _concretization("replacing a tensor's data (.data = ... / assign())")
        if value.__class__ is _ndarray and value.dtype.kind in _NUMERIC_KINDS:
            array = value.copy(order="K") if copy else value
        else:
            # Python numbers take the dtype of a tensor that requires grad, as they do in operations.
            python = self._requires_grad and not isinstance(value, (np.ndarray, np.generic, Tensor))
            array = _to_array("Tensor.data", value, self._data.dtype if python else None, copy=True)
        if self._requires_grad:
            data = self._data
            # ``is not`` first: NumPy's built-in dtypes are singletons, so equal dtypes are
            # nearly always the same object and the comparison of two objects is skipped.
            if (array.dtype is not data.dtype and array.dtype != data.dtype) or array.shape != data.shape:
                _check_replacement(self, array)
        array.setflags(write=False)  # (the method: a third of the cost of setting .flags.writeable)
        self._data = array
        self._mutated_at = _tick()  # after the new data is in place (see state.tick)

    # -- gradient state ----------------------------------------------------------------------

    def _set_requires_grad(self, value: Any) -> None:
        if value is not True and value is not False:
            value = _flag("Tensor.requires_grad", "the value", value)
        if value:
            if self._data.dtype.kind != "f":
                raise TypeError(
                    f"Tensor.requires_grad: only floating-point data can require grad; this tensor "
                    f"has dtype {self._data.dtype} (convert it first, e.g. "
                    "Tensor(t.data.astype(np.float64), requires_grad=True))"
                )
        elif self._prim is not None:
            raise RuntimeError(
                f"Tensor.requires_grad: only a leaf's flag can be changed; this tensor was computed "
                f"by {self._prim.name} (use t.detach() for a copy that does not require grad)"
            )
        self._requires_grad = value

    #: Whether backward accumulates a gradient for this tensor. Only floating-point tensors can
    #: require grad, and only a leaf's flag can be turned off. (The getter is a C function, so
    #: that reading the flag, which every operation does, stays cheap.)
    requires_grad = property(_attrgetter("_requires_grad"), _set_requires_grad)

    def _set_grad(self, value: Any) -> None:
        if value is not None:
            _check_grad(self, value)
        self._grad = value

    #: The accumulated gradient: None, or an ndarray of this tensor's shape and dtype.
    grad = property(_attrgetter("_grad"), _set_grad)

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def op(self) -> P.Primitive | None:
        """The primitive that produced this tensor, or None for a leaf."""
        return self._prim

    @property
    def parents(self) -> tuple[Tensor, ...]:
        """The tensors this one was computed from (empty for a leaf)."""
        return self._parents

    @property
    def static(self) -> tuple:
        """The primitive's non-differentiable arguments (an axis, a shape)."""
        return self._static

    @property
    def tangent(self) -> np.ndarray | None:
        """The forward-mode tangent carried by this tensor at the innermost active level."""
        level = _top_level(self)
        if level is None:
            return None
        t = self._tangents[level]
        return t if t.__class__ is _ndarray else t._data

    @property
    def is_leaf(self) -> bool:
        return self._prim is None

    def item(self) -> float:
        """The value of a single-element tensor, as a Python number."""
        if state.recordings and _thread.s.recorder is not None:
            raise _concretization(".item()")
        if self._data.size != 1:
            raise ValueError(
                f"item: a Tensor of shape {_fmt(self._data.shape)} has {self._data.size} elements; "
                "item() needs exactly one"
            )
        return self._data.item()

    def numpy(self) -> np.ndarray:
        """The values as a read-only array, shared with the tensor (no copy)."""
        if state.recordings and _thread.s.recorder is not None:
            raise _concretization(".numpy()")
        return self.data

    def detach(self) -> Tensor:
        """The same values as a new leaf that does not require grad."""
        return _wrap(self._data)

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="Tensor(")
        extra = ""
        if self._prim is not None:
            extra = f", op={self._prim.name}"
        elif self.requires_grad:
            extra = ", requires_grad=True"
        if self._data.dtype != np.float64:
            extra += f", dtype={self._data.dtype}"
        return f"Tensor({body}{extra})"

    def __len__(self) -> int:
        if not self._data.ndim:
            raise TypeError("len() of a 0-d Tensor (it has no first axis)")
        return len(self._data)

    def __bool__(self) -> bool:
        """The truth of a one-element tensor (NumPy's rule: ambiguous for anything larger)."""
        if state.recordings and _thread.s.recorder is not None:
            raise _concretization("bool() of a tensor (Python control flow on tensor values)")
        size = self._data.size
        if size != 1:
            raise ValueError(
                f"The truth value of a Tensor with {'no' if size == 0 else 'more than one'} element "
                f"(shape {_fmt(self._data.shape)}) is ambiguous; use t.data.any() or t.data.all()"
            )
        return bool(self._data)

    # -- copying and pickling ----------------------------------------------------------------

    def __getstate__(self) -> dict:
        """What a copy or a pickle keeps: the values, the flag, ``.grad``, the name.

        A pickle is a leaf: the graph behind a computed tensor is not carried (as in PyTorch,
        unpickling one gives a leaf that requires grad), and neither is the mutation clock, which
        counts per process: a copy starts unmodified in the process that loads it, so that it
        trains there.
        """
        if _visible_levels(self):
            raise RuntimeError(
                "Tensor: a tensor that carries a forward-mode tangent can not be copied or pickled "
                "(the tangent lives only inside its jvp computation); copy t.detach()"
            )
        return _leaf_state(self.__dict__)

    def __setstate__(self, state: dict) -> None:
        state = _leaf_state(state)
        data = state.get("_data")
        if data.__class__ is not _ndarray or data.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(f"Tensor: the pickled data is not a numeric NumPy array ({type(data).__name__})")
        data.flags.writeable = False
        self.__dict__.update(state)

    def __deepcopy__(self, memo: dict) -> Tensor:
        # As PyTorch: only leaves can be deep-copied; a copy of a computed tensor would silently
        # lose the graph that its gradient flows through.
        if self._prim is not None:
            raise RuntimeError(
                f"Tensor: only leaf tensors can be deep-copied; this one was computed by "
                f"{self._prim.name} (deep-copy t.detach(), or pickle it to get a leaf)"
            )
        copy = _new(type(self))
        memo[id(self)] = copy
        copy.__setstate__(_deepcopy(self.__getstate__(), memo))
        return copy

    # -- reverse mode ----------------------------------------------------------------------

    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulate the gradient of this tensor into the ``.grad`` of every leaf.

        ``grad`` (the seed, of this tensor's shape) may be omitted only for a single-element
        output. Backward frees nothing, but marks the graph used: a second backward through it
        raises unless this one passed ``retain_graph=True``.
        """
        _backward(self, grad, retain_graph)

    def retain_grad(self) -> Tensor:
        """Keep this non-leaf tensor's gradient in ``.grad`` during backward."""
        self._retains_grad = True
        return self

    def zero_grad(self) -> None:
        self.grad = None

    @property
    def scope(self) -> str | None:
        """The module path (``"layers.0"``) that was active when this node was recorded."""
        return self._scope

    def draw(self, **options: Any):
        """The computation graph that produced this tensor, as a ``graphviz.Digraph``."""
        from .viz import draw

        return draw(self, **options)

    # -- primitives --------------------------------------------------------------------------

    def exp(self) -> Tensor:
        return apply(P.EXP, (self,))

    def log(self) -> Tensor:
        return apply(P.LOG, (self,))

    def reciprocal(self) -> Tensor:
        return apply(P.RECIPROCAL, (self,))

    def relu(self) -> Tensor:
        return apply(P.RELU, (self,))

    def abs(self) -> Tensor:
        """``|x|``; the derivative is ``sign(x)``, 0 at 0."""
        return apply(P.ABS, (self,))

    __abs__ = abs

    def sqrt(self) -> Tensor:
        return apply(P.SQRT, (self,))

    def tanh(self) -> Tensor:
        return apply(P.TANH, (self,))

    def sigmoid(self) -> Tensor:
        """``1 / (1 + exp(-x))``, computed without overflow for any finite ``x``."""
        return apply(P.SIGMOID, (self,))

    def sin(self) -> Tensor:
        return apply(P.SIN, (self,))

    def cos(self) -> Tensor:
        return apply(P.COS, (self,))

    def clip(self, lo: Any = None, hi: Any = None) -> Tensor:
        """``min(max(x, lo), hi)`` with constant bounds (None: unbounded); the gradient passes
        where ``lo <= x <= hi``. For bounds that need a gradient, use ``maximum``/``minimum``."""
        return apply(P.CLIP, (self,), (_bound("clip", "lo", lo), _bound("clip", "hi", hi)))

    def max(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        """The maximum over ``axis`` (all axes when None); tied maxima share the gradient equally."""
        return _extremum(P.MAX, self, axis, keepdims)

    def min(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        """The minimum over ``axis`` (all axes when None); tied minima share the gradient equally."""
        return _extremum(P.MIN, self, axis, keepdims)

    def argmax(self, axis: int | None = None) -> np.ndarray:
        """The index of the maximum (of the flattened tensor when ``axis`` is None): an ndarray."""
        return np.argmax(self._data, axis=_single_axis("argmax", axis, self._data.shape))

    def argmin(self, axis: int | None = None) -> np.ndarray:
        """The index of the minimum (of the flattened tensor when ``axis`` is None): an ndarray."""
        return np.argmin(self._data, axis=_single_axis("argmin", axis, self._data.shape))

    def __getitem__(self, index: Any) -> Tensor:
        """``x[index]`` with NumPy's indexing: ints, slices, None, Ellipsis, integer arrays and
        boolean masks. The gradient scatters back, adding where an index repeats."""
        index = _index(index)
        try:
            return apply(P.GETITEM, (self,), (index,))
        except IndexError as error:
            shape = _fmt(self._data.shape)
            raise IndexError(f"getitem: {error} (indexing a tensor of shape {shape})") from None

    # -- comparisons: elementwise, not differentiable ------------------------------------------

    def __lt__(self, other: Any) -> Tensor:
        return _compare(np.less, "<", self, other)

    def __le__(self, other: Any) -> Tensor:
        return _compare(np.less_equal, "<=", self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _compare(np.greater, ">", self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _compare(np.greater_equal, ">=", self, other)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _compare(np.equal, "==", self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _compare(np.not_equal, "!=", self, other)

    # -- NumPy functions on tensors --------------------------------------------------------------

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """``np.exp(t)``, ``array * t``...: the engine's differentiable op, or a TypeError."""
        from .numpy_functions import array_ufunc

        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
        """``np.sum(t, axis=0)``, ``np.concatenate([t, u])``...: the engine's op, or a TypeError."""
        from .numpy_functions import array_function

        return array_function(func, args, kwargs)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """The values, for a tensor that carries no derivative; a tracked tensor refuses, since
        NumPy would silently drop its gradient (use ``t.data`` to take the values on purpose)."""
        if _tracked(self):
            raise TypeError(
                "Tensor: converting a tensor that requires grad to a NumPy array would silently "
                "detach it from the graph; use t.data (or t.detach().numpy()) for its values, or "
                "the engine's own operation"
            )
        array = self._data
        if dtype is not None and array.dtype != dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    def __neg__(self) -> Tensor:
        return apply(P.NEG, (self,))

    def __pos__(self) -> Tensor:
        return self

    def __add__(self, other: Any) -> Tensor:
        return _binary(P.ADD, "add", self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _binary(P.ADD, "add", other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _binary(P.MUL, "mul", self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _binary(P.MUL, "mul", other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return matmul(other, self)

    def broadcast_to(self, *shape: int | Sequence[int]) -> Tensor:
        """Replicate along new leading axes and size-1 axes up to ``shape``."""
        shape = _shape_argument("broadcast_to", shape)
        if shape == self._data.shape:
            return self
        try:
            ok = np.broadcast_shapes(self._data.shape, shape) == shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(
                f"broadcast_to: cannot broadcast shape {_fmt(self._data.shape)} to {_fmt(shape)}"
            )
        return apply(P.BROADCAST_TO, (self,), (shape,))

    def sum(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis`` (all axes when None)."""
        axes = _normalize_axes("sum", axis, self._data.shape)
        return apply(P.SUM, (self,), (axes, _flag("sum", "keepdims", keepdims)))

    def transpose(self, *axes: int | Sequence[int]) -> Tensor:
        """Permute the axes (reverse them when none are given)."""
        ndim = self._data.ndim
        axes = _shape_argument("transpose", axes, "axes") if axes else tuple(range(ndim - 1, -1, -1))
        normalized = tuple(a + ndim if -ndim <= a < 0 else a for a in axes)
        if sorted(normalized) != list(range(ndim)):
            raise ValueError(
                f"transpose: axes {_fmt(axes)} are not a permutation of the axes of a tensor of "
                f"shape {_fmt(self._data.shape)}"
            )
        return apply(P.TRANSPOSE, (self,), (normalized,))

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        """The same elements in ``shape`` (one entry may be -1)."""
        shape = _resolve_reshape(self._data.shape, _shape_argument("reshape", shape))
        return apply(P.RESHAPE, (self,), (shape,))

    # -- composed from the primitives ----------------------------------------------------------

    def __sub__(self, other: Any) -> Tensor:
        # x - y = x + (-y); a constant y is negated outside the graph (exactly, for a number).
        if type(other) in (int, float):
            return _binary(P.ADD, "sub", self, _constant(-other, self))
        if _is_constant(other):
            if _thread.s.recorder is not None and isinstance(other, Tensor):
                return _binary(P.ADD, "sub", self, apply(P.NEG, (other,)))  # seen by the recording
            return _binary(P.ADD, "sub", self, _negated(_constant(other, self, False), self))
        return _binary(P.ADD, "sub", self, -other)

    def __rsub__(self, other: Any) -> Tensor:
        # other - self = (-self) + other
        return _binary(P.ADD, "sub", other, _negated(self, other))

    def __truediv__(self, other: Any) -> Tensor:
        """``x / y``: NumPy's true division (``np.divide``'s values and result dtypes)."""
        return _binary(P.DIVIDE, "truediv", self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _binary(P.DIVIDE, "truediv", other, self)

    def __pow__(self, exponent: Any) -> Tensor:
        """``x ** y`` with NumPy's values (``np.power``) for scalar, array or tensor ``y``."""
        return _binary(P.POWER, "pow", self, exponent)

    def __rpow__(self, base: Any) -> Tensor:
        return _binary(P.POWER, "pow", base, self)

    def mean(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        """The sum over ``axis`` times 1/count (NaN for an empty reduction, as NumPy)."""
        _normalize_axes("mean", axis, self._data.shape)  # so that errors name mean, not sum
        _flag("mean", "keepdims", keepdims)
        total = self.sum(axis, keepdims)
        count = self._data.size // max(total._data.size, 1) if self._data.size else 0
        return total * (1.0 / count if count else np.nan)


# ---------------------------------------------------------------------------------------------
# The choke point
# ---------------------------------------------------------------------------------------------


def apply(prim: P.Primitive, inputs: tuple, static: tuple = ()) -> Tensor:
    """Apply ``prim`` to ``inputs``: compute the output, record the node, push tangents.

    Every operation of the engine goes through here, which makes it the one place that knows
    about graph recording, forward-mode tangents and the observers (counters, anomaly mode).
    """
    # One or two inputs are the common cases: no list is built for them.
    n_inputs = len(inputs)
    if n_inputs == 1:
        x = inputs[0]
        record = x._requires_grad
        tangents = x._tangents is not None
    elif n_inputs == 2:
        x, y = inputs
        record = x._requires_grad or y._requires_grad
        tangents = x._tangents is not None or y._tangents is not None
    elif n_inputs == 3:  # linear: written out, a comprehension is a call of its own
        x, y, z = inputs
        record = x._requires_grad or y._requires_grad or z._requires_grad
        tangents = x._tangents is not None or y._tangents is not None or z._tangents is not None
    else:
        record = tangents = False
        for t in inputs:
            if t._requires_grad:
                record = True
            if t._tangents is not None:
                tangents = True
    local = _thread.s
    if record:
        record = local.grad_enabled or local.taping
        # Read before the forward reads the inputs: a replacement of their data from now on
        # advances the clock past it, which backward sees (state.tick).
        clock = state.mutation_clock
    if n_inputs == 1:
        ans = prim.forward(x._data, *static) if static else prim.forward(x._data)
    elif n_inputs == 2:
        ans = prim.forward(x._data, y._data, *static) if static else prim.forward(x._data, y._data)
    elif n_inputs == 3:
        ans = prim.forward(x._data, y._data, z._data, *static)
    else:
        ans = prim.forward(*[t._data for t in inputs], *static)
    if ans.__class__ is not _ndarray:
        if ans.__class__ is tuple:
            # A fused forward that also returns what its rules reuse (softmax cross-entropy's
            # softmax): kept with the node, as an extra static argument of its rules.
            ans, residual = ans
            static = (*static, residual)
        ans = np.asarray(ans)  # ufuncs return NumPy scalars for 0-d inputs
    out = _new(Tensor)
    out._data = ans
    if record:
        out._requires_grad = True
        out._prim = prim
        out._parents = inputs
        if static:
            out._static = static
        out._clock = clock
        # Stored now although it is the class default: CPython keeps an instance's attributes
        # inline only if they are set while it is young, and backward sets this one later.
        out._consumed = False
        if local.scope is not None:
            out._scope = local.scope
    if tangents:
        _push_tangents(prim, inputs, static, out)
    if local.observed:
        if local.recorder is not None:  # the first call of a compiled function (autograd.compile)
            local.recorder.on_apply(prim, inputs, static, out)
        for observer in local.observers:
            observer.on_apply(prim, inputs, out)
    return out


def _as_dtype(array, dtype) -> np.ndarray:
    array = np.asarray(array)
    return array if array.dtype == dtype else array.astype(dtype)


# ---------------------------------------------------------------------------------------------
# Forward mode: tangents by level
# ---------------------------------------------------------------------------------------------


def _visible_levels(t: Tensor) -> list:
    """The levels of ``t``'s tangents that are active and not hidden by a rule's cap."""
    tangents = t._tangents
    if not tangents:
        return []
    local = _thread.s
    cap, active = local.cap, local.levels
    return [level for level in tangents if level <= cap and level in active]


def _top_level(t: Tensor) -> int | None:
    levels = _visible_levels(t)
    return max(levels) if levels else None


def _push_tangents(prim: P.Primitive, inputs: tuple, static: tuple, out: Tensor) -> None:
    """Give ``out`` its tangents: ``ans_dot = J x_dot`` by ``prim``'s JVP rule, per level.

    Each nested forward transform has a level of its own (``state.new_level``), and a tensor
    holds one tangent per level: the dual number ``x + ẋ₁ε₁ + ẋ₂ε₂ + ẍε₁ε₂`` is the tensor with
    tangent ``ẋ₁`` at level 1 and tangent ``ẋ₂`` at level 2, the latter itself a tensor carrying
    ``ẍ`` at level 1. The rule of level L runs with the levels from L up hidden (``capped``), on
    tensors, so its own operations carry the lower levels' tangents: the cross terms come out
    right and perturbations of different levels never mix (Siskind and Pearlmutter's
    confusion). The rule records for reverse mode only when an enclosing reverse transform
    differentiates the tangents (reverse over forward). The lowest level, with array tangents
    and nothing to record, runs the rule on arrays: first-order forward mode and forward over
    reverse take this path.
    """
    levels: set = set()
    for t in inputs:
        if t._tangents is not None:
            levels.update(_visible_levels(t))
    if not levels:
        return
    recorded = _thread.s.recorded_levels
    tangents: dict = {}
    lowest = True
    for level in sorted(levels):
        dots = [None if t._tangents is None else t._tangents.get(level) for t in inputs]
        record = level in recorded
        if lowest and not record and all(d is None or d.__class__ is _ndarray for d in dots):
            ans = out._data
            dot = prim.jvp(dots, ans, *[t._data for t in inputs], *static)
            if dot is not None:
                tangents[level] = _as_dtype(dot, ans.dtype)
        else:
            dots = [d if d is None or isinstance(d, Tensor) else _wrap(d) for d in dots]
            out._tangents = tangents  # the lower levels, which the rule's operations carry
            with state.capped(level - 1), state.set_grad_enabled(record and _thread.s.grad_enabled):
                dot = prim.jvp(dots, out, *inputs, *static)
            if dot is not None:
                tangents[level] = dot if isinstance(dot, Tensor) else _wrap(np.asarray(dot))
        lowest = False
    out._tangents = tangents or None


# ---------------------------------------------------------------------------------------------
# Operands, shapes and axes
# ---------------------------------------------------------------------------------------------


def _to_array(op: str, data: Any, dtype: Any, copy: bool) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data._data
    if dtype is not None:
        dtype = _numeric_dtype(op, dtype)
    python_data = not isinstance(data, (np.ndarray, np.generic))
    try:
        array = np.array(data, dtype=dtype, copy=True if copy else None)
    except (ValueError, TypeError, OverflowError) as error:
        raise TypeError(f"{op}: data is not a numeric array ({error})") from None
    if python_data and dtype is None and array.dtype == object and all(type(v) is int for v in array.flat):
        # Python ints beyond 64 bits: Python numbers become float64 anyway.
        try:
            array = array.astype(np.float64)
        except OverflowError:
            raise OverflowError(f"{op}: a Python integer in data is too large even for float64") from None
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"{op}: data of dtype {array.dtype} is not numeric")
    if python_data and dtype is None and array.dtype.kind != "f":
        array = array.astype(np.float64)  # Python lists and ints become float64
    return array


def _numeric_dtype(op: str, dtype: Any) -> np.dtype:
    try:
        dtype = np.dtype(dtype)
    except TypeError as error:
        raise TypeError(f"{op}: dtype {dtype!r} is not a NumPy dtype ({error})") from None
    if dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"{op}: dtype {dtype} is not numeric (bool, integer or floating-point)")
    return dtype


def _is_constant(value: Any) -> bool:
    """Whether ``value`` carries no derivative: not a tensor, or one that is not tracked."""
    return not isinstance(value, Tensor) or not _tracked(value)


def _tracked(t: Tensor) -> bool:
    return (t._requires_grad and _thread.s.grad_enabled) or t._tangents is not None


def _constant(value: Any, like: Tensor, saved: bool = True) -> Tensor:
    """A non-Tensor operand as a constant tensor (no gradient, never recorded).

    A Python number takes ``like``'s floating dtype, so it never upcasts float32; an integer or
    boolean array takes it too (the float category wins, as in PyTorch); float arrays keep
    their dtype and promote as NumPy does. When the constant will be ``saved`` for backward
    (``mul`` keeps ``y`` for ``dx = g * y``), the caller's array is copied, so a later write
    cannot change the gradient.
    """
    if isinstance(value, Tensor):
        return value
    like_dtype = like._data.dtype
    if type(value) in _PYTHON_SCALARS:
        return _scalar(value, like_dtype if like_dtype.kind == "f" else None)
    else:
        array = _to_array("operand", value, None, copy=False)
        if like_dtype.kind == "f" and array.dtype.kind != "f":
            array = array.astype(like_dtype)
        elif saved and (array is value or array.base is not None):
            # The caller's own array: even a read-only one can be made writable again by its
            # owner (or show writes to a writable base), so the saved values are a copy.
            array = array.copy()
    return _wrap(array)


#: Constant tensors of Python numbers by (type, value, dtype), so that ``y * 0.5`` in a loop
#: reuses one read-only 0-d array instead of making a tensor (and an object for the cycle
#: collector to scan) per operation. Zeros (whose sign matters: 1/-0.0) and NaN (unequal to
#: itself) are not cached, and an entry whose data was replaced is made anew.
_SCALARS: dict = {}
_SCALARS_MAX = 256


def _scalar(value: int | float | bool, dtype: Any) -> Tensor:
    key = (value.__class__, value, dtype)
    constant = _SCALARS.get(key)
    if constant is None or constant._mutated_at:
        array = np.array(value, dtype=dtype)
        if array.dtype == object:  # a Python int beyond int64, beside an integer tensor
            raise OverflowError(
                f"Python integer {value} is out of bounds for int64, the dtype an integer operand "
                "of an integer tensor takes (as in NumPy 2); convert the tensor to float first"
            )
        array.flags.writeable = False
        constant = _wrap(array)
        if value and value == value:
            if len(_SCALARS) >= _SCALARS_MAX:
                _SCALARS.clear()
            _SCALARS[key] = constant
    return constant


def _wrap(array: Any) -> Tensor:
    """A tensor around ``array`` as it is: no copy, no validation, no graph."""
    out = _new(Tensor)
    out._data = array if array.__class__ is _ndarray else np.asarray(array)
    return out


# The primitive table's rules run on tensors through these (see ``primitives.lift``).
P.Tensor, P._apply, P._wrap = Tensor, apply, _wrap


# ---------------------------------------------------------------------------------------------
# Checks of the state a user assigns, and the state a copy keeps
# ---------------------------------------------------------------------------------------------


def _flag(op: str, name: str, value: Any) -> bool:
    """``value`` as a bool, if it is one (a truthy string or None is a mistake, not a flag)."""
    if value is True or value is False or isinstance(value, np.bool_):
        return bool(value)
    raise TypeError(f"{op}: {name} must be True or False; got {value!r} ({type(value).__name__})")


def _check_grad(t: Tensor, grad: Any) -> None:
    """A gradient assigned to ``t.grad`` has ``t``'s shape and dtype, as backward makes it."""
    if not isinstance(grad, np.ndarray):
        hint = " (use its .data)" if isinstance(grad, Tensor) else ""
        raise TypeError(
            f"Tensor.grad: a gradient must be a NumPy array or None; got {type(grad).__name__}{hint}"
        )
    if grad.shape != t._data.shape:
        raise ValueError(
            f"Tensor.grad: a gradient of shape {_fmt(grad.shape)} can not be assigned to a tensor "
            f"of shape {_fmt(t._data.shape)}"
        )
    if grad.dtype != t._data.dtype:
        raise TypeError(
            f"Tensor.grad: a gradient of dtype {grad.dtype} can not be assigned to a tensor of "
            f"dtype {t._data.dtype} (cast it with .astype(np.{t._data.dtype}))"
        )


def _check_replacement(t: Tensor, array: np.ndarray) -> None:
    """New data for a tensor that requires grad: of the same floating dtype and shape."""
    if array.dtype.kind != "f":
        raise TypeError(
            f"Tensor.data: data of dtype {array.dtype} can not replace the data of a tensor that "
            f"requires grad (dtype {t._data.dtype}): only floating-point data can require grad, and "
            f"integer values would truncate its gradients; cast it first, e.g. "
            f"value.astype(np.{t._data.dtype})"
        )
    if array.dtype != t._data.dtype:
        raise TypeError(
            f"Tensor.data: data of dtype {array.dtype} can not replace the data of dtype "
            f"{t._data.dtype} of a tensor that requires grad (its .grad and an optimizer's state "
            f"keep the old dtype); cast it first, e.g. value.astype(np.{t._data.dtype})"
        )
    if array.shape != t._data.shape:
        raise ValueError(
            f"Tensor.data: data of shape {_fmt(array.shape)} can not replace the data of shape "
            f"{_fmt(t._data.shape)} of a tensor that requires grad (its .grad and an optimizer's "
            "state keep the old shape); make a new Tensor instead"
        )


#: What a copy of a tensor leaves out: the graph, forward-mode state, and the mutation clock,
#: which counts per process (a copy is unmodified where it is loaded).
_NOT_COPIED = frozenset(
    (
        "_prim",
        "_parents",
        "_static",
        "_tangents",
        "_tangent",  # pickles written before tangents were kept per level
        "_clock",
        "_mutated_at",
        "_retains_grad",
        "_consumed",
        "_origin",
        "_scope",
    )
)


def _leaf_state(state: dict) -> dict:
    kept = {key: value for key, value in state.items() if key not in _NOT_COPIED}
    # Pickles written when the flag and the gradient were plain attributes.
    for old, new in (("requires_grad", "_requires_grad"), ("grad", "_grad")):
        if old in kept:
            kept[new] = kept.pop(old)
    return kept


def _negated(y: Tensor, x: Any) -> Tensor:
    """``-y`` for ``x - y = x + (-y)``.

    An unsigned or boolean ``y`` is first cast to the dtype of the subtraction (NumPy's
    promotion of ``x`` and ``y``): ``-uint8(1)`` wraps around to 255, so ``4.0 - uint8(1)`` would
    be 259. Such a ``y`` never requires grad, so no graph is lost.
    """
    if y._data.dtype.kind not in "ub":
        return -y
    if not isinstance(x, Tensor):
        x = _constant(x, y, False)
    dtype = np.result_type(x._data, y._data)
    return _wrap(np.negative(y._data.astype(dtype)))


def _broadcast_shape(op: str, x_shape: tuple, y_shape: tuple) -> tuple:
    """NumPy's broadcast of two shapes, written out: ``np.broadcast_shapes`` builds an iterator
    and costs several times a small elementwise operation."""
    lead = len(x_shape) - len(y_shape)
    if lead < 0:
        x_full, y_full = (1,) * -lead + tuple(x_shape), tuple(y_shape)
    else:
        x_full, y_full = tuple(x_shape), (1,) * lead + tuple(y_shape)
    shape = []
    for n, k in zip(x_full, y_full):
        if n == k or k == 1:
            shape.append(n)
        elif n == 1:
            shape.append(k)
        else:
            raise ValueError(
                f"{op}: operands of shapes {_fmt(x_shape)} and {_fmt(y_shape)} cannot be broadcast together"
            )
    return tuple(shape)


def _binary(prim: P.Primitive, op: str, x: Any, y: Any) -> Tensor:
    """Apply an elementwise binary primitive after making broadcasting explicit."""
    # add's VJP never reads its operands, so only mul saves a constant for backward.
    if not isinstance(x, Tensor):
        x = _constant(x, y, prim is not P.ADD and y._requires_grad and _thread.s.grad_enabled)
    elif not isinstance(y, Tensor):
        if y.__class__ in _PYTHON_SCALARS:  # the common constant: straight to the shared one
            dtype = x._data.dtype
            y = _scalar(y, dtype if dtype.kind == "f" else None)
        else:
            y = _constant(y, x, prim is not P.ADD and x._requires_grad and _thread.s.grad_enabled)
    x_shape, y_shape = x._data.shape, y._data.shape
    if x_shape != y_shape:
        # A 0-d operand (a Python number) broadcasts to anything: skip np.broadcast_shapes,
        # which costs more than the operation itself on small arrays.
        if not y_shape:
            shape = x_shape
        elif not x_shape:
            shape = y_shape
        else:
            shape = _broadcast_shape(op, x_shape, y_shape)
        # A constant needs no node: NumPy broadcasts it, and it never receives a gradient.
        if x_shape != shape and _tracked(x):
            x = apply(P.BROADCAST_TO, (x,), (shape,))
        if y_shape != shape and (y._tangents is not None or (y._requires_grad and _thread.s.grad_enabled)):
            y = apply(P.BROADCAST_TO, (y,), (shape,))
    return apply(prim, (x, y))


def matmul(x: Any, y: Any) -> Tensor:
    """``x @ y`` with NumPy's semantics: matrices, vectors, and stacks of matrices whose leading
    axes broadcast (the gradient sums over the batch axes that broadcasting added)."""
    if not isinstance(x, Tensor):
        x = _constant(x, y, y._requires_grad and _thread.s.grad_enabled)
    elif not isinstance(y, Tensor):
        y = _constant(y, x, x._requires_grad and _thread.s.grad_enabled)
    x_shape, y_shape = x._data.shape, y._data.shape
    if not x_shape or not y_shape:
        raise ValueError(
            f"matmul: operands must have at least one axis (use * for scalars); got shapes "
            f"{_fmt(x_shape)} and {_fmt(y_shape)}"
        )
    k_y = y_shape[0] if len(y_shape) == 1 else y_shape[-2]
    if x_shape[-1] != k_y:
        which = "first axis" if len(y_shape) <= 2 else "second-to-last axis"
        raise ValueError(
            f"matmul: shapes {_fmt(x_shape)} and {_fmt(y_shape)} are not aligned: "
            f"{x_shape[-1]} (last axis of the first) != {k_y} ({which} of the second)"
        )
    if len(x_shape) > 2 or len(y_shape) > 2:
        try:
            _broadcast_shape("matmul", x_shape[:-2], y_shape[:-2])
        except ValueError:
            raise ValueError(
                f"matmul: the batch axes of shapes {_fmt(x_shape)} and {_fmt(y_shape)} cannot be "
                "broadcast together"
            ) from None
    return apply(P.MATMUL, (x, y))


def _extremum(prim: P.Primitive, x: Tensor, axis: Any, keepdims: bool) -> Tensor:
    shape = x._data.shape
    axes = _normalize_axes(prim.name, axis, shape)
    reduced = range(len(shape)) if axes is None else axes
    if any(shape[a] == 0 for a in reduced):
        raise ValueError(
            f"{prim.name}: cannot reduce a tensor of shape {_fmt(shape)} over an empty axis "
            f"(axis {'None' if axis is None else axis}): the {prim.name} of no elements is undefined"
        )
    return apply(prim, (x,), (axes, bool(keepdims)))


def _single_axis(op: str, axis: Any, shape: tuple) -> int | None:
    if axis is None:
        if not int(np.prod(shape)):
            raise ValueError(f"{op}: a tensor of shape {_fmt(shape)} has no elements")
        return None
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be an int or None, got {axis!r}")
    (a,) = _normalize_axes(op, axis, shape)
    if shape[a] == 0:
        raise ValueError(f"{op}: axis {axis} of a tensor of shape {_fmt(shape)} is empty")
    return a


def _bound(op: str, name: str, value: Any) -> Any:
    """A constant bound of clip: None, a number or an array (a tracked tensor is refused: its
    gradient would be silently dropped)."""
    if value is None:
        return None
    if isinstance(value, Tensor):
        if _tracked(value):
            raise TypeError(
                f"{op}: the bound {name} is a tensor that requires grad; clip's bounds are "
                "constants, so use autograd.maximum/minimum for a bound that needs a gradient"
            )
        value = value._data
    array = np.asarray(value)
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"{op}: the bound {name} is not numeric (dtype {array.dtype})")
    return value if type(value) in _PYTHON_SCALARS else array


def _index(index: Any) -> tuple:
    """An index as a tuple NumPy reads the same way: tensors become their values (a boolean
    tensor from a comparison is a mask), lists become arrays."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    for i in index:
        if isinstance(i, Tensor):
            if _tracked(i):
                raise TypeError("getitem: an index tensor must not require grad (indices have no gradient)")
            i = i._data
        elif isinstance(i, list):
            i = np.asarray(i)
        if isinstance(i, np.ndarray) and i.dtype.kind not in "biu":
            raise IndexError(
                f"getitem: index arrays must hold integers or booleans; got dtype {i.dtype}"
            )
        out.append(i)
    return tuple(out)


def _compare(ufunc: Any, symbol: str, x: Any, y: Any) -> Tensor:
    """``x (symbol) y`` elementwise as a boolean tensor that carries no gradient."""
    a = x._data if isinstance(x, Tensor) else x
    b = y._data if isinstance(y, Tensor) else y
    try:
        return _wrap(np.asarray(ufunc(a, b)))
    except ValueError:
        raise ValueError(
            f"{symbol}: operands of shapes {_fmt(np.shape(a))} and {_fmt(np.shape(b))} cannot be "
            "broadcast together"
        ) from None


def _shape_argument(op: str, shape: tuple, what: str = "shape") -> tuple[int, ...]:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike; every entry must be an integer."""
    if len(shape) == 1 and not _is_integer(shape[0]):
        try:
            shape = tuple(shape[0])
        except TypeError:
            raise TypeError(
                f"{op}: the {what} must be integers or one sequence of integers; got {shape[0]!r}"
            ) from None
    for n in shape:
        if not _is_integer(n):
            raise TypeError(
                f"{op}: the {what} must be integers; got {n!r} ({type(n).__name__}) in {_fmt(shape)}"
            )
    return tuple(int(n) for n in shape)


def _is_integer(value: Any) -> bool:
    """An int or a NumPy integer, but not a bool (``axis=True`` is a mistake, as in NumPy 2)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _normalize_axes(op: str, axis: Any, shape: tuple) -> tuple[int, ...] | None:
    if axis is None:
        return None
    ndim = len(shape)
    if _is_integer(axis):
        axes = (axis,)
    elif isinstance(axis, (tuple, list)) and all(_is_integer(a) for a in axis):
        axes = tuple(axis)
    else:
        raise TypeError(
            f"{op}: axis must be an int, a tuple of ints or None; got {axis!r} ({type(axis).__name__})"
        )
    normalized = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of range for a tensor of shape {_fmt(shape)}")
        normalized.append(int(a) % ndim)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{op}: repeated axis in {_fmt(axes)} for a tensor of shape {_fmt(shape)}")
    return tuple(normalized)


def _resolve_reshape(shape: tuple, new_shape: tuple) -> tuple[int, ...]:
    size = int(np.prod(shape))
    unknown = [i for i, n in enumerate(new_shape) if n == -1]
    known = int(np.prod([n for n in new_shape if n != -1]))
    error = ValueError(
        f"reshape: cannot reshape a tensor of shape {_fmt(shape)} ({size} elements) "
        f"into shape {_fmt(new_shape)}"
    )
    if len(unknown) > 1 or any(n < -1 for n in new_shape):
        raise error
    if unknown:
        if known == 0 or size % known:
            raise error
        new_shape = tuple(size // known if n == -1 else n for n in new_shape)
    elif known != size:
        raise error
    return new_shape
