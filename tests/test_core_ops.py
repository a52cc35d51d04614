"""The everyday operations, pinned on NumPy's and PyTorch's numbers.

Referees: NumPy's own functions (bit for bit where NumPy's function is the definition: divide,
power, tanh, sin...), PyTorch's values and gradients (computed once with torch 2.13 in float64
and written here), closed forms, and float64 central differences (``gradcheck``).
"""

from __future__ import annotations

import operator

import numpy as np
import pytest

import autograd
from autograd import Tensor, concatenate, grad, gradcheck, maximum, minimum, stack, where

RNG = np.random.default_rng(20)


def leaf(values, dtype=np.float64):
    return Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def grads_of(f, *values):
    """The value of ``f`` and the gradient of its sum with respect to each input."""
    leaves = [leaf(v) for v in values]
    out = f(*leaves)
    out.sum().backward()
    return out.data, [t.grad for t in leaves]


# ---------------------------------------------------------------------------------------------
# True division
# ---------------------------------------------------------------------------------------------


def test_integer_tensor_divided_by_an_integer_is_a_float():
    """Tensor([1, 2, 3]) / 2 is [0.5, 1, 1.5] in float64, as NumPy's int / int."""
    out = Tensor(np.array([1, 2, 3])) / 2
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.data, [0.5, 1.0, 1.5])
    np.testing.assert_array_equal((6 / Tensor(np.array([4, 3]))).data, [1.5, 2.0])


def test_float_divided_by_integer_tensor_and_its_gradient():
    """x / y with an integer y: NumPy's values and dtype, dx = 1/y, never zeros."""
    for dtype in (np.float32, np.float64):
        x = leaf([1.0, 2.0, 3.0], dtype)
        y = Tensor(np.array([2, 4, 8]))
        out = x / y
        assert out.dtype == np.divide(x.data, y.data).dtype
        np.testing.assert_array_equal(out.data, np.divide(x.data, y.data))
        out.sum().backward()
        assert x.grad.dtype == dtype
        np.testing.assert_allclose(x.grad, [0.5, 0.25, 0.125])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_division_by_a_number_is_bit_equal_to_np_divide(dtype):
    """x / 49 equals np.divide(x, 49) in every bit (x * (1/49) is 1 ulp off in half the elements)."""
    x = RNG.standard_normal(10_000).astype(dtype)
    np.testing.assert_array_equal((Tensor(x) / 49).data, np.divide(x, dtype(49)))
    np.testing.assert_array_equal((3 / Tensor(x)).data, np.divide(dtype(3), x))
    y = RNG.standard_normal(10_000).astype(dtype)
    np.testing.assert_array_equal((leaf(x, dtype) / Tensor(y)).data, np.divide(x, y))


@pytest.mark.parametrize(
    "x_dtype, y",
    [
        (np.int64, 2),
        (np.int32, np.int64(3)),
        (np.float32, 2),
        (np.float32, 2.5),
        (np.float32, np.float64(2.0)),
        (np.float64, np.float32(2.0)),
        (np.int64, np.arange(1, 4, dtype=np.int32)),
        (np.float32, np.arange(1, 4)),
    ],
)
def test_division_result_dtypes_are_numpys(x_dtype, y):
    """The result dtype of x / y is np.divide's (Python numbers never upcast float32; an integer
    array takes the float tensor's dtype, as in PyTorch)."""
    x = np.arange(1, 4).astype(x_dtype)
    out = Tensor(x) / y
    integer_array = np.ndim(y) and np.asarray(y).dtype.kind == "i"
    expected = np.divide(x, np.asarray(y, dtype=x_dtype) if integer_array and x_dtype == np.float32 else y)
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(out.data, expected)


def test_division_gradients_against_finite_differences():
    assert gradcheck(lambda x, y: x / y, RNG.standard_normal((2, 3)), RNG.standard_normal((3,)) + 3)
    assert gradcheck(lambda y: 2.0 / y, RNG.standard_normal(4) + 3)


# ---------------------------------------------------------------------------------------------
# Powers: NumPy's values, PyTorch's gradients (torch 2.13, float64)
# ---------------------------------------------------------------------------------------------

#: (x, y, x ** y, d/dx, d/dy) from torch.pow in float64.
TORCH_POWERS = [
    (0.0, 1.5, 0.0, 0.0, 0.0),
    (1.0, 1.5, 1.0, 1.5, 0.0),
    (0.0, 0.0, 1.0, 0.0, 0.0),
    (0.0, 2.0, 0.0, 0.0, 0.0),
    (0.0, -1.0, np.inf, -np.inf, -np.inf),
    (0.0, 0.5, 0.0, np.inf, 0.0),
    (0.0, 1.0, 0.0, 1.0, 0.0),
    (-2.0, 2.0, 4.0, -4.0, np.nan),
    (-2.0, 3.0, -8.0, 12.0, np.nan),
    (-1.0, 65.0, -1.0, 65.0, np.nan),
    (2.0, 0.0, 1.0, 0.0, np.log(2.0)),
    (np.inf, 2.0, np.inf, np.inf, np.inf),
    (2.0, np.inf, np.inf, np.inf, np.inf),
    (0.5, np.inf, 0.0, np.nan, -0.0),
    (-np.inf, 2.0, np.inf, -np.inf, np.nan),
    (-2.0, 0.5, np.nan, np.nan, np.nan),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("x, y, value, dx, dy", TORCH_POWERS)
def test_power_values_and_gradients_are_pytorchs(x, y, value, dx, dy):
    """x ** y with tensor base and exponent: PyTorch's value and both gradients, NaN only where
    PyTorch gives NaN (at 0, at negative bases, at ±inf)."""
    out, (gx, gy) = grads_of(lambda a, b: a**b, x, y)
    np.testing.assert_array_equal(out, value)
    np.testing.assert_array_equal(gx, dx)
    np.testing.assert_array_equal(gy, dy)


def test_the_wrong_powers_of_before():
    """Tensor(-1.) ** 65 is -1, 0 ** Tensor(0.) is 1, (-2.) ** Tensor(2.) is 4, grad of x ** 1.5 at
    0 is 0, d/dy 0 ** y at y = 2 is 0: none is NaN."""
    assert (Tensor(-1.0) ** 65).item() == -1.0
    assert (0 ** Tensor(0.0)).item() == 1.0
    assert ((-2.0) ** Tensor(2.0)).item() == 4.0
    assert grad(lambda x: x**1.5)(0.0) == 0.0
    assert grad(lambda y: 0.0**y)(2.0) == 0.0
    assert grad(lambda y: 0.0**y)(0.0) == 0.0
    assert grad(lambda x: x**65)(-1.0) == 65.0


@pytest.mark.parametrize("exponent", [0, 1, 2, 3, 7, 64, 65, 100, 1001, -1, -2, -65, 0.5, 1.5, -0.5])
def test_power_is_bit_equal_to_np_power(exponent):
    """x ** p equals np.power(x, p), negative bases with integer exponents of any size included."""
    x = RNG.standard_normal(1000)
    if not float(exponent).is_integer():
        x = np.abs(x)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal((Tensor(x) ** exponent).data, np.power(x, float(exponent)))
    if abs(exponent) <= 100:
        assert gradcheck(lambda t: t**exponent, np.abs(RNG.standard_normal(4)) * 0.2 + 0.9)


def test_power_with_array_and_integer_exponents():
    """Integer tensors keep NumPy's integer powers; array exponents broadcast."""
    ints = Tensor(np.array([1, 2, 3]))
    out = ints**2
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.data, [1, 4, 9])
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal((x ** np.array([2, 3])).data, np.power(x.data, [2.0, 3.0]))
    assert gradcheck(lambda b, e: b**e, np.abs(RNG.standard_normal((2, 3))) + 0.5, RNG.standard_normal(3))
    assert gradcheck(lambda e: 3.0**e, RNG.standard_normal(3))


# ---------------------------------------------------------------------------------------------
# Elementwise functions: NumPy's values, derivatives at their awkward points
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "tanh", "sin", "cos", "abs", "reciprocal"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unary_methods_are_bit_equal_to_numpy(name, dtype):
    x = (np.abs(RNG.standard_normal(1000)) + 0.1).astype(dtype) * RNG.choice([-1, 1], 1000).astype(dtype)
    if name in ("log", "sqrt"):
        x = np.abs(x)
    function = np.absolute if name == "abs" else getattr(np, name)
    out = getattr(Tensor(x), name)()
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.data, function(x))


def test_integer_tensors_go_through_float_functions_as_numpy_does():
    ints = Tensor(np.array([1, 4, 9]))
    for name in ("sqrt", "exp", "log", "tanh", "sigmoid", "sin"):
        out = getattr(ints, name)()
        assert out.dtype == np.float64
    np.testing.assert_array_equal(ints.sqrt().data, [1.0, 2.0, 3.0])
    assert abs(ints).dtype == np.int64


def test_tanh_keeps_relative_precision_near_zero_in_float32():
    """tanh(1e-8) is 1e-8 in float32, not 0."""
    x = np.float32(1e-8)
    assert Tensor(np.array(x)).tanh().item() == np.tanh(x) == x
    import nn

    assert nn.tanh(Tensor(np.array([1e-8], dtype=np.float32))).data[0] == np.float32(1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_accurate_to_a_few_ulps_everywhere(dtype):
    """sigmoid against a long-double reference over [-100, 100] (both tails included): within
    3 ulps of the dtype, relative, and never overflowing."""
    x = np.concatenate([np.linspace(-100, 100, 20_001), [-1e4, 1e4, -745.0, 0.0]]).astype(dtype)
    with np.errstate(over="raise"):
        out = Tensor(x).sigmoid().data
    e = np.exp(-np.abs(x.astype(np.longdouble)))
    reference = np.where(x >= 0, 1, e) / (1 + e)
    ulp = np.spacing(reference.astype(dtype)).astype(np.longdouble)
    tiny = np.finfo(dtype).tiny
    assert np.all(np.abs(out.astype(np.longdouble) - reference) <= 3 * np.maximum(ulp, tiny))


def test_derivatives_at_the_awkward_points():
    """abs' is 0 at 0, sqrt' is inf at 0, clip passes the gradient at its bounds (PyTorch's)."""
    _, (g,) = grads_of(lambda x: x.abs(), [-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(g, [-1.0, 0.0, 1.0])
    _, (g,) = grads_of(lambda x: x.clip(0.0, 1.0), [-1.0, 0.0, 0.5, 1.0, 2.0])
    np.testing.assert_array_equal(g, [0.0, 1.0, 1.0, 1.0, 0.0])
    with np.errstate(divide="ignore"):
        _, (g,) = grads_of(lambda x: x.sqrt(), [0.0, 4.0])
    np.testing.assert_array_equal(g, [np.inf, 0.25])


def test_clip_with_one_bound_and_its_errors():
    x = leaf([-2.0, 0.0, 2.0])
    np.testing.assert_array_equal(x.clip(hi=1.0).data, [-2.0, 0.0, 1.0])
    np.testing.assert_array_equal(x.clip(-1.0).data, [-1.0, 0.0, 2.0])
    with pytest.raises(TypeError, match="clip: the bound lo is a tensor that requires grad"):
        x.clip(leaf(0.0), 1.0)


# ---------------------------------------------------------------------------------------------
# Comparisons
# ---------------------------------------------------------------------------------------------


def test_comparisons_are_elementwise_and_carry_no_gradient():
    x, y = leaf([1.0, 2.0, 3.0]), leaf([1.0, 3.0, 2.0])
    expected = {
        "==": [True, False, False],
        "!=": [False, True, True],
        "<": [False, True, False],
        "<=": [True, True, False],
        ">": [False, False, True],
        ">=": [True, False, True],
    }
    functions = {
        "==": operator.eq,
        "!=": operator.ne,
        "<": operator.lt,
        "<=": operator.le,
        ">": operator.gt,
        ">=": operator.ge,
    }
    for symbol, values in expected.items():
        compare = functions[symbol]
        for out in (compare(x, y), compare(x, y.data), compare(x.data, y)):
            assert isinstance(out, Tensor) and out.dtype == np.bool_ and not out.requires_grad
            np.testing.assert_array_equal(out.data, values)
    assert ((x > 1.5) == Tensor(np.array([False, True, True]))).data.all()


def test_tensors_stay_hashable_by_identity():
    x, y = Tensor([1.0]), Tensor([1.0])
    assert len({x, y}) == 2
    assert {x: 1, y: 2}[y] == 2


def test_comparison_of_shapes_that_do_not_broadcast_names_both():
    with pytest.raises(ValueError, match=r"<: operands of shapes \(2,\) and \(3,\)"):
        operator.lt(Tensor([1.0, 2.0]), Tensor([1.0, 2.0, 3.0]))


# ---------------------------------------------------------------------------------------------
# Indexing
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "index",
    [
        0,
        -1,
        (slice(None), 1),
        (slice(None, None, -1),),
        (np.array([2, 0, 2]),),
        (slice(None), np.array([3, 0, 3])),
        (np.array([0, 2, 2]), np.array([1, 3, 1])),
        (RNG.random((3, 4)) < 0.5,),
        (Ellipsis, None, 2),
        ([0, 0, 1],),
    ],
)
def test_indexing_is_numpys_and_the_gradient_scatter_adds(index):
    x = RNG.standard_normal((3, 4))
    out = leaf(x)[index]
    np.testing.assert_array_equal(out.data, x[index])
    g = RNG.standard_normal(np.shape(x[index]))
    t = leaf(x)
    t[index].backward(g)
    expected = np.zeros_like(x)
    np.add.at(expected, index if not isinstance(index, list) else np.array(index), g)
    np.testing.assert_allclose(t.grad, expected, rtol=0, atol=1e-15)


def test_repeated_indices_accumulate():
    x = leaf([1.0, 2.0, 3.0])
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])


def test_picking_each_columns_label_and_masking_with_a_comparison():
    """logits[labels, np.arange(m)] and x[x > 0], the idioms of the other libraries."""
    logits = leaf(RNG.standard_normal((3, 4)))
    labels = np.array([2, 0, 0, 1])
    picked = logits[labels, np.arange(4)]
    np.testing.assert_array_equal(picked.data, logits.data[labels, np.arange(4)])
    picked.sum().backward()
    np.testing.assert_array_equal(logits.grad, np.eye(3)[labels].T)
    x = leaf([-1.0, 2.0, -3.0, 4.0])
    x[x > 0].sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0, 1.0])


def test_bad_indices_name_getitem_and_the_shape():
    x = leaf(np.ones((2, 3)))
    with pytest.raises(IndexError, match=r"getitem: .*out of bounds.*shape \(2, 3\)"):
        x[5]
    with pytest.raises(
        IndexError, match="getitem: index arrays must hold integers or booleans; got dtype float64"
    ):
        x[np.array([0.5])]


# ---------------------------------------------------------------------------------------------
# max, min, argmax, maximum, minimum: ties share the gradient
# ---------------------------------------------------------------------------------------------


def test_tied_maxima_share_the_gradient_equally():
    """max of [1, 3, 3] gives [0, .5, .5], as PyTorch's; min likewise."""
    _, (g,) = grads_of(lambda x: x.max(), [1.0, 3.0, 3.0])
    np.testing.assert_array_equal(g, [0.0, 0.5, 0.5])
    _, (g,) = grads_of(lambda x: x.min(), [1.0, 1.0, 3.0, 1.0])
    np.testing.assert_allclose(g, [1 / 3, 1 / 3, 0.0, 1 / 3], rtol=1e-15)
    _, (g,) = grads_of(lambda x: x.max(axis=1), [[1.0, 2.0, 2.0], [5.0, 0.0, 4.0]])
    np.testing.assert_array_equal(g, [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])


def test_maximum_and_minimum_ties_split_the_gradient():
    """torch.maximum([1, 2, 3], [1, 1, 3]): gradients [.5, 1, .5] and [.5, 0, .5]."""
    out, (gx, gy) = grads_of(maximum, [1.0, 2.0, 3.0], [1.0, 1.0, 3.0])
    np.testing.assert_array_equal(out, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(gx, [0.5, 1.0, 0.5])
    np.testing.assert_array_equal(gy, [0.5, 0.0, 0.5])
    out, (gx, gy) = grads_of(minimum, [1.0, 2.0, 3.0], [1.0, 1.0, 4.0])
    np.testing.assert_array_equal(gx, [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(gy, [0.5, 1.0, 0.0])


@pytest.mark.parametrize(
    "axis, keepdims", [(None, False), (0, False), (1, True), ((0, 2), False), (-1, True)]
)
def test_max_and_min_values_are_numpys(axis, keepdims):
    x = RNG.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(Tensor(x).max(axis, keepdims).data, np.max(x, axis=axis, keepdims=keepdims))
    np.testing.assert_array_equal(Tensor(x).min(axis, keepdims).data, np.min(x, axis=axis, keepdims=keepdims))


def test_argmax_and_argmin_are_arrays():
    x = RNG.standard_normal((3, 4))
    for axis in (None, 0, 1, -1):
        out = Tensor(x).argmax(axis)
        assert isinstance(out, (np.ndarray, np.integer))
        np.testing.assert_array_equal(out, np.argmax(x, axis=axis))
        np.testing.assert_array_equal(Tensor(x).argmin(axis), np.argmin(x, axis=axis))


def test_reducing_an_empty_axis_is_an_error():
    with pytest.raises(ValueError, match=r"max: cannot reduce a tensor of shape \(4, 0\) over an empty axis"):
        Tensor(np.ones((4, 0))).max(axis=1)
    assert Tensor(np.ones((4, 0))).max(axis=0).shape == (0,)
    with pytest.raises(ValueError, match=r"argmax: a tensor of shape \(0,\) has no elements"):
        Tensor(np.ones(0)).argmax()


# ---------------------------------------------------------------------------------------------
# where, concatenate, stack
# ---------------------------------------------------------------------------------------------


def test_where_selects_and_routes_the_gradient():
    out, (gx, gy) = grads_of(
        lambda x, y: where(np.array([True, False, True]), x, y), [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]
    )
    np.testing.assert_array_equal(out, [1.0, 5.0, 3.0])
    np.testing.assert_array_equal(gx, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(gy, [0.0, 1.0, 0.0])
    # A tensor condition, a number operand, broadcasting.
    x = leaf([[-1.0, 2.0], [3.0, -4.0]])
    where(x > 0, x, 0.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 1.0], [1.0, 0.0]])
    # An infinite gradient where x is not taken gives exactly 0 there, not 0 * inf = NaN.
    y = leaf([0.0, 1.0])
    where(np.array([False, True]), y, 0.0).backward(np.array([np.inf, 1.0]))
    np.testing.assert_array_equal(y.grad, [0.0, 1.0])
    with pytest.raises(ValueError, match=r"where: .*\(2,\), \(3,\) and \(\)"):
        where(np.ones(2, dtype=bool), leaf([1.0, 2.0, 3.0]), 0.0)


def test_concatenate_and_stack():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((1, 3))
    np.testing.assert_array_equal(concatenate([Tensor(a), b]).data, np.concatenate([a, b]))
    np.testing.assert_array_equal(stack([Tensor(a), a], axis=1).data, np.stack([a, a], axis=1))
    np.testing.assert_array_equal(stack([Tensor(a), a], axis=-1).data, np.stack([a, a], axis=-1))
    assert gradcheck(lambda x, y: concatenate([x, y], axis=0), a, b)
    assert gradcheck(lambda x, y: stack([x, y * 2.0], axis=2), a, a + 1)
    with pytest.raises(
        ValueError, match=r"concatenate: .*except along axis 1; got shapes \(2, 3\), \(1, 3\)"
    ):
        concatenate([Tensor(a), b], axis=1)
    with pytest.raises(ValueError, match=r"stack: .*same shape; got shapes \(2, 3\), \(1, 3\)"):
        stack([Tensor(a), b])
    with pytest.raises(TypeError, match="concatenate: expects a non-empty sequence"):
        concatenate(Tensor(a))


# ---------------------------------------------------------------------------------------------
# matmul over stacks of matrices
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "x_shape, y_shape",
    [((2, 3, 4), (4, 5)), ((4,), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((3, 4), (2, 4)), ((2, 3, 4), (4,))],
)
def test_matmul_of_stacks_is_numpys_and_sums_over_broadcast_batch_axes(x_shape, y_shape):
    x, y = RNG.standard_normal(x_shape), RNG.standard_normal(y_shape)
    if y_shape == (2, 4):
        y = y.T.copy()
    np.testing.assert_array_equal((Tensor(x) @ Tensor(y)).data, np.matmul(x, y))
    assert gradcheck(lambda a, b: a @ b, x, y)


# ---------------------------------------------------------------------------------------------
# NumPy functions on tensors
# ---------------------------------------------------------------------------------------------


def test_numpy_functions_run_the_engines_ops():
    x, y = leaf([1.0, -2.0, 3.0]), leaf([0.5, 4.0, -1.0])
    cases = [
        (np.exp(x), np.exp(x.data)),
        (np.sum(x, axis=0), 2.0),
        (np.concatenate([x, y]), np.concatenate([x.data, y.data])),
        (np.maximum(x, y), np.maximum(x.data, y.data)),
        (np.stack([x, y]), np.stack([x.data, y.data])),
        (np.matmul(x, y), x.data @ y.data),
        (np.where(x.data > 0, x, y), np.where(x.data > 0, x.data, y.data)),
        (np.ones(3) * x, x.data),
        (np.ones(3) / x, 1 / x.data),
        (np.tanh(x), np.tanh(x.data)),
        (np.abs(x), np.abs(x.data)),
        (np.mean(x), np.mean(x.data)),
        (np.max(x), 3.0),
        (np.clip(x, -1, 1), np.clip(x.data, -1, 1)),
    ]
    for out, expected in cases:
        assert isinstance(out, Tensor) and out.requires_grad
        assert out.dtype != object
        np.testing.assert_allclose(out.data, expected, rtol=1e-15)
    np.stack([x, y]).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 1.0])
    assert np.argmax(x) == 2


def test_numpy_functions_without_an_equivalent_raise_naming_one():
    x = leaf([1.0, 2.0])
    with pytest.raises(TypeError, match=r"np.cumsum is not supported on Tensors; apply it to t.data"):
        np.cumsum(x)
    with pytest.raises(TypeError, match=r"np.log1p .*use \(1 \+ x\).log\(\)"):
        np.log1p(x)
    with pytest.raises(TypeError, match=r"np.add.reduce .*use t.sum\(axis\)"):
        np.add.reduce(x)
    with pytest.raises(TypeError, match=r"np.exp: the arguments \['out'\]"):
        np.exp(x, out=np.empty(2))
    with pytest.raises(TypeError, match="would silently detach"):
        np.asarray(x)
    # A tensor without a gradient converts: there is nothing to detach.
    np.testing.assert_array_equal(np.asarray(Tensor([1.0, 2.0])), [1.0, 2.0])


def test_functions_are_exported():
    for name in ("maximum", "minimum", "where", "concatenate", "stack"):
        assert callable(getattr(autograd, name))


def test_the_counters_read_each_ops_flops_from_its_entry():
    """One flop per element for divide and max, 2 n k m for a stack of matmuls, 0 for indexing."""
    from autograd.counters import count

    x, y = leaf(RNG.standard_normal((2, 3, 4))), leaf(RNG.standard_normal((4, 5)))
    with count() as counted:
        out = ((x @ y) / 2.0).max(axis=1)[0]
        out.sum().backward()
    assert counted.by_primitive["forward", "matmul"] == 1
    assert counted.flops["forward", "matmul"] == 2 * (2 * 3 * 5) * 4
    assert counted.flops["forward", "binary"] == 2 * 3 * 5  # divide
    assert counted.flops["forward", "reduction"] == 2 * 3 * 5  # max reads every element
    assert counted.by_primitive["vjp", "getitem"] == 1 and counted.by_primitive["vjp", "max"] == 1
