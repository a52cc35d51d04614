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

**Every fact about an op lives in its entry**: its rules, the pattern of its Jacobian for
sparse forward mode (``pattern``), its dense Jacobian written from the maths for the checks
(``dense``), its flop counts (``flops``, ``vjp_flops``), and what the pictures print (``label``,
``badge``, ``formulas``, ``inputs``). The modules that use them (``sparsity``, ``checks``,
``counters``, ``viz``) read the entry; none of them knows an op by name, so adding an op is one
entry (docs/adding_an_op.md).

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

from . import jacobians as J

Array = np.ndarray
_ndarray = np.ndarray

#: ``text(in_shapes, out_shape, static) -> str``: a label that depends on the node (its axes).
NodeText = Callable[[tuple, tuple, tuple], str]


@dataclass(frozen=True, eq=False, slots=True)
class Primitive:
    """One differentiable operation: its forward map, both derivative rules and every other fact.

    ``name`` is the short name the table is keyed by; ``label`` what the pictures print (a fused
    op's label says what it fuses). ``n_inputs`` is -1 for an op of any number of inputs
    (``concatenate``), whose ``vjps[i]`` exist for every ``i``.

    The facts besides the rules, each optional where a default follows from ``kind``:

    * ``jacobian``: the name of the Jacobian's sparsity pattern, the pictures' badge (a string,
      or a :data:`NodeText` for one that names the node's axes);
    * ``pattern(deps, xs, ans, *static)``: the dependency-pattern rule (``autograd.jacobians``);
      elementwise ops default to the diagonal one;
    * ``dense(*xs, *static)``: one dense float64 Jacobian per input, from the maths, not the
      rules (the referee of ``autograd.checks.dense_jacobian``);
    * ``flops(xs, ans, *static)`` and ``vjp_flops(xs, ans, g_in)``: floating-point operations of
      the forward and of one VJP call (``autograd.counters``); both default to one per element;
    * ``formulas``: per input, the VJP the pictures print on the arrow (``"g * ans"``; a string
      or a :data:`NodeText`), and ``inputs`` the names of the inputs in those formulas.
    """

    name: str
    kind: str
    n_inputs: int
    forward: Callable[..., Array]
    vjps: Any
    jvp: Callable[..., Array]
    jacobian: Any
    #: For a fused primitive (``autograd.fused``), the primitives whose composed graph it
    #: replaces; empty for the core ones.
    fuses: tuple[str, ...] = ()
    label: str = ""
    pattern: Callable | None = None
    dense: Callable | None = None
    flops: Callable | None = None
    vjp_flops: Callable | None = None
    formulas: tuple = ()
    inputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name)

    def __repr__(self) -> str:
        return f"<primitive {self.name} ({self.kind})>"

    # -- what the pictures print -------------------------------------------------------------

    def badge(self, in_shapes: tuple, out_shape: tuple, static: tuple) -> str:
        """The Jacobian's pattern, for the node with these shapes and static arguments."""
        j = self.jacobian
        return j if isinstance(j, str) else j(in_shapes, out_shape, static)

    def input_name(self, i: int, n: int) -> str:
        """The name of input ``i`` of ``n`` in the formulas: the entry's, else x / x, y / x0..."""
        if self.inputs:
            return self.inputs[i]
        if n == 1:
            return "x"
        if n == 2:
            return ("x", "y")[i]
        return f"x{i}"

    def formula(self, i: int, in_shapes: tuple, out_shape: tuple, static: tuple) -> str:
        """The VJP's right-hand side for input ``i`` (``vjp[i](g)`` when the entry has none)."""
        if not self.formulas:
            return f"vjp[{i}](g)"
        text = self.formulas[min(i, len(self.formulas) - 1)]
        return text if isinstance(text, str) else text(in_shapes, out_shape, static)


PRIMITIVES: dict[str, Primitive] = {}


def register(primitive: Primitive) -> Primitive:
    """Add ``primitive`` to the table under its name (``autograd.fused`` adds its own this way)."""
    if primitive.pattern is None and primitive.kind == "elementwise":
        object.__setattr__(primitive, "pattern", J.same)
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
    if x.__class__ is _ndarray:
        return x
    return x._data if isinstance(x, Tensor) else np.asarray(x)  # a tensor, or a NumPy scalar


def lift(prim: Primitive, args: tuple, static: tuple = ()) -> Any:
    """``prim`` applied to ``args``: its NumPy forward on arrays, a recorded node when any
    argument is a tensor (the others then enter as constants)."""
    for a in args:
        if isinstance(a, Tensor):
            tensors = tuple(a if isinstance(a, Tensor) else _wrap(np.asarray(a)) for a in args)
            return _apply(prim, tensors, static)
    return np.asarray(prim.forward(*args, *static))


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


def _zero_flops(*args: Any) -> int:
    return 0


def elementwise(
    name: str,
    forward: Callable,
    chain: Callable,
    derivative: Callable | None = None,
    formula: str | None = None,
    jacobian: str = "diag",
    **facts: Any,
) -> Primitive:
    """An op applied to each element: ``J = diag(f'(x))``.

    ``chain(v, ans, x, *static)`` returns ``v ⊙ f'(x)``; it serves both modes, ``dx = g ⊙ f'(x)``
    and ``ans_dot = x_dot ⊙ f'(x)``, so the derivative is stated exactly once for the engine.
    ``derivative(x, *static)`` is ``f'(x)`` in NumPy for the dense referee, written apart from
    ``chain`` (which must stay differentiable) so that a slip in one shows against the other.
    """

    def jvp(x_dots, ans, x, *static):
        return chain(x_dots[0], ans, x, *static)

    def dense(x, *static):
        return [J.diagonal(derivative(x, *static))]

    # The VJP is chain itself, called with v = g (no wrapper: one Python call less per node).
    return register(
        Primitive(name, "elementwise", 1, forward, (chain,), jvp, jacobian,
                  dense=None if derivative is None else dense,
                  formulas=() if formula is None else (formula,), **facts)
    )


def elementwise2(
    name: str,
    forward: Callable,
    chains: tuple[Callable, Callable],
    derivatives: Callable,
    formulas: tuple[str, str],
    pattern: Callable = J.union,
    **facts: Any,
) -> Primitive:
    """An elementwise op of two inputs of the same shape: ``J = [diag(∂f/∂x), diag(∂f/∂y)]``.

    ``chains[k](v, ans, x, y, *static)`` returns ``v ⊙ ∂f/∂(input k)``: a diagonal is its own
    transpose, so it is the VJP of input ``k`` and its term of the JVP. The engine broadcasts
    tracked operands to the output's shape first (``tensor._binary``), so the rules never
    unbroadcast. ``derivatives(x, y, *static)`` gives both partials in NumPy, for the referee.
    """

    def jvp(x_dots, ans, x, y, *static):
        total = None
        for chain, dot in zip(chains, x_dots):
            if dot is not None:
                term = chain(dot, ans, x, y, *static)
                total = term if total is None else total + term
        return total

    def dense(x, y, *static):
        shape = np.broadcast_shapes(np.shape(x), np.shape(y))
        return [J.diagonal(np.broadcast_to(d, shape)) for d in derivatives(x, y, *static)]

    return register(
        Primitive(name, "binary", 2, forward, tuple(chains), jvp, "diag | diag", pattern=pattern,
                  dense=dense, formulas=formulas, **facts)
    )


def linear(name: str, forward: Callable, transpose: Callable, jacobian: Any, **facts: Any) -> Primitive:
    """A unary linear map ``L``: ``ans_dot = L(x_dot)`` and ``dx = L^T(g)``.

    ``forward(x, *static)`` is ``L`` on arrays; ``transpose(g, ans, x, *static)`` is ``L^T``.
    Unless the entry says otherwise, its dense Jacobian is ``L`` applied to each basis array.
    """

    def jvp(x_dots, ans, x, *static):
        return lift(primitive, (x_dots[0],), static)

    def dense(x, *static):
        return [J.of_linear_map(lambda a: forward(a, *static), x)]

    facts.setdefault("dense", dense)
    primitive = register(Primitive(name, "linear", 1, forward, (transpose,), jvp, jacobian, **facts))
    return primitive


def bilinear(name: str, forward: Callable, vjp_x: Callable, vjp_y: Callable, jacobian: str,
             **facts: Any) -> Primitive:
    """A map linear in each input separately: ``ans_dot = f(x_dot, y) + f(x, y_dot)``."""

    def jvp(x_dots, ans, x, y):
        x_dot, y_dot = x_dots
        if y_dot is None:
            return lift(primitive, (x_dot, y))
        if x_dot is None:
            return lift(primitive, (x, y_dot))
        return lift(primitive, (x_dot, y)) + lift(primitive, (x, y_dot))

    facts.setdefault("dense", lambda x, y: J.bilinear_dense(forward, x, y))
    primitive = register(Primitive(name, "bilinear", 2, forward, (vjp_x, vjp_y), jvp, jacobian, **facts))
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


def broadcast_axes(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The axes of ``out_shape`` along which broadcasting ``in_shape`` replicates (what
    :func:`sum_to` sums)."""
    lead = len(out_shape) - len(in_shape)
    return tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(in_shape) if n == 1 and out_shape[lead + i] != 1
    )


def sum_to(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` down to ``shape``: the transpose of broadcasting ``shape`` up to ``g.shape``.

    Leading axes that broadcasting added are summed away, and so are axes where ``shape`` has
    size 1 but ``g`` does not. This is the only unbroadcast in the engine.
    """
    g_shape = g.shape
    if g_shape == shape:
        return g
    if len(shape) == 2 == len(g_shape) and shape[1] == 1 and shape[0] == g_shape[0]:
        return sum_keepdims(g, 1)  # a bias (n, 1) over m columns: the common case
    lead = g.ndim - len(shape)
    out = g.sum(axis=broadcast_axes(tuple(shape), tuple(g_shape)), keepdims=True)
    return out.reshape(shape) if lead else out


def sum_keepdims(x: Any, axis: int) -> Any:
    """``x.sum(axis=axis, keepdims=True)``.

    A float32 or float64 matrix is summed along axis 1 as ``x @ 1`` (a column of ones) and along
    axis 0 as ``1ᵀ @ x``: BLAS's matrix-vector product, 1.4–3.4× faster than NumPy's reduction
    along a row (a bias's gradient over a batch, a softmax's column totals), with the same
    accuracy (another order of the same additions). Other arrays go to NumPy's ``add.reduce``
    directly, without the array method's Python layer; tensors (rules that are differentiated
    again) to their ``sum``. A compiled step replays the same call (:func:`sum_keepdims_kernel`).
    """
    if x.__class__ is _ndarray:
        ones = _summing_ones(x, axis)
        if ones is None:
            return _add_reduce(x, axis, None, None, True)
        return _dot(x, ones) if axis else _dot(ones, x)
    return x.sum(axis=axis, keepdims=True)


def sum_keepdims_kernel(x: np.ndarray, axis: int, out: np.ndarray) -> tuple[Callable, list]:
    """The NumPy call by which :func:`sum_keepdims` sums the array ``x``, writing into ``out``
    (``out`` must then be a C-contiguous array of the sum's shape and dtype): ``(function, args)``."""
    ones = _summing_ones(x, axis)
    if ones is None:
        return _add_reduce, [x, axis, None, out, True]
    return _dot, [x, ones, out] if axis else [ones, x, out]


_add_reduce = np.add.reduce
_FLOAT32, _FLOAT64 = np.dtype(np.float32), np.dtype(np.float64)
#: Read-only vectors of ones by length, axis and dtype; cleared when it holds this many.
_ONES: dict = {}
_ONES_MAX = 64


def sums_by_product(x: np.ndarray, axis: int) -> bool:
    """Whether :func:`sum_keepdims` sums the array ``x`` along ``axis`` by a product with ones."""
    return _summing_ones(x, axis) is not None


def _summing_ones(x: np.ndarray, axis: int) -> np.ndarray | None:
    """The ones that sum the float32/float64 matrix ``x`` along ``axis`` (0 or 1) by a product,
    or None for other arrays."""
    dtype = x.dtype
    # Built-in dtypes are singletons: a byte-swapped float32 is not one of these (NumPy sums it).
    if dtype is _FLOAT32:
        wide = 0
    elif dtype is _FLOAT64:
        wide = 1
    else:
        return None
    if x.ndim != 2 or (axis != 0 and axis != 1):
        return None
    n = x.shape[axis]
    key = 4 * n + 2 * axis + wide  # (an int: no tuple to build and hash per call)
    ones = _ONES.get(key)
    if ones is None:
        if len(_ONES) >= _ONES_MAX:
            _ONES.clear()
        ones = np.ones((n, 1) if axis else (1, n), dtype)
        ones.setflags(write=False)
        _ONES[key] = ones
    return ones


def product(a: Any, b: Any) -> Any:
    """``a @ b``; for two 2-D arrays by ``np.dot``, the same BLAS call (the same bits) with less
    dispatch than the ``matmul`` ufunc, which is most of the cost of a small product. Tensors
    (rules that are differentiated again) and other ranks go through ``@``."""
    if a.__class__ is _ndarray and b.__class__ is _ndarray and a.ndim == 2 == b.ndim:
        return _dot(a, b)
    return a @ b


_dot = np.dot


def _matmul_forward(x: Array, y: Array) -> Array:
    return _dot(x, y) if x.ndim == 2 == y.ndim else np.matmul(x, y)


def _axes_text(axes: tuple[int, ...]) -> str:
    if len(axes) == 1:
        return f"axis {axes[0]}"
    return "axes " + ", ".join(str(a) for a in axes)


_ZEROS: dict = {}


def _zero(dtype) -> Array:
    """A 0-d zero of ``dtype``: NumPy compares and maximises against it faster than against
    the Python number 0, whose dtype it must first resolve."""
    zero = _ZEROS.get(dtype)
    if zero is None:
        zero = _ZEROS[dtype] = np.zeros((), dtype=dtype)
        zero.flags.writeable = False
    return zero


def _select(mask: Array, v: Any) -> Any:
    """``v`` where ``mask`` holds, exactly 0 elsewhere (even where ``v`` is inf or NaN, which a
    product with a 0/1 mask would turn into NaN); a ``where`` node on tensors."""
    return lift(WHERE, (v, _zero(v.dtype)), (mask,))


# ---------------------------------------------------------------------------------------------
# Elementwise: a diagonal Jacobian, derivative stated once
# ---------------------------------------------------------------------------------------------

# exp: f' = exp(x) = ans, so reuse the output rather than recompute it.
EXP = elementwise("exp", np.exp, lambda v, ans, x: v * ans, np.exp, "g * ans")
# log: f' = 1/x; dividing once is more accurate than multiplying by a rounded reciprocal.
LOG = elementwise("log", np.log, lambda v, ans, x: v / x, lambda x: 1.0 / x, "g / x")
# reciprocal: f' = -1/x^2 = -ans^2.
RECIPROCAL = elementwise(
    "reciprocal", np.reciprocal, lambda v, ans, x: -(v * ans * ans), lambda x: -1.0 / (x * x), "-g * ans²"
)
# relu: f' = 1 where x > 0, else 0 (0 at the kink, as PyTorch and JAX choose). The mask x > 0 is
# piecewise constant, so it is read from the values: f'' = 0 almost everywhere.
RELU = elementwise(
    "relu",
    lambda x: np.maximum(x, _zero(x.dtype)),
    lambda v, ans, x: v * (values(x) > _zero(x.dtype)),
    lambda x: x > 0,
    "g * (x > 0)",
    "0/1 diag",
)
# abs: f' = sign(x), 0 at 0 (PyTorch's and JAX's choice); piecewise constant, like relu's mask.
ABS = elementwise(
    "abs", np.abs, lambda v, ans, x: v * np.sign(values(x)), np.sign, "g * sign(x)", "±1 diag"
)
# sqrt: f' = 1/(2 sqrt x) = 1/(2 ans); inf at 0, as the derivative is.
SQRT = elementwise(
    "sqrt", np.sqrt, lambda v, ans, x: v / (ans * 2), lambda x: 0.5 / np.sqrt(x), "g / (2 ans)"
)
def _sech2_chain(scale: float) -> Callable:
    """``v ⊙ f'(x)`` for ``f'(x) = k e / (1 + e)²``, ``e = exp(-c|x|)``: sigmoid' (k = 1, c = 1)
    and tanh' (k = 4, c = 2) with their full relative precision where they are tiny (|x| > 20,
    where ``ans (1 - ans)`` and ``1 - ans²`` round to 0), and nothing overflowing. Written with
    primitives, so it is differentiable again."""

    def chain(v, ans, x):
        e = lift(EXP, (lift(ABS, (x,)) * -scale,))
        one_plus = e + 1
        return v * (e * (scale * scale) / (one_plus * one_plus))

    return chain


# tanh: NumPy's own (accurate to about an ulp, relative precision near 0 included);
# f' = 1 - tanh² = 4e/(1 + e)² with e = exp(-2|x|).
TANH = elementwise("tanh", np.tanh, _sech2_chain(2.0), lambda x: 1.0 / np.cosh(x) ** 2, "g * (1 - ans²)")


def _sigmoid(x: Array) -> Array:
    """``1 / (1 + exp(-x))`` exponentiating only ``-|x|``: ``1/(1 + e)`` for ``x >= 0`` and
    ``e/(1 + e)`` for ``x < 0``, with ``e = exp(-|x|)`` in (0, 1]. Nothing overflows, and small
    results keep their relative precision: a few ulps everywhere."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1, e) / (1 + e)


# sigmoid: f' = σ(1 - σ) = e/(1 + e)² with e = exp(-|x|).
SIGMOID = elementwise(
    "sigmoid",
    _sigmoid,
    _sech2_chain(1.0),
    lambda x: np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))) ** 2,
    "g * ans * (1 - ans)",
)
# sin and cos: each other's derivative, so each rule applies the other primitive (recorded on
# tensors: the second derivative comes from the same table).
SIN = elementwise("sin", np.sin, lambda v, ans, x: v * lift(COS, (x,)), np.cos, "g * cos(x)")
COS = elementwise(
    "cos", np.cos, lambda v, ans, x: -(v * lift(SIN, (x,))), lambda x: -np.sin(x), "-g * sin(x)"
)


def _inside(x: Any, lo: Any, hi: Any) -> Array:
    """Where ``lo <= x <= hi`` (either bound may be None): clip passes the gradient there,
    boundaries included, as PyTorch's clamp does."""
    x = values(x)
    mask = np.ones(x.shape, dtype=bool)
    if lo is not None:
        mask &= x >= lo
    if hi is not None:
        mask &= x <= hi
    return mask


# clip: f' = 1 inside [lo, hi], 0 outside; the bounds are constants (static).
CLIP = elementwise(
    "clip",
    lambda x, lo, hi: np.clip(x, lo, hi),
    lambda v, ans, x, lo, hi: _select(_inside(x, lo, hi), v),
    _inside,
    "g * (lo <= x <= hi)",
    "0/1 diag",
    pattern=lambda deps, xs, ans, lo, hi: deps[0] & _inside(xs[0], lo, hi)[..., None],
)

# ---------------------------------------------------------------------------------------------
# Elementwise in two inputs: two diagonals
# ---------------------------------------------------------------------------------------------

# divide: ∂/∂x = 1/y, ∂/∂y = -x/y² = -ans/y. np.divide itself, so values are NumPy's, bit for
# bit, with its result dtypes (int / int is a float).
DIVIDE = elementwise2(
    "divide",
    np.divide,
    (lambda v, ans, x, y: v / y, lambda v, ans, x, y: -(v * ans) / y),
    lambda x, y: (1.0 / y + 0 * x, -x / (y * y)),
    ("g / y", "-g * ans / y"),
    pattern=J.product,
)


def _power_vjp_x(v, ans, x, y):
    # ∂/∂x x^y = y x^(y-1), and 0 where x == 0 and y == 0 (x^0 = 1 for every x, 0 included, so
    # the formula's 0 * 0^-1 must not give NaN): there the exponent y - 1 is replaced by y, a
    # constant shift of a piecewise-constant set. Only there: elsewhere the formula is kept as it
    # is, so that its own derivative in y (x^(y-1) at y = 0) stays right.
    at_zero = (values(y) == 0) & (values(x) == 0)
    exponent = y - 1
    if at_zero.any():
        exponent = exponent + at_zero
    return v * (y * lift(POWER, (x, exponent)))


def _power_vjp_y(v, ans, x, y):
    # ∂/∂y x^y = x^y log x = ans log x; where x == 0 and y >= 0 it is 0 (0^y is 0 or 1 nearby,
    # as PyTorch and JAX have it): log is taken of 1 there instead of 0, and ans * 0 = 0.
    x_values = values(x)
    base_zero = (x_values == 0) & (values(y) >= 0)
    if base_zero.any():
        x = lift(WHERE, (x, np.ones((), dtype=x_values.dtype)), (~base_zero,))
    return v * (ans * lift(LOG, (x,)))


def _power_derivatives(x, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        dx = np.where(y == 0, 0.0, y * np.power(x, y - 1))
        dy = np.where((x == 0) & (y >= 0), 0.0, np.power(x, y) * np.log(x))
    return dx, dy


def _power_pattern(deps, xs, ans):
    x, y = xs
    dx, dy = deps
    # x^y with a constant y = 0 does not depend on x; with a constant base 1 not on y.
    return J.masked(deps, xs, ans, [J.nonzero(y, dy), J.nonzero(np.asarray(x) - 1, dx)])


# power: np.power's values (exact for integer exponents of any size, negative bases included,
# and right at 0 and ±inf).
POWER = elementwise2(
    "power",
    np.power,
    (_power_vjp_x, _power_vjp_y),
    _power_derivatives,
    ("g * y * x^(y-1)", "g * ans * log(x)"),
    pattern=_power_pattern,
)


def _share(x: Any, y: Any, wins: Callable) -> Array:
    """The share of the gradient an input of maximum/minimum gets: 1 where it wins, ½ at a tie."""
    x, y = values(x), values(y)
    return wins(x, y) + (x == y) * np.asarray(0.5, dtype=np.result_type(x, y, np.float16))


def _extremum2(name: str, forward: Callable, wins: Callable, sign: str) -> Primitive:
    def chain_x(v, ans, x, y):
        share = _share(x, y, wins)
        return _select(share != 0, v * share.astype(values(v).dtype, copy=False))

    def chain_y(v, ans, x, y):
        share = _share(y, x, wins)
        return _select(share != 0, v * share.astype(values(v).dtype, copy=False))

    return elementwise2(
        name,
        forward,
        (chain_x, chain_y),
        lambda x, y: (_share(x, y, wins), _share(y, x, wins)),
        (f"g * (x {sign} y, ½ at ties)", f"g * (y {sign} x, ½ at ties)"),
        pattern=lambda deps, xs, ans: J.masked(
            deps, xs, ans, [_share(xs[0], xs[1], wins) != 0, _share(xs[1], xs[0], wins) != 0]
        ),
    )


# maximum and minimum: the gradient goes to the winner, and tied inputs share it equally.
MAXIMUM = _extremum2("maximum", np.maximum, np.greater, ">")
MINIMUM = _extremum2("minimum", np.minimum, np.less, "<")


def _where_jvp(x_dots, ans, x, y, cond):
    x_dot, y_dot = x_dots
    if x_dot is None:
        return _select(~cond, y_dot)
    if y_dot is None:
        return _select(cond, x_dot)
    return lift(WHERE, (x_dot, y_dot), (cond,))


def _where_mask(cond, x, y) -> Array:
    return np.broadcast_to(cond, np.broadcast_shapes(np.shape(cond), np.shape(x), np.shape(y)))


# where(cond, x, y): x's elements where cond holds, y's elsewhere; cond is a constant (static).
WHERE = register(
    Primitive(
        "where",
        "binary",
        2,
        lambda x, y, cond: np.where(cond, x, y),
        (lambda g, ans, x, y, cond: _select(cond, g), lambda g, ans, x, y, cond: _select(~cond, g)),
        _where_jvp,
        "0/1 diag | 0/1 diag",
        pattern=lambda deps, xs, ans, cond: J.masked(deps, xs, ans, [cond, ~np.asarray(cond)]),
        dense=lambda x, y, cond: [J.diagonal(_where_mask(cond, x, y)), J.diagonal(~_where_mask(cond, x, y))],
        formulas=("g where cond", "g where not cond"),
    )
)

# ---------------------------------------------------------------------------------------------
# Linear: the JVP is the op itself, the VJP its transpose
# ---------------------------------------------------------------------------------------------

NEG = linear("neg", np.negative, lambda g, ans, x: -g, "-I", pattern=J.same, formulas=("-g",))
# identity: a new node with the same values, through which an inner transform's input stays
# connected to the enclosing one's graph.
IDENTITY = linear("identity", lambda x: x, lambda g, ans, x: g, "I", pattern=J.same, formulas=("g",),
                  vjp_flops=_zero_flops, flops=_zero_flops)


def _cast(g: Any, dtype: Any) -> Any:
    if g.dtype == dtype:
        return g
    return g.astype(dtype) if g.__class__ is _ndarray else _apply(ASTYPE, (g,), (np.dtype(dtype),))


# astype: the identity map between dtypes; its transpose casts back.
ASTYPE = linear(
    "astype",
    lambda x, dtype: x.astype(dtype),
    lambda g, ans, x, dtype: _cast(g, x.dtype),
    "I",
    pattern=J.same,
    formulas=("g cast to x's dtype",),
)


def _add_jvp(x_dots, ans, x, y):
    x_dot, y_dot = x_dots
    if y_dot is None:
        return x_dot
    if x_dot is None:
        return y_dot
    return x_dot + y_dot


# add is linear in both inputs together: dx = g, dy = g.
ADD = register(
    Primitive(
        "add",
        "linear",
        2,
        np.add,
        (lambda g, ans, x, y: g, lambda g, ans, x, y: g),
        _add_jvp,
        "I | I",
        pattern=J.union,
        dense=lambda x, y: [np.eye(x.size), np.eye(y.size)],
        vjp_flops=_zero_flops,
        formulas=("g",),
    )
)


def _broadcast_badge(in_shapes, out_shape, static):
    axes = broadcast_axes(tuple(in_shapes[0]), tuple(out_shape))
    return f"Σ {_axes_text(axes)}" if axes else "identity"


def _broadcast_formula(in_shapes, out_shape, static):
    axes = broadcast_axes(tuple(in_shapes[0]), tuple(out_shape))
    return f"Σ g over {_axes_text(axes)}" if axes else "g"


# broadcast_to replicates x along new leading or size-1 axes: one 1 per output element, so the
# transpose sums g over the replicated axes.
BROADCAST_TO = linear(
    "broadcast_to",
    _broadcast_array,
    lambda g, ans, x, shape: sum_to(g, x.shape),
    _broadcast_badge,
    pattern=lambda deps, xs, ans, shape: J.full(deps[0], tuple(shape)),
    dense=lambda x, shape: [J.of_linear_map(lambda a: np.broadcast_to(a, shape), x)],
    flops=_zero_flops,  # a move: no arithmetic
    vjp_flops=lambda xs, ans, g_in: ans.size if g_in.size != ans.size else 0,  # sum_to adds replicas
    formulas=(_broadcast_formula,),
)


def _sum(x, axis, keepdims):
    # The method skips np.sum's dispatch layer (half the cost on small arrays); a full
    # reduction gives a NumPy scalar, and tensors' data are arrays.
    return np.asarray(x.sum(axis=axis, keepdims=keepdims))


def _kept_shape(shape: tuple, axis: Any) -> tuple:
    """``shape`` with the reduced axes (all when ``axis`` is None) set to 1."""
    return tuple(1 if axis is None or k in axis else n for k, n in enumerate(shape))


def _sum_vjp(g, ans, x, axis, keepdims):
    # A row of ones per output element: broadcast g back over the summed axes.
    if not keepdims:
        g = g.reshape(_kept_shape(x.shape, axis))
    return broadcast(g, tuple(x.shape))


def _reduced_text(prefix: str, suffix: str = "") -> NodeText:
    def text(in_shapes, out_shape, static):
        axis = static[0] if static else None
        where = "all axes" if axis is None else _axes_text(tuple(axis))
        return f"{prefix}{where}{suffix}"

    return text


SUM = linear(
    "sum",
    _sum,
    _sum_vjp,
    _reduced_text("row of ones, "),
    pattern=lambda deps, xs, ans, axis, keepdims: np.any(
        deps[0], axis=tuple(range(xs[0].ndim)) if axis is None else axis, keepdims=keepdims
    ),
    flops=lambda xs, ans, *static: xs[0].size,
    vjp_flops=_zero_flops,  # g broadcast back: no arithmetic
    formulas=(_reduced_text("g broadcast over "),),
)


def _inverse_permutation(axes):
    return tuple(int(a) for a in np.argsort(axes))


def _transpose_formula(in_shapes, out_shape, static):
    axes = tuple(static[0]) if static else ()
    return "gᵀ" if axes == (1, 0) else f"g permuted by {_inverse_permutation(axes)}"


TRANSPOSE = linear(
    "transpose",
    np.transpose,
    lambda g, ans, x, axes: g.transpose(_inverse_permutation(axes)),
    lambda in_shapes, out_shape, static: f"permutation {tuple(static[0])}" if static else "permutation",
    pattern=lambda deps, xs, ans, axes: np.transpose(deps[0], tuple(axes) + (xs[0].ndim,)),
    flops=_zero_flops,
    vjp_flops=_zero_flops,
    formulas=(_transpose_formula,),
)
RESHAPE = linear(
    "reshape",
    np.reshape,
    lambda g, ans, x, shape: g.reshape(tuple(x.shape)),
    "permutation",
    pattern=lambda deps, xs, ans, shape: deps[0].reshape(tuple(shape) + deps[0].shape[-1:]),
    flops=_zero_flops,
    vjp_flops=_zero_flops,
    formulas=(lambda in_shapes, out_shape, static: f"g reshaped to {tuple(in_shapes[0])}",),
)


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


def _scatter_add_pattern(deps, xs, ans, index, shape):
    """Each output element depends on every input element added into it."""
    out = np.zeros(tuple(shape) + deps[0].shape[-1:], dtype=bool)
    np.logical_or.at(out, index, deps[0])
    return out


GETITEM = linear(
    "getitem",
    lambda x, index: np.asarray(x[index]),
    lambda g, ans, x, index: lift(SCATTER_ADD, (g,), (index, tuple(x.shape))),
    "selection",
    pattern=lambda deps, xs, ans, index: np.asarray(deps[0][index]),
    flops=_zero_flops,
    formulas=("g scattered back into x's shape (repeats add)",),
)
SCATTER_ADD = linear(
    "scatter_add",
    _scatter_add,
    lambda g, ans, x, index, shape: lift(GETITEM, (g,), (index,)),
    "selection",
    pattern=_scatter_add_pattern,
    dense=lambda g, index, shape: [J.of_linear_map(lambda a: _scatter_add(a, index, shape), g)],
    vjp_flops=_zero_flops,
    formulas=("g[index]",),
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


def _concatenate_pattern(deps, xs, ans, axis):
    """The inputs' patterns side by side (nothing where an input is a constant)."""
    n = J.width(deps)
    parts = [np.zeros(x.shape + (n,), dtype=bool) if d is None else d for d, x in zip(deps, xs)]
    return np.concatenate(parts, axis=axis)


def _concatenate_dense(*args):
    """One identity block per input, at that input's offset along the axis."""
    *xs, axis = args
    blocks = []
    for i, x in enumerate(xs):
        others = [np.zeros(y.shape) for y in xs]

        def place(a, i=i, others=others):
            parts = list(others)
            parts[i] = a
            return np.concatenate(parts, axis=axis)

        blocks.append(J.of_linear_map(place, x))
    return blocks


CONCATENATE = register(
    Primitive(
        "concatenate",
        "linear",
        -1,
        lambda *args: np.concatenate(args[:-1], axis=args[-1]),
        _PerInput(_concatenate_vjp),
        _concatenate_jvp,
        "I blocks",
        pattern=_concatenate_pattern,
        dense=_concatenate_dense,
        flops=_zero_flops,
        vjp_flops=_zero_flops,
        formulas=("g's slice of this input",),
    )
)

# ---------------------------------------------------------------------------------------------
# Reductions that select: max and min
# ---------------------------------------------------------------------------------------------


def _extremum_share(x: Any, ans: Any, axis: Any) -> Array:
    """Where each element of ``x`` attains its reduction's extremum, as a share of 1: the tied
    elements of a reduction split its gradient equally (NaN, the extremum of a reduction that
    holds one, counts as a tie with itself). Piecewise constant: read from the values."""
    x, ans = values(x), values(ans)
    kept = ans.reshape(_kept_shape(x.shape, axis))
    hits = (x == kept) | (np.isnan(x) & np.isnan(kept)) if x.dtype.kind == "f" else x == kept
    count = hits.sum(axis=axis, keepdims=True)
    return hits / np.maximum(count, 1).astype(x.dtype if x.dtype.kind == "f" else np.float64)


def _extremum(name: str, reduce: Callable, which: str) -> Primitive:
    def forward(x, axis, keepdims):
        return np.asarray(reduce(x, axis=axis, keepdims=keepdims))

    def vjp(g, ans, x, axis, keepdims):
        share = _extremum_share(x, ans, axis)
        if not keepdims:
            g = g.reshape(_kept_shape(x.shape, axis))
        return broadcast(g, tuple(x.shape)) * share

    def jvp(x_dots, ans, x, axis, keepdims):
        return (x_dots[0] * _extremum_share(x, ans, axis)).sum(axis=axis, keepdims=keepdims)

    def pattern(deps, xs, ans, axis, keepdims):
        hits = _extremum_share(xs[0], ans, axis) != 0
        axes = tuple(range(xs[0].ndim)) if axis is None else axis
        return np.any(deps[0] & hits[..., None], axis=axes, keepdims=keepdims)

    def dense(x, axis, keepdims):
        share = _extremum_share(x, forward(x, axis, keepdims), axis)
        return [J.of_linear_map(lambda a: np.sum(a * share, axis=axis, keepdims=keepdims), x)]

    return register(
        Primitive(
            name,
            "reduction",
            1,
            forward,
            (vjp,),
            jvp,
            _reduced_text(f"{which} of ", " (ties share)"),
            pattern=pattern,
            dense=dense,
            flops=lambda xs, ans, *static: xs[0].size,
            vjp_flops=lambda xs, ans, g_in: xs[0].size,
            formulas=(_reduced_text(f"g to the {which} over ", ", shared at ties"),),
        )
    )


MAX = _extremum("max", np.max, "maxima")
MIN = _extremum("min", np.min, "minima")

# ---------------------------------------------------------------------------------------------
# Bilinear: mul and matmul
# ---------------------------------------------------------------------------------------------

MUL = bilinear(
    "mul",
    np.multiply,
    lambda g, ans, x, y: g * y,
    lambda g, ans, x, y: g * x,
    "diag",
    pattern=J.product,
    dense=lambda x, y: [J.diagonal(np.broadcast_to(y, x.shape)), J.diagonal(np.broadcast_to(x, y.shape))],
    formulas=("g * y", "g * x"),
)


def _outer(a, b):
    """``a ⊗ b``: ``a`` with one new axis per axis of ``b``, times ``b`` (arrays or tensors)."""
    return a.reshape(tuple(a.shape) + (1,) * b.ndim) * b


def _swap(a):
    """The last two axes of a stack of matrices swapped (arrays or tensors)."""
    axes = tuple(range(a.ndim - 2)) + (a.ndim - 1, a.ndim - 2)
    return a.transpose(axes)


def _as_matrices(g, x, y):
    """``g``, ``x`` and ``y`` as stacks of matrices: a vector ``x`` is one row, a vector ``y``
    one column, and ``g`` gets the axes they dropped from the product back."""
    g_shape = tuple(g.shape)
    if y.ndim == 1:
        y = y.reshape((y.shape[0], 1))
        g_shape = g_shape + (1,)
    if x.ndim == 1:
        x = x.reshape((1, x.shape[0]))
        g_shape = g_shape[:-1] + (1,) + g_shape[-1:]
    return g.reshape(g_shape), x, y


def _matmul_vjp_x(g, ans, x, y):
    """dW = G X^T (with the vector cases of ``W @ X`` written out); over a stack of matrices,
    summed over the batch axes that broadcasting added to W."""
    if x.ndim > 2 or y.ndim > 2:
        g2, x2, y2 = _as_matrices(g, x, y)
        return sum_to(g2 @ _swap(y2), tuple(x2.shape)).reshape(tuple(x.shape))
    if y.ndim == 1:
        return _outer(g, y) if x.ndim == 2 else g * y
    if x.ndim == 1:
        return y @ g
    return product(g, y.T)


def _matmul_vjp_y(g, ans, x, y):
    """dX = W^T G (with the vector cases of ``W @ X`` written out), summed over added batch axes."""
    if x.ndim > 2 or y.ndim > 2:
        g2, x2, y2 = _as_matrices(g, x, y)
        return sum_to(_swap(x2) @ g2, tuple(y2.shape)).reshape(tuple(y.shape))
    if x.ndim == 1:
        return _outer(x, g) if y.ndim == 2 else g * x
    return product(x.T, g)


def _matmul_pattern(deps, xs, ans):
    """``F = W X``: ``F[i, j]`` depends on ``W[i, k]`` where ``X[k, j]`` can be nonzero, and on
    ``X[k, j]`` where ``W[i, k]`` can be nonzero: a boolean matrix product per matrix of the
    stack, done as a float32 product of 0/1 (exact for k < 2**24) so that BLAS does it."""
    x, y = xs
    dx, dy = deps
    n = J.width(deps)
    x2 = x.reshape(1, -1) if x.ndim == 1 else x
    y2 = y.reshape(-1, 1) if y.ndim == 1 else y
    out = False
    if dx is not None:
        # out[..., i, j, :] |= OR_k dx[..., i, k, :] & y_nonzero[..., k, j]
        d = np.moveaxis(dx.reshape(x2.shape + (n,)).astype(np.float32), -1, -3)  # (..., n, i, k)
        y_nonzero = J.nonzero(y2, dy).astype(np.float32)[..., None, :, :]
        out = out | (np.moveaxis(d @ y_nonzero, -3, -1) > 0)
    if dy is not None:
        # out[..., i, j, :] |= OR_k x_nonzero[..., i, k] & dy[..., k, j, :]
        d = np.moveaxis(dy.reshape(y2.shape + (n,)).astype(np.float32), -1, -3)  # (..., n, k, j)
        x_nonzero = J.nonzero(x2, dx).astype(np.float32)[..., None, :, :]
        out = out | (np.moveaxis(x_nonzero @ d, -3, -1) > 0)
    return np.asarray(out).reshape(tuple(ans.shape) + (n,))


def _matmul_flops(xs, ans, *static):
    # Every output element is a dot product of length k: k multiplies and k adds.
    x = xs[0]
    return 2 * ans.size * (x.shape[-1] if x.ndim else 1)


MATMUL = bilinear(
    "matmul",
    _matmul_forward,
    _matmul_vjp_x,
    _matmul_vjp_y,
    "G·Xᵀ / Wᵀ·G",
    pattern=_matmul_pattern,
    flops=_matmul_flops,
    vjp_flops=lambda xs, ans, g_in: _matmul_flops(xs, ans),
    formulas=("G·Xᵀ", "Wᵀ·G"),
    inputs=("W", "X"),  # docs/maths.md's Z = W X
)
