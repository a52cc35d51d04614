"""Broadcasting is explicit: tracked operands get broadcast_to nodes, gradients sum back."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

from autograd import Tensor, maximum, minimum, where
from autograd.checks import gradcheck
from tests.primitive_cases import BROADCAST_PAIRS

BINARY_OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a.abs() ** b,
    "maximum": maximum,
    "minimum": minimum,
    "where": lambda a, b: where(_alternating(a, b), a, b),
}


def _alternating(a, b) -> np.ndarray:
    """A condition (True, False, True...) along the last axis, broadcast against both operands."""
    last = max(a.shape[-1:] + b.shape[-1:], default=None)
    return np.array(True) if last is None else np.arange(last) % 2 == 0

#: The NumPy function each op's values must equal, bit for bit.
NUMPY_OPS = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "pow": lambda a, b: np.power(np.abs(a), b),
    "maximum": np.maximum,
    "minimum": np.minimum,
}


def _operands(shapes, seed=0):
    rng = np.random.default_rng(seed)
    # Keep divisors away from zero so finite differences stay accurate.
    return [np.sign(x) * (np.abs(x) + 0.5) for x in (rng.standard_normal(s) for s in shapes)]


@pytest.mark.parametrize("op", BINARY_OPS)
@pytest.mark.parametrize("shapes", BROADCAST_PAIRS + [p[::-1] for p in BROADCAST_PAIRS], ids=str)
def test_broadcast_pairs_match_finite_differences(op, shapes):
    """Each binary op on each broadcasting pair agrees with central differences."""
    assert gradcheck(BINARY_OPS[op], *_operands(shapes))


@pytest.mark.parametrize("op", NUMPY_OPS)
@pytest.mark.parametrize("shapes", BROADCAST_PAIRS + [p[::-1] for p in BROADCAST_PAIRS], ids=str)
def test_broadcast_pairs_give_numpys_values_and_shapes(op, shapes):
    """Each binary op on each broadcasting pair gives NumPy's values, bit for bit, and shape."""
    a, b = _operands(shapes)
    out = BINARY_OPS[op](Tensor(a, requires_grad=True), Tensor(b))
    np.testing.assert_array_equal(out.data, NUMPY_OPS[op](a, b))
    assert out.shape == np.broadcast_shapes(a.shape, b.shape)


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
def test_gradients_have_each_operands_shape(shapes):
    """The gradient of each operand has that operand's shape, whatever the result's shape."""
    a, b = (Tensor(x, requires_grad=True) for x in _operands(shapes))
    (a * b + a).sum().backward()
    assert a.grad.shape == a.shape and b.grad.shape == b.shape


def test_empty_axis_against_size_one_axis_gives_zero_gradient():
    """(4, 0) + (4, 1) gives a (4, 1) gradient of zeros: nothing was summed into it."""
    a = Tensor(np.ones((4, 0)), requires_grad=True)
    b = Tensor(np.ones((4, 1)), requires_grad=True)
    (a + b).sum().backward()
    assert b.grad.shape == (4, 1)
    np.testing.assert_array_equal(b.grad, np.zeros((4, 1)))
    assert a.grad.shape == (4, 0)


def test_bias_column_gradient_is_the_row_sum():
    """b (n, 1) broadcast over m columns: db = Σ_axis1 dZ, as in docs/maths.md."""
    rng = np.random.default_rng(0)
    z = Tensor(rng.standard_normal((3, 5)), requires_grad=True)
    b = Tensor(rng.standard_normal((3, 1)), requires_grad=True)
    upstream = rng.standard_normal((3, 5))
    (z + b).backward(upstream)
    np.testing.assert_allclose(b.grad, upstream.sum(axis=1, keepdims=True), rtol=1e-14)
    np.testing.assert_allclose(z.grad, upstream, rtol=1e-14)


def test_tracked_operands_are_broadcast_by_a_recorded_node():
    """The graph of b + Z holds an explicit broadcast_to node; add sees equal shapes."""
    b = Tensor(np.zeros((3, 1)), requires_grad=True)
    z = Tensor(np.zeros((3, 4)), requires_grad=True)
    out = b + z
    assert out.op.name == "add"
    assert [p.shape for p in out.parents] == [(3, 4), (3, 4)]
    assert out.parents[0].op.name == "broadcast_to"
    assert out.parents[0].parents[0] is b


def test_constants_are_not_recorded():
    """A constant operand (an array or a number) gets no node: it never needs a gradient."""
    z = Tensor(np.zeros((3, 4)), requires_grad=True)
    out = z * np.ones((1, 4)) + 2.0
    assert out.op.name == "add"
    assert out.parents[0].op.name == "mul"
    assert out.parents[1].op is None and not out.parents[1].requires_grad


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.sampled_from(list(BINARY_OPS)),
    mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=3),
)
def test_generated_broadcast_shapes_match_finite_differences(op, shapes):
    """Hypothesis-generated broadcastable shapes (with 0-d and empty axes) pass gradcheck."""
    x, y = _operands(shapes.input_shapes, seed=7)
    assert gradcheck(BINARY_OPS[op], x, y)
    a, b = Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)
    out = BINARY_OPS[op](a, b)
    assert out.shape == shapes.result_shape
    out.backward(np.ones(out.shape))
    assert a.grad.shape == x.shape and b.grad.shape == y.shape


# ---------------------------------------------------------------------------------------------
# Sums along a matrix's axis (bias gradients, softmax totals): a product with ones on floats
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (32, 32), (10, 128), (256, 7), (4, 0), (0, 4)])
def test_sum_keepdims_by_product_equals_the_sum(dtype, axis, shape):
    """The BLAS product with ones gives NumPy's sum, keepdims shape and dtype, to within the
    rounding of a sum in another order (against a float64 referee, a few ulps of the total of
    the magnitudes); empty axes sum to zeros."""
    from autograd.primitives import sum_keepdims

    rng = np.random.default_rng(sum(shape) + axis)
    x = rng.standard_normal(shape).astype(dtype)
    total = sum_keepdims(x, axis)
    assert total.shape == x.sum(axis=axis, keepdims=True).shape and total.dtype == dtype
    exact = x.astype(np.float64).sum(axis=axis, keepdims=True)
    bound = 4 * np.finfo(dtype).eps * np.abs(x).astype(np.float64).sum(axis=axis, keepdims=True)
    assert np.all(np.abs(total - exact) <= bound + np.finfo(dtype).tiny)


def test_sum_keepdims_keeps_nonfinite_values_as_the_sum_does():
    """inf stays inf, inf - inf and NaN give NaN, column by column, as NumPy's sum: the ones
    never multiply an infinity by zero."""
    from autograd.primitives import sum_keepdims

    x = np.array([[np.inf, 1.0, np.nan], [1.0, -np.inf, 2.0], [np.inf, np.inf, 3.0]], dtype=np.float32)
    with np.errstate(invalid="ignore"):  # inf - inf: both warn alike
        for axis in (0, 1):
            np.testing.assert_array_equal(sum_keepdims(x, axis), x.sum(axis=axis, keepdims=True))


@pytest.mark.parametrize(
    "x",
    [
        np.arange(12.0, dtype=np.float16).reshape(3, 4),
        np.arange(12, dtype=np.int64).reshape(3, 4),
        np.arange(12.0).reshape(3, 4).astype(">f8"),  # byte-swapped float64
        np.arange(24.0).reshape(2, 3, 4),
    ],
    ids=["float16", "int64", "byte-swapped", "3-d"],
)
def test_sum_keepdims_of_other_arrays_is_numpys_sum(x):
    """Other dtypes and ranks are summed by NumPy itself: bit for bit its sum."""
    from autograd.primitives import sum_keepdims, sums_by_product

    for axis in (0, 1):
        assert not sums_by_product(x, axis)
        total = sum_keepdims(x, axis)
        np.testing.assert_array_equal(total, x.sum(axis=axis, keepdims=True))
        assert total.dtype == x.sum(axis=axis, keepdims=True).dtype
