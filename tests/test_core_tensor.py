"""The Tensor's public surface: construction, data, operators on both sides, composed ops."""

import numpy as np
import pytest

from autograd import Tensor
from autograd.checks import gradcheck


def test_construction_copies_and_the_data_is_read_only():
    """Tensor(array) copies: changing the source later does not change the tensor."""
    source = np.array([1.0, 2.0])
    x = Tensor(source)
    source[0] = 100.0
    assert x.data[0] == 1.0
    with pytest.raises(ValueError, match="read-only"):
        x.data[0] = 5.0


def test_replacing_data_after_recording_makes_backward_raise():
    """Setting .data between forward and backward is detected instead of giving a wrong gradient."""
    w = Tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    w.data = np.array([3.0, 4.0])
    with pytest.raises(RuntimeError, match="modified after this node was recorded"):
        y.backward()


def test_assign_without_copy_takes_the_array_and_still_guards_backward():
    """assign(array, copy=False) adopts a fresh array read-only; old graphs still refuse it."""
    w = Tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    fresh = np.array([3.0, 4.0])
    w.assign(fresh, copy=False)
    assert np.shares_memory(w.data, fresh) and not fresh.flags.writeable
    with pytest.raises(RuntimeError, match="modified after this node was recorded"):
        y.backward()
    copied = np.array([5.0, 6.0])
    w.assign(copied)
    assert not np.shares_memory(w.data, copied) and copied.flags.writeable


def test_replacing_data_before_recording_is_fine():
    """A graph recorded after the change uses the new values."""
    w = Tensor([1.0, 2.0], requires_grad=True)
    w.data = np.array([3.0, 4.0])
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad, [6.0, 8.0])


def test_properties():
    """shape, ndim, size, dtype, item, numpy and T behave as in NumPy."""
    x = Tensor(np.arange(6.0).reshape(2, 3))
    assert (x.shape, x.ndim, x.size, x.dtype) == ((2, 3), 2, 6, np.float64)
    assert x.T.shape == (3, 2)
    np.testing.assert_array_equal(x.numpy(), np.arange(6.0).reshape(2, 3))
    assert Tensor(4.5).item() == 4.5
    assert len(x) == 2


def test_repr_names_the_op():
    """The repr shows values and the primitive that made the tensor."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "Tensor([1., 2.], requires_grad=True)"
    assert repr(x.exp()).endswith("op=exp)")


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("a + x", lambda a, x: a + x),
        ("x + a", lambda a, x: x + a),
        ("a - x", lambda a, x: a - x),
        ("x - a", lambda a, x: x - a),
        ("a * x", lambda a, x: a * x),
        ("a / x", lambda a, x: a / x),
        ("x / a", lambda a, x: x / a),
        ("m @ x", lambda a, x: np.ones((2, 3)) @ x),
        ("x @ m.T", lambda a, x: x @ np.ones((2, 3)).T),
        ("-x", lambda a, x: -x),
        ("x ** 3", lambda a, x: x**3),
        ("x ** -2", lambda a, x: x**-2.0),
        ("x ** 0.5", lambda a, x: x**0.5),
        ("x ** 0", lambda a, x: x**0),
        ("2.0 ** x", lambda a, x: 2.0**x),
    ],
)
def test_operators_with_arrays_and_numbers_on_either_side(expression, expected):
    """Each operator computes NumPy's values, with ndarrays and numbers on the left or right."""
    a = np.array([2.0, 3.0, 4.0])
    m = np.ones((2, 3))
    x_values = np.array([0.5, 1.5, 2.5])
    x = Tensor(x_values, requires_grad=True)
    out = eval(expression, {"a": a, "x": x, "m": m})
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.data, expected(a, x_values), rtol=1e-14)


@pytest.mark.parametrize(
    "f",
    [
        lambda x: x**3,
        lambda x: x**-2,
        lambda x: x**0.5,
        lambda x: x**7,
        lambda x: 3.0**x,
        lambda x: 1.0 / x - x / 2.0,
        lambda x: x.mean(),
        lambda x: x.reshape(3, 2).mean(axis=0, keepdims=True),
        lambda x: x.reshape(2, 3).T @ x.reshape(2, 3),
    ],
)
def test_composed_operations_match_finite_differences(f):
    """sub, div, pow and mean, composed from the primitives, have correct gradients."""
    assert gradcheck(f, np.array([0.5, 1.5, 2.5, 0.75, 1.25, 2.0]))


def test_mean_of_an_empty_axis_is_nan_like_numpy():
    """The mean over zero elements is NaN, with no exception."""
    with np.errstate(invalid="ignore"):
        assert np.isnan(Tensor(np.ones((2, 0))).mean().item())


def test_matrix_vector_products():
    """matrix @ vector and vector @ matrix give NumPy's shapes and gradients."""
    w = np.arange(6.0).reshape(2, 3)
    v = np.array([1.0, -1.0, 2.0])
    assert gradcheck(lambda a, b: a @ b, w, v)
    assert gradcheck(lambda a, b: a @ b, v[:2], w)
    assert (Tensor(w) @ v).shape == (2,)
