"""The primitive table: every differentiable operation of the engine, declared once.

Each :class:`Primitive` holds its forward computation, one VJP per input and its JVP side by
side, so reverse mode and forward mode share one definition of every op:

* VJP (reverse mode): pull the upstream gradient ``g`` back through the op,
  ``dx = (df/dx)^T g``.
* JVP (forward mode): push the input tangents ``x_dot`` forward, ``ans_dot = (df/dx) x_dot``.

Neither ever builds the Jacobian ``df/dx``. Every primitive's Jacobian is sparse with a known
pattern (diagonal, identity blocks, Kronecker products, selections), so its product with a vector
has a closed form that costs no more than the op itself (docs/maths.md, "Primitive rules").

Rules are grouped by kind, so a derivative is written once:

* ``elementwise``: a diagonal Jacobian ``diag(f'(x))``. One function ``chain(v, ans, x)``
  multiplies a vector by ``f'(x)``; it is the VJP for ``v = g`` and the JVP for ``v = x_dot``.
* ``linear``: the JVP is the op itself applied to the tangent; the VJP is the transposed op.
* ``bilinear``: ``f(x_dot, y) + f(x, y_dot)`` forward, one transposed product per input reverse.

Rule signatures read the same everywhere: ``forward(*xs, *static)``,
``vjps[i](g, ans, *xs, *static)`` and ``jvp(x_dots, ans, *xs, *static)``, where ``xs`` are the
input arrays (or tensors), ``static`` the op's non-differentiable parameters (an axis, a shape) and
``x_dots`` holds one tangent per input, ``None`` for an input with no tangent (a zero tangent).

**Every rule is differentiable.** The rules use only operations that NumPy arrays and tensors
share (``*``, ``/``, ``@``, ``.T``, ``.sum``, ``.reshape``, ``.transpose``) and the helpers
below (:func:`broadcast`, :func:`sum_to`, :func:`lift`, :func:`values`), which run NumPy on
arrays and record nodes on tensors. So one definition serves twice: on arrays it is the
first-order fast path; on tensors (``gradients(..., create_graph=True)``, nested transforms) it
records its own graph, which can be differentiated again, to any order. A rule may read the
values of an input only for something piecewise constant (relu's mask): anything else read
from ``values(x)`` would cut the graph of the derivative.

A VJP returns either a new array or something shared: ``g`` itself (add), a view of it
(reshape, transpose, broadcasts) or an input. Backward relies on this to add later
contributions into a new array in place and to hand it to a leaf as ``.grad`` without a copy,
so a rule must never return an array that something else keeps (a cached or global array).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

Array = np.ndarray
_ndarray = np.ndarray


@dataclass(frozen=True, eq=False, slots=True)
class Primitive:
    """One differentiable operation: its forward map and both of its derivative rules.

    ``jacobian`` names the sparsity pattern of the Jacobian that the rules exploit; the graph
    pictures show it as a badge. ``n_inputs`` is -1 for an op of any number of inputs
    (``concatenate``), whose ``vjps[i]`` exist for every ``i``.
    """

    name: str
    kind: str
    n_inputs: int
    forward: Callable[..., Array]
    vjps: Any
    jvp: Callable[..., Array]
    jacobian: str
    #: For a fused primitive (``autograd.fused``), the primitives whose composed graph it
    #: replaces; empty for the core ones.
    fuses: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"<primitive {self.name} ({self.kind})>"


PRIMITIVES: dict[str, Primitive] = {}


def register(primitive: Primitive) -> Primitive:
    """Add ``primitive`` to the table under its name (``autograd.fused`` adds its own this way)."""
    PRIMITIVES[primitive.name] = primitive
    return primitive


# ---------------------------------------------------------------------------------------------
# Rules that run on arrays and on tensors
# ---------------------------------------------------------------------------------------------

#: The engine's tensor type, its choke point and its constant wrapper, filled in by
#: ``autograd.tensor`` (which imports this module, so this one cannot import it).
Tensor: Any = None
_apply: Callable = None  # type: ignore[assignment]
_wrap: Callable = None  # type: ignore[assignment]


def values(x: Any) -> Array:
    """The array of values of ``x`` (an array or a tensor), for piecewise-constant factors."""
    return x if x.__class__ is _ndarray else x._data


def lift(prim: Primitive, args: tuple, static: tuple = ()) -> Any:
    """``prim`` applied to ``args``: its NumPy forward on arrays, a recorded node when any
    argument is a tensor (the others then enter as constants)."""
    for a in args:
        if isinstance(a, Tensor):
            tensors = tuple(a if isinstance(a, Tensor) else _wrap(np.asarray(a)) for a in args)
            return _apply(prim, tensors, static)
    return prim.forward(*args, *static)


def evaluate(prim: Primitive, xs: tuple, static: tuple = ()) -> tuple[Array, tuple]:
    """``(ans, static)`` for the rules of ``prim`` at arrays ``xs``, as ``apply`` gives them.

    A forward may return ``(ans, residual)``: something its rules reuse (softmax
    cross-entropy's softmax), which becomes the last static argument of its rules.
    """
    ans = prim.forward(*xs, *static)
    if ans.__class__ is tuple:
        ans, residual = ans
        static = (*static, residual)
    return np.asarray(ans), static


def elementwise(name: str, forward: Callable, chain: Callable, jacobian: str = "diag") -> Primitive:
    """An op applied to each element: ``J = diag(f'(x))``.

    ``chain(v, ans, x)`` returns ``v ⊙ f'(x)``; it serves both modes, ``dx = g ⊙ f'(x)`` and
    ``ans_dot = x_dot ⊙ f'(x)``, so the derivative is stated exactly once.
    """

    def jvp(x_dots, ans, x):
        return chain(x_dots[0], ans, x)

    # The VJP is chain itself, called with v = g (no wrapper: one Python call less per node).
    return register(Primitive(name, "elementwise", 1, forward, (chain,), jvp, jacobian))


def linear(name: str, forward: Callable, transpose: Callable, jacobian: str) -> Primitive:
    """A unary linear map ``L``: ``ans_dot = L(x_dot)`` and ``dx = L^T(g)``.

    ``forward(x, *static)`` is ``L`` on arrays; ``transpose(g, ans, x, *static)`` is ``L^T``.
    """

    def jvp(x_dots, ans, x, *static):
        return lift(primitive, (x_dots[0],), static)

    primitive = register(Primitive(name, "linear", 1, forward, (transpose,), jvp, jacobian))
    return primitive


def bilinear(name: str, forward: Callable, vjp_x: Callable, vjp_y: Callable, jacobian: str) -> Primitive:
    """A map linear in each input separately: ``ans_dot = f(x_dot, y) + f(x, y_dot)``."""

    def jvp(x_dots, ans, x, y):
        x_dot, y_dot = x_dots
        if y_dot is None:
            return lift(primitive, (x_dot, y))
        if x_dot is None:
            return lift(primitive, (x, y_dot))
        return lift(primitive, (x_dot, y)) + lift(primitive, (x, y_dot))

    primitive = register(Primitive(name, "bilinear", 2, forward, (vjp_x, vjp_y), jvp, jacobian))
    return primitive


# ---------------------------------------------------------------------------------------------
# Broadcasting and its one inverse
# ---------------------------------------------------------------------------------------------

#: Up to this many elements a broadcast is written out as a new array (about 0.3 µs) rather
#: than made a read-only view by ``np.broadcast_to`` (about 2 µs); above it the view's saving
#: of memory wins.
MATERIALIZE_LIMIT = 1 << 14


def _broadcast_array(x: Array, shape: tuple[int, ...]) -> Array:
    if math.prod(shape) > MATERIALIZE_LIMIT:
        return np.broadcast_to(x, shape)
    out = np.empty(shape, dtype=x.dtype)
    out[...] = x
    return out


def broadcast(x: Any, shape: tuple[int, ...]) -> Any:
    """``x`` replicated along new leading and size-1 axes up to ``shape``.

    On arrays, small results are new arrays and large ones read-only views, with the values of
    ``np.broadcast_to(x, shape)``; on tensors, a ``broadcast_to`` node.
    """
    if x.__class__ is _ndarray:
        return _broadcast_array(x, shape)
    return x if tuple(x.shape) == tuple(shape) else _apply(BROADCAST_TO, (x,), (tuple(shape),))


def sum_to(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` down to ``shape``: the transpose of broadcasting ``shape`` up to ``g.shape``.

    Leading axes that broadcasting added are summed away, and so are axes where ``shape`` has
    size 1 but ``g`` does not. This is the only unbroadcast in the engine.
    """
    g_shape = g.shape
    if g_shape == shape:
        return g
    if len(shape) == 2 == len(g_shape) and shape[1] == 1 and shape[0] == g_shape[0]:
        return g.sum(axis=1, keepdims=True)  # a bias (n, 1) over m columns: the common case
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g_shape[lead + i] != 1
    )
    out = g.sum(axis=axes, keepdims=True)
    return out.reshape(shape) if lead else out


# ---------------------------------------------------------------------------------------------
# Elementwise: a diagonal Jacobian, derivative stated once
# ---------------------------------------------------------------------------------------------

# exp: f' = exp(x) = ans, so reuse the output rather than recompute it.
EXP = elementwise("exp", np.exp, lambda v, ans, x: v * ans)
# log: f' = 1/x; dividing once is more accurate than multiplying by a rounded reciprocal.
LOG = elementwise("log", np.log, lambda v, ans, x: v / x)
# reciprocal: f' = -1/x^2 = -ans^2.
RECIPROCAL = elementwise("reciprocal", np.reciprocal, lambda v, ans, x: -(v * ans * ans))
# relu: f' = 1 where x > 0, else 0 (0 at the kink, as PyTorch and JAX choose).
_ZEROS: dict = {}


def _zero(dtype) -> Array:
    """A 0-d zero of ``dtype``: NumPy compares and maximises against it faster than against
    the Python number 0, whose dtype it must first resolve."""
    zero = _ZEROS.get(dtype)
    if zero is None:
        zero = _ZEROS[dtype] = np.zeros((), dtype=dtype)
        zero.flags.writeable = False
    return zero


# The mask x > 0 is piecewise constant, so it is read from the values: f'' = 0 almost everywhere.
RELU = elementwise(
    "relu",
    lambda x: np.maximum(x, _zero(x.dtype)),
    lambda v, ans, x: v * (values(x) > _zero(x.dtype)),
    "0/1 diag",
)

# ---------------------------------------------------------------------------------------------
# Linear: the JVP is the op itself, the VJP its transpose
# ---------------------------------------------------------------------------------------------

NEG = linear("neg", np.negative, lambda g, ans, x: -g, "-I")
# identity: a new node with the same values, through which an inner transform's input stays
# connected to the enclosing one's graph.
IDENTITY = linear("identity", lambda x: x, lambda g, ans, x: g, "I")


def _cast(g: Any, dtype: Any) -> Any:
    if g.dtype == dtype:
        return g
    return g.astype(dtype) if g.__class__ is _ndarray else _apply(ASTYPE, (g,), (np.dtype(dtype),))


# astype: the identity map between dtypes; its transpose casts back.
ASTYPE = linear("astype", lambda x, dtype: x.astype(dtype), lambda g, ans, x, dtype: _cast(g, x.dtype), "I")


def _add_jvp(x_dots, ans, x, y):
    x_dot, y_dot = x_dots
    if y_dot is None:
        return x_dot
    if x_dot is None:
        return y_dot
    return x_dot + y_dot


# add is linear in both inputs together: dx = g, dy = g.
ADD = register(
    Primitive("add", "linear", 2, np.add, (lambda g, ans, x, y: g, lambda g, ans, x, y: g), _add_jvp, "I | I")
)

# broadcast_to replicates x along new leading or size-1 axes: one 1 per output element, so the
# transpose sums g over the replicated axes.
BROADCAST_TO = linear(
    "broadcast_to",
    _broadcast_array,
    lambda g, ans, x, shape: sum_to(g, x.shape),
    "replicate",
)


def _sum(x, axis, keepdims):
    # The method skips np.sum's dispatch layer (half the cost on small arrays); a full
    # reduction gives a NumPy scalar, and tensors' data are arrays.
    return np.asarray(x.sum(axis=axis, keepdims=keepdims))


def _sum_vjp(g, ans, x, axis, keepdims):
    # A row of ones per output element: broadcast g back over the summed axes.
    if not keepdims:
        kept = tuple(1 if axis is None or k in axis else n for k, n in enumerate(x.shape))
        g = g.reshape(kept)
    return broadcast(g, tuple(x.shape))


SUM = linear("sum", _sum, _sum_vjp, "row of ones")


def _inverse_permutation(axes):
    return tuple(int(a) for a in np.argsort(axes))


TRANSPOSE = linear(
    "transpose",
    np.transpose,
    lambda g, ans, x, axes: g.transpose(_inverse_permutation(axes)),
    "permutation",
)
RESHAPE = linear("reshape", np.reshape, lambda g, ans, x, shape: g.reshape(tuple(x.shape)), "permutation")


# getitem and scatter_add are each other's transposes: x[index] selects, scatter_add puts g back
# into zeros of x's shape, adding where an index repeats.
def _is_basic(index: tuple) -> bool:
    """Whether ``index`` holds only ints, slices, None and Ellipsis (no element is picked twice)."""
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in index)


def _scatter_add(g, index, shape):
    out = np.zeros(shape, dtype=g.dtype)
    if _is_basic(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


GETITEM = linear(
    "getitem",
    lambda x, index: np.asarray(x[index]),
    lambda g, ans, x, index: lift(SCATTER_ADD, (g,), (index, tuple(x.shape))),
    "selection",
)
SCATTER_ADD = linear(
    "scatter_add",
    _scatter_add,
    lambda g, ans, x, index, shape: lift(GETITEM, (g,), (index,)),
    "selection",
)


def _concatenate_vjp(i: int) -> Callable:
    def vjp(g, ans, *args):
        *xs, axis = args
        start = sum(x.shape[axis] for x in xs[:i])
        index = (slice(None),) * axis + (slice(start, start + xs[i].shape[axis]),)
        return lift(GETITEM, (g,), (index,))

    return vjp


class _PerInput:
    """``vjps`` of an op with any number of inputs: ``vjps[i]`` is made on demand."""

    __slots__ = ("make", "cache")

    def __init__(self, make: Callable[[int], Callable]) -> None:
        self.make = make
        self.cache: dict = {}

    def __getitem__(self, i: int) -> Callable:
        rule = self.cache.get(i)
        if rule is None:
            rule = self.cache[i] = self.make(i)
        return rule


def _concatenate_jvp(x_dots, ans, *args):
    *xs, axis = args
    if all(d is None for d in x_dots):
        return None
    parts = [
        d if d is not None else np.zeros(values(x).shape, dtype=values(ans).dtype)
        for d, x in zip(x_dots, xs)
    ]
    return lift(CONCATENATE, tuple(parts), (axis,))


CONCATENATE = register(
    Primitive(
        "concatenate",
        "linear",
        -1,
        lambda *args: np.concatenate(args[:-1], axis=args[-1]),
        _PerInput(_concatenate_vjp),
        _concatenate_jvp,
        "I blocks",
    )
)

# ---------------------------------------------------------------------------------------------
# Bilinear: mul and matmul
# ---------------------------------------------------------------------------------------------

MUL = bilinear("mul", np.multiply, lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x, "diag")


def _outer(a, b):
    """``a ⊗ b``: ``a`` with one new axis per axis of ``b``, times ``b`` (arrays or tensors)."""
    return a.reshape(tuple(a.shape) + (1,) * b.ndim) * b


def _matmul_vjp_x(g, ans, x, y):
    """dW = G X^T (with the vector cases of ``W @ X`` written out)."""
    if y.ndim == 1:
        return _outer(g, y) if x.ndim == 2 else g * y
    if x.ndim == 1:
        return y @ g
    return g @ y.T


def _matmul_vjp_y(g, ans, x, y):
    """dX = W^T G (with the vector cases of ``W @ X`` written out)."""
    if x.ndim == 1:
        return _outer(x, g) if y.ndim == 2 else g * x
    return x.T @ g


MATMUL = bilinear("matmul", np.matmul, _matmul_vjp_x, _matmul_vjp_y, "G·Xᵀ / Wᵀ·G")
