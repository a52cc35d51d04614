"""Malformed input to ``Tensor``: a clear error at the point of the mistake, or the right answer.

Each test is one defect that used to give a raw NumPy/Python error, a misleading message, or a
wrong number without an error. Messages name the op or attribute and the offending
shapes/dtypes; right answers are checked against NumPy's.
"""

from __future__ import annotations

import numpy as np
import pytest

import nn
from autograd import Tensor

# ---------------------------------------------------------------------------------------------
# .data assignment
# ---------------------------------------------------------------------------------------------


def test_integer_data_for_a_parameter_raises_instead_of_truncating_its_gradients():
    w = Tensor([0.5, 1.5], requires_grad=True)
    with pytest.raises(
        TypeError, match=r"Tensor\.data: data of dtype int64 .* requires grad \(dtype float64\)"
    ):
        w.data = np.array([1, 2])
    assert w.dtype == np.float64
    np.testing.assert_array_equal(w.data, [0.5, 1.5])
    w.data = [1, 2]  # Python numbers become float64, as at construction
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])


def test_data_of_another_float_dtype_for_a_parameter_raises():
    """Its float32 .grad would meet float64 gradients at the next backward."""
    w = Tensor(np.zeros(2, dtype=np.float32), requires_grad=True)
    with pytest.raises(
        TypeError,
        match=r"Tensor\.data: data of dtype float64 .* dtype float32 .*value\.astype\(np\.float32\)",
    ):
        w.data = np.ones(2)
    w.data = [1, 2]  # Python numbers take the parameter's dtype
    assert w.dtype == np.float32
    np.testing.assert_array_equal(w.data, [1.0, 2.0])


def test_data_of_another_shape_for_a_parameter_raises():
    w = Tensor(np.zeros((2, 1)), requires_grad=True)
    with pytest.raises(ValueError, match=r"Tensor\.data: data of shape \(2, 3\) .* data of shape \(2, 1\)"):
        w.data = np.zeros((2, 3))
    assert w.shape == (2, 1)
    c = Tensor(np.zeros((2, 1)))  # a constant takes any new data
    c.data = np.ones((2, 3), dtype=np.int32)
    assert c.shape == (2, 3) and c.dtype == np.int32


# ---------------------------------------------------------------------------------------------
# .grad assignment
# ---------------------------------------------------------------------------------------------


def test_a_wrong_shaped_grad_raises_instead_of_broadcasting_into_the_optimizer():
    """Adam used to broadcast a (2, 3) gradient into a (2, 1) parameter and change its shape."""
    b = Tensor(np.zeros((2, 1)), requires_grad=True)
    with pytest.raises(
        ValueError, match=r"Tensor\.grad: a gradient of shape \(2, 3\) .* tensor of shape \(2, 1\)"
    ):
        b.grad = np.ones((2, 3))
    optimizer = nn.optim.Adam([b], lr=0.1)
    optimizer.step()  # nothing to do: the gradient was refused
    assert b.shape == (2, 1) and b.grad is None


def test_a_grad_of_another_dtype_raises():
    w = Tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
    with pytest.raises(TypeError, match=r"Tensor\.grad: a gradient of dtype float64 .* dtype float32"):
        w.grad = np.ones(3)


def test_a_grad_that_is_not_an_array_raises():
    w = Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(
        TypeError, match=r"Tensor\.grad: .* NumPy array or None; got Tensor \(use its \.data\)"
    ):
        w.grad = Tensor(np.ones(2))
    with pytest.raises(TypeError, match=r"Tensor\.grad: .* NumPy array or None; got list"):
        w.grad = [1.0, 1.0]


# ---------------------------------------------------------------------------------------------
# requires_grad
# ---------------------------------------------------------------------------------------------


def test_requires_grad_on_an_integer_tensor_raises():
    t = Tensor(np.array([1, 2, 3]))
    with pytest.raises(TypeError, match=r"Tensor\.requires_grad: only floating-point .* dtype int64"):
        t.requires_grad = True
    assert not t.requires_grad


def test_requires_grad_must_be_a_bool():
    t = Tensor([1.0])
    with pytest.raises(TypeError, match=r"Tensor\.requires_grad: the value must be True or False; got 'yes'"):
        t.requires_grad = "yes"


def test_turning_off_requires_grad_on_a_computed_tensor_raises():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    with pytest.raises(RuntimeError, match=r"Tensor\.requires_grad: only a leaf's flag .* computed by mul"):
        y.requires_grad = False


# ---------------------------------------------------------------------------------------------
# Tensor(...) arguments
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["yes", None, 1, np.array([True, False])])
def test_tensor_requires_grad_argument_must_be_a_bool(flag):
    with pytest.raises(TypeError, match="Tensor: requires_grad must be True or False"):
        Tensor([1.0], requires_grad=flag)


def test_tensor_dtype_argument_that_is_not_a_dtype_is_named():
    with pytest.raises(TypeError, match=r"Tensor: dtype 'flaot32' is not a NumPy dtype"):
        Tensor([1.0], dtype="flaot32")


def test_tensor_dtype_argument_that_is_not_numeric_is_named():
    with pytest.raises(TypeError, match=r"Tensor: dtype <U0 is not numeric"):
        Tensor([1.0], dtype=str)


def test_tensor_name_must_be_a_string():
    with pytest.raises(TypeError, match=r"Tensor: name must be a str or None; got 5 \(int\)"):
        Tensor([1.0], name=5)


def test_a_python_int_beyond_int64_becomes_float64_like_every_python_number():
    t = Tensor([1, 2**70])
    assert t.dtype == np.float64
    np.testing.assert_array_equal(t.data, [1.0, 2.0**70])


# ---------------------------------------------------------------------------------------------
# Shapes and axes
# ---------------------------------------------------------------------------------------------


def test_reshape_to_a_string_names_the_op():
    with pytest.raises(TypeError, match=r"reshape: the shape must be integers; got 'a'"):
        Tensor(np.zeros(4)).reshape("a")


def test_reshape_with_a_float_reports_the_float():
    """It used to report shape (2, 2): 2.5 was truncated to 2 before the message was written."""
    with pytest.raises(
        TypeError, match=r"reshape: the shape must be integers; got 2\.5 \(float\) in \(2\.5, 2\)"
    ):
        Tensor(np.zeros(4)).reshape(2.5, 2)


def test_sum_over_a_float_axis_names_the_op():
    with pytest.raises(
        TypeError, match=r"sum: axis must be an int, a tuple of ints or None; got 1\.0 \(float\)"
    ):
        Tensor(np.zeros((2, 3))).sum(axis=1.0)


def test_sum_over_a_bool_axis_raises_as_in_numpy():
    with pytest.raises(TypeError, match=r"sum: axis must be .*; got True \(bool\)"):
        Tensor(np.zeros((2, 3))).sum(axis=True)


def test_mean_names_itself_in_axis_errors():
    """mean is a sum times 1/count: its argument errors used to name sum (or none at all)."""
    with pytest.raises(TypeError, match=r"mean: axis must be .*; got 1\.0 \(float\)"):
        Tensor(np.zeros((2, 3))).mean(axis=1.0)
    with pytest.raises(ValueError, match=r"mean: axis 2 is out of range for a tensor of shape \(2, 3\)"):
        Tensor(np.zeros((2, 3))).mean(axis=2)
    with pytest.raises(TypeError, match=r"mean: keepdims must be True or False; got 'no'"):
        Tensor(np.zeros((2, 3))).mean(keepdims="no")


def test_item_of_several_elements_names_the_shape():
    with pytest.raises(ValueError, match=r"item: a Tensor of shape \(2, 3\) has 6 elements"):
        Tensor(np.zeros((2, 3))).item()


def test_sum_keepdims_must_be_a_bool():
    with pytest.raises(TypeError, match=r"sum: keepdims must be True or False; got 'no'"):
        Tensor(np.zeros((2, 3))).sum(axis=0, keepdims="no")


@pytest.mark.parametrize("axes", [(True, False), (1.0, 0), ("ab",)])
def test_transpose_axes_must_be_integers(axes):
    with pytest.raises(TypeError, match=r"transpose: the axes must be integers"):
        Tensor(np.zeros((2, 3))).transpose(*axes)


def test_broadcast_to_a_float_shape_names_the_op():
    with pytest.raises(TypeError, match=r"broadcast_to: the shape must be integers; got 3\.0 \(float\)"):
        Tensor(np.zeros(3)).broadcast_to(2, 3.0)


# ---------------------------------------------------------------------------------------------
# Truth values and lengths
# ---------------------------------------------------------------------------------------------


def test_bool_of_a_tensor_with_several_elements_raises_naming_tensor():
    with pytest.raises(
        ValueError, match=r"truth value of a Tensor with more than one element \(shape \(2,\)\)"
    ):
        bool(Tensor([0.0, 0.0]))


def test_bool_of_an_empty_tensor_raises():
    with pytest.raises(ValueError, match=r"truth value of a Tensor with no element \(shape \(0,\)\)"):
        bool(Tensor(np.zeros(0)))


@pytest.mark.parametrize("value", [0.0, 3.0, -1.0])
def test_bool_of_a_one_element_tensor_is_its_value(value):
    """``bool(Tensor([0.0]))`` used to be True (Python's length rule), NumPy says False."""
    assert bool(Tensor([value])) is bool(np.array([value]))
    assert bool(Tensor(value)) is bool(np.array(value))


def test_len_of_a_0d_tensor_names_tensor():
    with pytest.raises(TypeError, match=r"len\(\) of a 0-d Tensor"):
        len(Tensor(1.0))


# ---------------------------------------------------------------------------------------------
# Arithmetic with unsigned integers and big Python integers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        lambda u: 4.0 - u,
        lambda u: 5 - u,
        lambda u: np.array([4.0, 6.0]) - u,
        lambda u: np.array([4, 6], dtype=np.uint16) - u,
    ],
)
def test_subtracting_an_unsigned_tensor_follows_numpy(expression):
    """``4. - uint8(1)`` used to be 259: the subtrahend was negated in uint8 (wrapping to 255)."""
    u = np.array([1, 2], dtype=np.uint8)
    got = expression(Tensor(u))
    want = expression(u)
    np.testing.assert_array_equal(got.data, want)
    assert got.dtype.kind == "f" if want.dtype.kind == "f" else got.dtype.kind in "iu"


def test_a_float_tensor_minus_an_unsigned_tensor_follows_numpy():
    x = Tensor([4.0, 6.0], requires_grad=True)
    u = np.array([1, 2], dtype=np.uint8)
    y = x - Tensor(u)
    np.testing.assert_array_equal(y.data, np.array([4.0, 6.0]) - u)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


def test_an_integer_tensor_plus_a_python_int_beyond_int64_raises_as_numpy_2():
    """It used to make an object tensor; NumPy 2 raises OverflowError."""
    with pytest.raises(OverflowError):
        np.array([1]) + 2**70
    with pytest.raises(
        OverflowError, match=r"Python integer 1180591620717411303424 is out of bounds for int64"
    ):
        Tensor(np.array([1])) + 2**70
    with pytest.raises(OverflowError, match="out of bounds for int64"):
        2**70 - Tensor(np.array([1]))


# ---------------------------------------------------------------------------------------------
# Constants saved for backward
# ---------------------------------------------------------------------------------------------


def test_a_read_only_constant_that_owns_its_memory_is_copied_when_saved():
    """Its owner can make it writable again: changing it after recording must not change the
    gradient (mul saves the constant for dx = g * c)."""
    c = np.array([2.0, 3.0])
    c.flags.writeable = False
    x = Tensor([1.0, 1.0], requires_grad=True)
    loss = (x * c).sum()
    c.flags.writeable = True
    c[:] = 100.0
    loss.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 3.0])
