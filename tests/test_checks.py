"""The checking tools catch wrong rules and warn when they cannot be trusted."""

import warnings

import numpy as np
import pytest

from autograd import Tensor, apply
from autograd.checks import GradcheckError, dense_jacobian, gradcheck, numerical_jacobian
from autograd.primitives import elementwise


def test_numerical_jacobian_of_a_linear_map_is_the_matrix():
    """For f(x) = A x, central differences recover A."""
    a = np.arange(6.0).reshape(2, 3)
    (jacobian,) = numerical_jacobian(lambda x: Tensor(a) @ x, np.ones(3))
    np.testing.assert_allclose(jacobian, a, atol=1e-8)


def test_gradcheck_catches_a_wrong_rule():
    """A primitive whose derivative is off by 1% fails gradcheck with a report."""
    wrong_exp = elementwise("wrong_exp_for_test", np.exp, lambda v, ans, x: v * ans * 1.01)
    try:
        with pytest.raises(GradcheckError, match="input 0"):
            gradcheck(lambda x: apply(wrong_exp, (x,)), np.array([0.1, 0.2]))
    finally:
        from autograd.primitives import PRIMITIVES

        del PRIMITIVES["wrong_exp_for_test"]


def test_gradcheck_warns_on_float32():
    """float32 inputs are checked in float64, with a warning."""
    with pytest.warns(UserWarning, match="float32"):
        assert gradcheck(lambda x: x.exp(), np.ones(2, dtype=np.float32))


def test_gradcheck_is_silent_on_float64():
    """No warning in the normal, float64 case."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gradcheck(lambda x, y: (x * y).sum(), np.ones(2), np.ones(2))


def test_constant_tensors_are_held_fixed():
    """Tensors that do not require grad get no Jacobian and are not perturbed."""
    y = Tensor(np.array([2.0, 3.0]))
    jacobians = numerical_jacobian(lambda x, c: x * c, np.ones(2), y)
    assert jacobians[1] is None
    np.testing.assert_allclose(jacobians[0], np.diag([2.0, 3.0]), atol=1e-8)


def test_dense_jacobian_of_a_big_matmul_would_be_terabytes():
    """The (2048, 2048) @ (2048, 128) Jacobian w.r.t. W has 1.1e12 entries (4.4 TB in float32)."""
    from autograd.checks import dense_jacobian_bytes

    assert dense_jacobian_bytes(2048 * 128, 2048 * 2048, 4) == 2048 * 128 * 2048 * 2048 * 4
    assert dense_jacobian_bytes(2048 * 128, 2048 * 2048, 4) > 4.3e12


def test_dense_jacobian_of_an_unknown_primitive_is_an_error():
    """Asking for a primitive with no written Jacobian says so."""
    with pytest.raises(KeyError, match="no dense Jacobian"):
        dense_jacobian("no_such_primitive", np.ones(2))
