"""Reliability of the engine's own machinery: fused residuals, masked logits, biases, tangents."""

import numpy as np
import pytest

import autograd
from autograd import Tensor, jvp
from autograd.checks import gradcheck


def test_softmax_cross_entropy_keeps_its_residual_with_its_node():
    """A validation forward between a training forward and its backward (same shapes, other
    values) does not change the training gradient: the softmax belongs to the node."""
    rng = np.random.default_rng(0)
    z_train, z_val = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    y = np.eye(4)[:, [0, 2, 1]]
    z = Tensor(z_train, requires_grad=True)
    loss = autograd.softmax_cross_entropy(z, y)
    autograd.softmax_cross_entropy(Tensor(z_val), y)  # validation, same shapes
    loss.backward()
    a = np.exp(z_train) / np.exp(z_train).sum(axis=0)
    np.testing.assert_allclose(z.grad, (a - y) / 3, rtol=1e-12)


@pytest.mark.filterwarnings("error")
def test_a_masked_logit_gives_a_finite_cost_and_gradient():
    """A non-target logit of -inf (a masked class) contributes nothing: no NaN, no warning."""
    z = Tensor(np.array([[1.0, -np.inf], [2.0, 0.5], [-np.inf, 0.0]]), requires_grad=True)
    y = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    loss = autograd.softmax_cross_entropy(z, y)
    finite = np.array([[1.0, 2.0], [0.5, 0.0]])  # the unmasked logits of each column
    expected = -((1.0 - np.log(np.exp(finite[0]).sum())) + (0.5 - np.log(np.exp(finite[1]).sum()))) / 2
    assert float(loss.data) == pytest.approx(expected, rel=1e-12)
    loss.backward()
    assert np.isfinite(z.grad).all()
    assert z.grad[2, 0] == 0.0 and z.grad[0, 1] == 0.0
    nan = autograd.softmax_cross_entropy(Tensor(np.array([[np.nan], [0.0]])), np.array([[1.0], [0.0]]))
    assert np.isnan(nan.data)  # NaN inputs still propagate


def test_linear_refuses_a_one_dimensional_bias():
    """b of shape (n_out,) would be added along the examples when m == n_out: an error instead."""
    w, x = np.ones((3, 2)), np.ones((2, 3))
    with pytest.raises(ValueError, match=r"linear: the bias has shape \(3,\).*\(3, 1\)"):
        autograd.linear(w, x, np.zeros(3))
    assert gradcheck(lambda w, x, b: autograd.linear(w, x, b), w, x, np.zeros((3, 1)))


def test_a_none_tangent_is_named():
    with pytest.raises(TypeError, match="jvp: tangent 0 is None"):
        jvp(lambda t: t * 2, (np.ones(2),), (None,))
    with pytest.raises(ValueError, match=r"jvp: tangent 0 has shape \(3,\) but its primal has shape \(2,\)"):
        jvp(lambda t: t * 2, (np.ones(2),), (np.ones(3),))
