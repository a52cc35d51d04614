"""Bad input raises at forward time, and the message names the op and every offending shape."""

import numpy as np
import pytest

from autograd import Tensor


def t(shape, requires_grad=True):
    return Tensor(np.ones(shape), requires_grad=requires_grad)


@pytest.mark.parametrize(
    "x_shape, y_shape",
    [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (2,)), ((3,), (2, 3))],
)
def test_matmul_mismatch_names_both_shapes(x_shape, y_shape):
    """A matmul whose inner dimensions differ names both operand shapes."""
    with pytest.raises(ValueError, match="matmul") as error:
        t(x_shape) @ t(y_shape)
    assert str(x_shape) in str(error.value) and str(y_shape) in str(error.value)


def test_matmul_of_a_scalar_or_of_unbroadcastable_stacks_is_rejected():
    """matmul needs operands with an axis, and stacks whose batch axes broadcast; the message
    names the shapes it got."""
    with pytest.raises(ValueError, match=r"matmul.*\(\).*\(3,\)"):
        t(()) @ t((3,))
    with pytest.raises(ValueError, match=r"matmul: the batch axes of shapes \(2, 2, 3\) and \(3, 3, 4\)"):
        t((2, 2, 3)) @ t((3, 3, 4))
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 2, 2\) and \(3, 2\) are not aligned"):
        t((2, 2, 2)) @ t((3, 2))


@pytest.mark.parametrize("op, symbol", [("add", "+"), ("sub", "-"), ("mul", "*"), ("truediv", "/")])
def test_broadcast_mismatch_names_the_op_and_both_shapes(op, symbol):
    """(2, 3) and (4,) cannot broadcast: the error names the op and both shapes."""
    operands = {"a": t((2, 3)), "b": t((4,))}
    with pytest.raises(ValueError, match=rf"{op}: .*\(2, 3\) and \(4,\)"):
        eval(f"a {symbol} b", operands)


def test_broadcast_mismatch_with_an_array_operand():
    """A NumPy operand on either side is checked the same way."""
    with pytest.raises(ValueError, match=r"add: operands of shapes \(3,\) and \(2, 4\)"):
        np.ones((3,)) + t((2, 4))
    with pytest.raises(ValueError, match=r"\(2, 4\) and \(3,\)"):
        t((2, 4)) + np.ones(3)


def test_broadcast_to_an_incompatible_shape():
    """broadcast_to names the source and target shapes."""
    with pytest.raises(ValueError, match=r"broadcast_to: .*\(3,\) to \(2, 4\)"):
        t((3,)).broadcast_to((2, 4))


def test_reshape_size_mismatch():
    """reshape names the shape, its size and the requested shape."""
    with pytest.raises(ValueError, match=r"reshape: .*\(2, 3\) \(6 elements\).*\(4,\)"):
        t((2, 3)).reshape(4)
    with pytest.raises(ValueError, match=r"reshape: .*\(2, 3\).*\(-1, -1\)"):
        t((2, 3)).reshape(-1, -1)


@pytest.mark.parametrize("axis", [2, -3, (0, 2)])
def test_sum_over_a_missing_axis(axis):
    """sum names the bad axis and the tensor's shape."""
    with pytest.raises(ValueError, match=r"sum: axis -?\d is out of range for a tensor of shape \(2, 3\)"):
        t((2, 3)).sum(axis=axis)


def test_mean_over_a_missing_axis():
    """mean is composed from sum and reports the same way."""
    with pytest.raises(ValueError, match=r"axis 5 .* \(2, 3\)"):
        t((2, 3)).mean(axis=5)


def test_transpose_with_bad_axes():
    """transpose names the axes and the shape."""
    with pytest.raises(ValueError, match=r"transpose: axes \(0, 0\) .* \(2, 3\)"):
        t((2, 3)).transpose(0, 0)


def test_seed_of_the_wrong_shape():
    """A seed must have the output's shape: both shapes are named."""
    y = t((2, 3)) * 2.0
    with pytest.raises(ValueError, match=r"seed has shape \(3,\) but the output has shape \(2, 3\)"):
        y.backward(np.ones(3))


def test_backward_on_a_non_scalar_without_a_seed():
    """An implicit gradient needs a scalar output; the error says so and names the shape."""
    y = t((2, 3)) * 2.0
    with pytest.raises(ValueError, match=r"implicit gradient needs a scalar output.*\(2, 3\)"):
        y.backward()


def test_backward_on_a_tensor_that_does_not_require_grad():
    """Backward on a constant explains that there is no graph."""
    with pytest.raises(RuntimeError, match=r"does not require grad.*|shape \(2, 3\) does not require grad"):
        (t((2, 3), requires_grad=False) * 2.0).sum().backward()


@pytest.mark.parametrize("data", ["abc", [["a", "b"]], {"a": 1}, None, [[1, 2], [3]], np.array([1 + 2j])])
def test_non_numeric_data_is_a_type_error(data):
    """Strings, objects, ragged lists and complex numbers cannot make a tensor."""
    with pytest.raises(TypeError, match="Tensor"):
        Tensor(data)


def test_integer_data_that_requires_grad_is_a_type_error():
    """Only floating-point tensors can require grad; the dtype is named."""
    with pytest.raises(TypeError, match="int64"):
        Tensor(np.arange(3), requires_grad=True)


def test_pow_exponents_that_do_not_broadcast_name_both_shapes():
    """pow takes tensor exponents, broadcast as NumPy; a mismatch names the op and both shapes."""
    with pytest.raises(ValueError, match=r"pow: operands of shapes \(2,\) and \(3,\)"):
        t((2,)) ** t((3,))
