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
input arrays, ``static`` the op's non-differentiable parameters (an axis, a shape) and
``x_dots`` holds one tangent per input, ``None`` for an input with no tangent (a zero tangent).

A VJP returns either a new array or something shared: ``g`` itself (add), a view of it
(reshape, transpose, broadcasts) or an input. Backward relies on this to add later
contributions into a new array in place and to hand it to a leaf as ``.grad`` without a copy,
so a rule must never return an array that something else keeps (a cached or global array).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Array = np.ndarray


@dataclass(frozen=True, eq=False, slots=True)
class Primitive:
    """One differentiable operation: its forward map and both of its derivative rules.

    ``jacobian`` names the sparsity pattern of the Jacobian that the rules exploit; the graph
    pictures show it as a badge.
    """

    name: str
    kind: str
    n_inputs: int
    forward: Callable[..., Array]
    vjps: tuple[Callable[..., Array], ...]
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

    ``forward(x, *static)`` is ``L``; ``transpose(g, ans, x, *static)`` is ``L^T``.
    """

    def jvp(x_dots, ans, x, *static):
        return forward(x_dots[0], *static)

    return register(Primitive(name, "linear", 1, forward, (transpose,), jvp, jacobian))


def bilinear(name: str, forward: Callable, vjp_x: Callable, vjp_y: Callable, jacobian: str) -> Primitive:
    """A map linear in each input separately: ``ans_dot = f(x_dot, y) + f(x, y_dot)``."""

    def jvp(x_dots, ans, x, y):
        x_dot, y_dot = x_dots
        if y_dot is None:
            return forward(x_dot, y)
        if x_dot is None:
            return forward(x, y_dot)
        return forward(x_dot, y) + forward(x, y_dot)

    return register(Primitive(name, "bilinear", 2, forward, (vjp_x, vjp_y), jvp, jacobian))


# ---------------------------------------------------------------------------------------------
# Broadcasting and its one inverse
# ---------------------------------------------------------------------------------------------

#: Up to this many elements a broadcast is written out as a new array (about 0.3 µs) rather
#: than made a read-only view by ``np.broadcast_to`` (about 2 µs); above it the view's saving
#: of memory wins.
MATERIALIZE_LIMIT = 1 << 14


def broadcast(x: Array, shape: tuple[int, ...]) -> Array:
    """``x`` replicated along new leading and size-1 axes up to ``shape``.

    Small results are new arrays, large ones read-only views; either way the values are
    ``np.broadcast_to(x, shape)``'s.
    """
    if math.prod(shape) > MATERIALIZE_LIMIT:
        return np.broadcast_to(x, shape)
    out = np.empty(shape, dtype=x.dtype)
    out[...] = x
    return out


def sum_to(g: Array, shape: tuple[int, ...]) -> Array:
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
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
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


RELU = elementwise(
    "relu",
    lambda x: np.maximum(x, _zero(x.dtype)),
    lambda v, ans, x: v * (x > _zero(x.dtype)),
    "0/1 diag",
)

# ---------------------------------------------------------------------------------------------
# Linear: the JVP is the op itself, the VJP its transpose
# ---------------------------------------------------------------------------------------------

NEG = linear("neg", np.negative, lambda g, ans, x: -g, "-I")


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
    broadcast,
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
    return broadcast(g, x.shape)


SUM = linear("sum", _sum, _sum_vjp, "row of ones")


def _inverse_permutation(axes):
    return tuple(np.argsort(axes))


TRANSPOSE = linear(
    "transpose",
    np.transpose,
    lambda g, ans, x, axes: np.transpose(g, _inverse_permutation(axes)),
    "permutation",
)
RESHAPE = linear("reshape", np.reshape, lambda g, ans, x, shape: np.reshape(g, x.shape), "permutation")

# ---------------------------------------------------------------------------------------------
# Bilinear: mul and matmul
# ---------------------------------------------------------------------------------------------

MUL = bilinear("mul", np.multiply, lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x, "diag")


def _matmul_vjp_x(g, ans, x, y):
    """dW = G X^T (with the vector cases of ``W @ X`` written out)."""
    if y.ndim == 1:
        return np.multiply.outer(g, y) if x.ndim == 2 else g * y
    if x.ndim == 1:
        return y @ g
    return g @ y.T


def _matmul_vjp_y(g, ans, x, y):
    """dX = W^T G (with the vector cases of ``W @ X`` written out)."""
    if x.ndim == 1:
        return np.multiply.outer(x, g) if y.ndim == 2 else g * x
    return x.T @ g


MATMUL = bilinear("matmul", np.matmul, _matmul_vjp_x, _matmul_vjp_y, "G·Xᵀ / Wᵀ·G")
