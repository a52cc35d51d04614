"""Properties every primitive and every nn function must have, on shapes drawn by hypothesis.

Each entry of :data:`PRIMITIVE_SPECS` (one per entry of ``autograd.PRIMITIVES``) and
:data:`NN_SPECS` (one per public function of ``nn``) draws inputs inside the function's domain
and off its kinks, then every test below checks one property with an outside referee:

* reverse mode against float64 central differences (``uᵀJ`` for a random ``u``);
* forward mode against float64 central differences (``J v`` for a random ``v``);
* the dot-product test ``<u, J v> = <Jᵀ u, v>`` to 1e-12 relative;
* gradients with the input's shape and dtype (float64 and float32);
* a zero cotangent (and a zero tangent) gives exact zeros;
* two backward runs are bitwise identical;
* float32 forward values within 1.3e-6 of float64 ones, relative to the magnitude of the
  result (of the terms summed, for reductions: a float32 sum of terms that cancel cannot be
  more accurate than its terms), plus float32's smallest normal number (subnormal results
  have only absolute accuracy).

A primitive registered without an entry here fails :func:`test_every_primitive_has_a_spec`
and every parametrized test below.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays, mutually_broadcastable_shapes

import nn
from autograd import PRIMITIVES, Tensor, apply, linear, maximum, minimum, softmax_cross_entropy, where
from tests.referees import (
    dot_product_gap,
    evaluate,
    forward_jvp,
    numerical_jvp,
    numerical_vjp,
    reverse_vjp,
)

PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FLOAT32_RTOL = 1.3e-6


@dataclass(frozen=True)
class Example:
    """Inputs in float64 and the function of tensors to differentiate at them."""

    arrays: tuple[np.ndarray, ...]
    f: Callable[..., Tensor]
    # The magnitude the float32 error is measured against: None for |f(x)| itself.
    scale: Callable[..., np.ndarray] | None = None


# ---------------------------------------------------------------------------------------------
# Strategies: shapes and values
# ---------------------------------------------------------------------------------------------

SHAPES = array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
BROADCASTABLE = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=4)
# 1-D and 2-D operands only (the engine's matmul): no batch dimensions.
MATMUL_SHAPES = mutually_broadcastable_shapes(
    signature=np.matmul.signature, max_dims=0, min_side=0, max_side=4
)


def floats(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)


ANY = floats(-4, 4)
POSITIVE = floats(0.25, 4)
# Off zero: a pole (reciprocal) or a kink (relu), far beyond the finite-difference step.
OFF_ZERO = st.one_of(floats(-4, -0.25), floats(0.25, 4))
PROBABILITY = floats(0.05, 0.95)


def values(shape, elements=ANY) -> st.SearchStrategy[np.ndarray]:
    return arrays(np.float64, shape, elements=elements)


def _abs_forward(f):
    """The magnitude of the terms of a linear or bilinear map: ``f`` applied to ``|x|``."""
    return lambda *xs: evaluate(f, [np.abs(x) for x in xs])


def _unary(method: Callable[[Tensor], Tensor], elements=ANY):
    return st.builds(lambda x: Example((x,), method), SHAPES.flatmap(lambda s: values(s, elements)))


@st.composite
def _binary(draw, f):
    shapes = draw(BROADCASTABLE)
    x, y = (draw(values(shape)) for shape in shapes.input_shapes)
    return Example((x, y), f)


@st.composite
def _matmul(draw):
    shapes = draw(MATMUL_SHAPES)
    w, x = (draw(values(shape, floats(-2, 2))) for shape in shapes.input_shapes)
    f = lambda w, x: w @ x  # noqa: E731
    return Example((w, x), f, _abs_forward(f))


@st.composite
def _broadcast_to(draw):
    # The first operand of a broadcastable pair broadcasts to the pair's result shape.
    shapes = draw(BROADCASTABLE)
    x = draw(values(shapes.input_shapes[0]))
    target = shapes.result_shape
    return Example((x,), lambda x: apply(PRIMITIVES["broadcast_to"], (x,), (target,)))


@st.composite
def _sum(draw):
    shape = draw(SHAPES)
    ndim = len(shape)
    # A set of axes (negative ones too) most of the time, all axes (None) now and then.
    axes = (
        draw(st.lists(st.integers(-ndim, ndim - 1), unique_by=lambda a: a % ndim, max_size=ndim))
        if ndim
        else []
    )
    axis = None if draw(st.integers(0, 3)) == 3 else tuple(axes)
    keepdims = draw(st.booleans())
    f = lambda x: x.sum(axis=axis, keepdims=keepdims)  # noqa: E731
    return Example((draw(values(shape)),), f, _abs_forward(f))


@st.composite
def _transpose(draw):
    shape = draw(SHAPES)
    axes = tuple(draw(st.permutations(range(len(shape)))))
    return Example((draw(values(shape)),), lambda x: x.transpose(axes))


@st.composite
def _reshape(draw):
    # A new shape of the same size: the sides permuted, neighbours merged, ones inserted.
    shape = draw(SHAPES)
    new: list[int] = []
    for n in draw(st.permutations(shape)):
        if new and draw(st.booleans()):
            new[-1] *= n
        else:
            new.append(n)
    for _ in range(draw(st.integers(0, 2))):
        new.insert(draw(st.integers(0, len(new))), 1)
    target = tuple(new)
    return Example((draw(values(shape)),), lambda x: x.reshape(target))


@st.composite
def _linear(draw):
    # The fused Z = W X + b, with each bias shape that broadcasts over W X's columns.
    n, k, m = (draw(st.integers(0, 4)) for _ in range(3))
    bias = draw(st.sampled_from([(n, 1), (n, m), (1, m), ()]))
    w, x, b = (draw(values(shape, floats(-2, 2))) for shape in ((n, k), (k, m), bias))
    return Example((w, x, b), linear, _abs_forward(linear))


@st.composite
def _softmax_cross_entropy(draw):
    # The fused cost from the logits, differentiated in both Z and any non-negative targets Y.
    shape = draw(array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=4))
    z, y = draw(values(shape, floats(-8, 8))), draw(values(shape, floats(0, 1)))
    # Every term Y ⊙ log A has the same sign: measure float32 error against |J| + 1.
    scale = lambda z, y: np.abs(evaluate(softmax_cross_entropy, [z, y])) + 1.0  # noqa: E731
    return Example((z, y), softmax_cross_entropy, scale)


@st.composite
def _selection(draw, make_index):
    """``x[index]`` or its transpose, for an index drawn for ``x``'s shape."""
    shape = draw(array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    index = make_index(rng, shape)
    return draw(values(shape)), index


def _random_index(rng, shape):
    """An integer array (repeats allowed) on the first axis, a slice, or a boolean mask."""
    kind = rng.integers(0, 3)
    if kind == 0:
        return (rng.integers(0, shape[0], size=rng.integers(1, 6)),)
    if kind == 1:
        return (slice(int(rng.integers(0, shape[0])), None),)
    return (rng.random(shape) < 0.5,)


@st.composite
def _getitem(draw):
    x, index = draw(_selection(_random_index))
    return Example((x,), lambda x: apply(PRIMITIVES["getitem"], (x,), (index,)))


@st.composite
def _scatter_add(draw):
    x, index = draw(_selection(_random_index))
    g = draw(values(np.asarray(x[index]).shape))
    return Example((g,), lambda g: apply(PRIMITIVES["scatter_add"], (g,), (index, x.shape)))


@st.composite
def _concatenate(draw):
    shape = draw(array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4))
    axis = draw(st.integers(0, len(shape) - 1))
    n = draw(st.integers(1, 3))
    parts = []
    for _ in range(n):
        part = list(shape)
        part[axis] = draw(st.integers(0, 3))
        parts.append(draw(values(tuple(part))))
    return Example(tuple(parts), lambda *xs: apply(PRIMITIVES["concatenate"], xs, (axis,)))


@st.composite
def _binary_in(draw, f, x_elements=ANY, y_elements=ANY):
    shapes = draw(BROADCASTABLE)
    x = draw(values(shapes.input_shapes[0], x_elements))
    y = draw(values(shapes.input_shapes[1], y_elements))
    return Example((x, y), f)


@st.composite
def _extremum2(draw, f):
    # Off ties: x and y at least 0.25 apart (ties are tested on their own in tests/test_core_ops.py).
    shapes = draw(BROADCASTABLE)
    x = draw(values(shapes.input_shapes[0]))
    y = draw(values(shapes.input_shapes[1], OFF_ZERO))
    return Example((x, y), lambda x, y: f(x, y + x))  # y + x differs from x by |y| >= 0.25


@st.composite
def _where(draw):
    shapes = draw(BROADCASTABLE)
    x, y = (draw(values(shape)) for shape in shapes.input_shapes)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cond = rng.random(shapes.result_shape) < 0.5
    return Example((x, y), lambda x, y: where(cond, x, y))


@st.composite
def _clip(draw):
    shape = draw(SHAPES)
    lo = draw(st.sampled_from([None, -1.0, 0.5]))
    hi = draw(st.sampled_from([None, 1.5, 3.0]))
    # Off the bounds by more than the finite-difference step.
    x = draw(values(shape, st.sampled_from([-3.0, -1.7, -0.3, 0.9, 1.1, 2.2, 3.6]).map(float)))
    return Example((x,), lambda x: x.clip(lo, hi))


@st.composite
def _extremum(draw, method):
    # Distinct values (no ties): a permutation of spaced values, then a reduction like sum's.
    shape = draw(SHAPES)
    size = int(np.prod(shape))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = (rng.permutation(size) * 0.37 - size * 0.15).reshape(shape).astype(np.float64)
    ndim = len(shape)
    axes = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim)) if ndim else []
    axis = None if draw(st.integers(0, 3)) == 3 or not axes else tuple(axes)
    reduced = range(ndim) if axis is None else axis
    if any(shape[a] == 0 for a in reduced):
        axis = tuple(a for a in range(ndim) if shape[a] != 0) or None
        if axis is None and size == 0:
            shape, x = (2,), np.array([0.3, -0.4])
    keepdims = draw(st.booleans())
    return Example((x,), lambda x: getattr(x, method)(axis=axis, keepdims=keepdims))


PRIMITIVE_SPECS: dict[str, st.SearchStrategy[Example]] = {
    "abs": _unary(lambda x: x.abs(), OFF_ZERO),
    "sqrt": _unary(lambda x: x.sqrt(), POSITIVE),
    "tanh": _unary(lambda x: x.tanh()),
    "sigmoid": _unary(lambda x: x.sigmoid(), floats(-8, 8)),
    "sin": _unary(lambda x: x.sin()),
    "cos": _unary(lambda x: x.cos()),
    "clip": _clip(),
    "divide": _binary_in(lambda x, y: x / y, ANY, OFF_ZERO),
    "power": _binary_in(lambda x, y: x**y, POSITIVE, floats(-3, 3)),
    "maximum": _extremum2(maximum),
    "minimum": _extremum2(minimum),
    "where": _where(),
    "max": _extremum("max"),
    "min": _extremum("min"),
    "identity": _unary(lambda x: apply(PRIMITIVES["identity"], (x,))),
    "astype": _unary(lambda x: apply(PRIMITIVES["astype"], (x,), (x.dtype,))),
    "getitem": _getitem(),
    "scatter_add": _scatter_add(),
    "concatenate": _concatenate(),
    "exp": _unary(lambda x: x.exp()),
    "log": _unary(lambda x: x.log(), POSITIVE),
    "reciprocal": _unary(lambda x: x.reciprocal(), OFF_ZERO),
    "relu": _unary(lambda x: x.relu(), OFF_ZERO),
    "neg": _unary(lambda x: -x),
    "add": _binary(lambda x, y: x + y),
    "mul": _binary(lambda x, y: x * y),
    "matmul": _matmul(),
    "broadcast_to": _broadcast_to(),
    "sum": _sum(),
    "transpose": _transpose(),
    "reshape": _reshape(),
    "linear": _linear(),
    "softmax_cross_entropy": _softmax_cross_entropy(),
}

# ---------------------------------------------------------------------------------------------
# nn functions: activations on (n, m) batches, costs with respect to their predictions
# ---------------------------------------------------------------------------------------------

BATCHES = array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=4)


def _activation(fn, elements=ANY, shapes=SHAPES, scale=None):
    return st.builds(lambda z: Example((z,), fn, scale), shapes.flatmap(lambda s: values(s, elements)))


def _at_least_one(fn):
    """``max(|f(x)|, 1)``: absolute accuracy where the result is small.

    For results computed as ``1 - e`` (tanh near 0) or ``log(1 + s)`` (log_softmax of a
    dominant logit): without expm1/log1p primitives these cancel, in any dtype, and keep about
    float32's epsilon in absolute, not relative, accuracy.
    """
    return lambda *xs: np.maximum(np.abs(evaluate(fn, xs)), 1.0)


def _one_hot(shape, column_classes) -> np.ndarray:
    y = np.zeros(shape)
    y[np.asarray(column_classes) % shape[0], np.arange(shape[1])] = 1.0
    return y


@st.composite
def _cost(draw, cost, elements, targets):
    shape = draw(BATCHES)
    a = draw(values(shape, elements))
    if targets == "one_hot":
        y = _one_hot(shape, draw(st.lists(st.integers(0, 3), min_size=shape[1], max_size=shape[1])))
    else:
        y = draw(values(shape, floats(0, 1)))
    f = lambda a: cost(a, y)  # noqa: E731
    # Each term of a cost sums with the others: measure float32 error against Σ|terms|.
    return Example((a,), f, lambda a: np.abs(evaluate(f, [a])) + 1.0)


@st.composite
def _labels_cost(draw, cost):
    shape = draw(BATCHES)
    z = draw(values(shape, floats(-8, 8)))
    labels = np.array(draw(st.lists(st.integers(0, shape[0] - 1), min_size=shape[1], max_size=shape[1])))
    f = lambda z: cost(z, labels)  # noqa: E731
    return Example((z,), f, lambda z: np.abs(evaluate(f, [z])) + 1.0)


NN_SPECS: dict[str, st.SearchStrategy[Example]] = {
    "relu": _activation(nn.relu, OFF_ZERO),
    "sigmoid": _activation(nn.sigmoid, floats(-8, 8)),
    "tanh": _activation(nn.tanh, floats(-4, 4), scale=_at_least_one(nn.tanh)),
    "softmax": _activation(
        nn.softmax, floats(-8, 8), array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=4)
    ),
    "log_softmax": _activation(
        nn.log_softmax,
        floats(-8, 8),
        array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=4),
        scale=_at_least_one(nn.log_softmax),
    ),
    "binary_cross_entropy": _cost(nn.binary_cross_entropy, PROBABILITY, "probabilities"),
    "cross_entropy": _labels_cost(nn.cross_entropy),
    "categorical_cross_entropy": _cost(nn.categorical_cross_entropy, PROBABILITY, "one_hot"),
    "softmax_cross_entropy": _cost(nn.softmax_cross_entropy, floats(-8, 8), "one_hot"),
    "binary_cross_entropy_with_logits": _cost(
        nn.binary_cross_entropy_with_logits, floats(-8, 8), "probabilities"
    ),
}

NN_FUNCTIONS = sorted(
    name for name, value in vars(nn).items() if inspect.isfunction(value) and not name.startswith("_")
)

SPECS = {**{f"primitive:{name}": PRIMITIVE_SPECS.get(name) for name in PRIMITIVES}}
SPECS.update({f"nn:{name}": NN_SPECS.get(name) for name in NN_FUNCTIONS})
SUBJECTS = sorted(SPECS, key=lambda key: (not key.startswith("primitive"), key))


def _spec(subject: str) -> st.SearchStrategy[Example]:
    spec = SPECS[subject]
    if spec is None:
        raise AssertionError(f"{subject} has no property entry in tests/test_properties.py")
    return spec


def _random(data, shape) -> np.ndarray:
    """A cotangent or tangent: uniform in [-1, 1], from a seed hypothesis chooses."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    return rng.uniform(-1.0, 1.0, shape)


def _close(actual: np.ndarray, expected: np.ndarray, atol: float, rtol: float = 1e-5) -> None:
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------------
# The table is complete
# ---------------------------------------------------------------------------------------------


def test_every_primitive_has_a_spec():
    """Every registered primitive has a property entry, and no entry names a missing one."""
    assert set(PRIMITIVE_SPECS) == set(PRIMITIVES), (
        f"missing: {sorted(set(PRIMITIVES) - set(PRIMITIVE_SPECS))}, "
        f"stale: {sorted(set(PRIMITIVE_SPECS) - set(PRIMITIVES))}"
    )


def test_every_nn_function_has_a_spec():
    """Every public function of nn has a property entry, and no entry names a missing one."""
    assert set(NN_SPECS) == set(NN_FUNCTIONS), (
        f"missing: {sorted(set(NN_FUNCTIONS) - set(NN_SPECS))}, "
        f"stale: {sorted(set(NN_SPECS) - set(NN_FUNCTIONS))}"
    )


# ---------------------------------------------------------------------------------------------
# The properties
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("subject", SUBJECTS)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_reverse_mode_matches_central_differences(subject, data):
    """uᵀJ from one backward equals float64 central differences of <u, f(x)>."""
    ex = data.draw(_spec(subject))
    out = evaluate(ex.f, ex.arrays)
    u = _random(data, out.shape)
    # Central differences carry rounding near eps_machine * |<u, f>| / eps.
    atol = 1e-8 * (1.0 + np.vdot(np.abs(u), np.abs(out)))
    for got, want in zip(reverse_vjp(ex.f, ex.arrays, u), numerical_vjp(ex.f, ex.arrays, u)):
        _close(got, want, atol)


@pytest.mark.parametrize("subject", SUBJECTS)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_forward_mode_matches_central_differences(subject, data):
    """J v from one forward sweep with tangents equals float64 central differences along v."""
    ex = data.draw(_spec(subject))
    vs = [_random(data, a.shape) for a in ex.arrays]
    out = evaluate(ex.f, ex.arrays)
    atol = 1e-8 * (1.0 + np.abs(out).max(initial=0.0))
    _close(forward_jvp(ex.f, ex.arrays, vs), numerical_jvp(ex.f, ex.arrays, vs), atol)


@pytest.mark.parametrize("subject", SUBJECTS)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_dot_product_of_vjp_and_jvp(subject, data):
    """<u, J v> from forward mode equals <Jᵀ u, v> from reverse mode to 1e-12 relative."""
    ex = data.draw(_spec(subject))
    u = _random(data, evaluate(ex.f, ex.arrays).shape)
    vs = [_random(data, a.shape) for a in ex.arrays]
    assert dot_product_gap(ex.f, ex.arrays, u, vs) <= 1e-12


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("subject", SUBJECTS)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_gradient_and_tangent_have_the_right_shape_and_dtype(subject, dtype, data):
    """Each gradient has its input's shape and dtype; the output tangent has the output's."""
    ex = data.draw(_spec(subject))
    arrays = [a.astype(dtype) for a in ex.arrays]
    leaves = [Tensor(a, requires_grad=True) for a in arrays]
    out = ex.f(*leaves)
    assert out.dtype == dtype
    out.backward(_random(data, out.shape))
    for leaf in leaves:
        assert leaf.grad.shape == leaf.shape
        assert leaf.grad.dtype == leaf.dtype
    tangent = forward_jvp(ex.f, arrays, [_random(data, a.shape) for a in arrays])
    assert tangent.shape == out.shape
    assert tangent.dtype == out.dtype


@pytest.mark.parametrize("subject", SUBJECTS)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_zero_cotangent_and_zero_tangent_give_exact_zeros(subject, data):
    """A zero seed gives gradients that are exactly zero, and zero tangents a zero tangent."""
    ex = data.draw(_spec(subject))
    out = evaluate(ex.f, ex.arrays)
    for grad in reverse_vjp(ex.f, ex.arrays, np.zeros(out.shape)):
        assert np.all(grad == 0)
    assert np.all(forward_jvp(ex.f, ex.arrays, [np.zeros(a.shape) for a in ex.arrays]) == 0)


@pytest.mark.parametrize("subject", SUBJECTS)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_two_backward_runs_are_bitwise_identical(subject, data):
    """The same forward and backward, run twice, give gradients with identical bits."""
    ex = data.draw(_spec(subject))
    u = _random(data, evaluate(ex.f, ex.arrays).shape)
    first = reverse_vjp(ex.f, ex.arrays, u)
    second = reverse_vjp(ex.f, ex.arrays, u)
    assert [g.tobytes() for g in first] == [g.tobytes() for g in second]


@pytest.mark.parametrize("subject", SUBJECTS)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_float32_forward_matches_float64(subject, data):
    """The float32 forward value is within 1.3e-6 of the float64 one, relative to its magnitude."""
    ex = data.draw(_spec(subject))
    # Both runs see the same (float32-representable) inputs: the error measured is the op's own.
    arrays32 = [a.astype(np.float32) for a in ex.arrays]
    arrays64 = [a.astype(np.float64) for a in arrays32]
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        single = ex.f(*[Tensor(a) for a in arrays32]).data
    assert single.dtype == np.float32
    double = evaluate(ex.f, arrays64)
    scale = np.abs(double) if ex.scale is None else ex.scale(*arrays64)
    # Below float32's smallest normal number only absolute accuracy is possible (subnormals).
    assert np.all(np.abs(single - double) <= FLOAT32_RTOL * scale + np.finfo(np.float32).tiny)
