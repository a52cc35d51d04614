"""nn gradients against float64 central differences, an outside referee that knows no rule."""

import numpy as np
import pytest

import nn
from autograd import grad, gradcheck
from autograd.checks import numerical_jacobian

pytestmark = pytest.mark.filterwarnings("error")

def assert_gradients_agree(f, x):
    """Reverse mode against float64 central differences (``autograd.gradcheck``), tightly."""
    assert gradcheck(f, x, atol=1e-8, rtol=1e-6)


RNG = np.random.default_rng(42)
Z = RNG.normal(scale=2.0, size=(3, 4))
U = RNG.normal(size=(3, 4))  # a random projection turns an activation into a scalar


@pytest.mark.parametrize("activation", [nn.relu, nn.sigmoid, nn.tanh, nn.softmax])
def test_activation_gradients(activation):
    """Each activation's gradient (projected on a random U) matches central differences."""
    z = Z + 0.1 * np.sign(Z)  # away from relu's kink, where central differences straddle it
    assert_gradients_agree(lambda t: (activation(t) * U).sum(), z)


@pytest.mark.parametrize("activation", [nn.sigmoid, nn.tanh])
def test_saturating_activations_at_large_inputs(activation):
    """At |Z| of 20-40 the stable forms keep the tiny gradients to full relative precision.

    Referee: σ'(z) = e/(1 + e)² with e = exp(-|z|), and tanh'(z) = 4e/(1 + e)² with e = exp(-2|z|),
    where A ⊙ (1 - A) would round to 0.
    """
    z = np.array([[-40.0, -20.0, 20.0, 40.0]])
    got = grad(lambda t: activation(t).sum())(z)
    if activation is nn.sigmoid:
        e = np.exp(-np.abs(z))
        expected = e / (1 + e) ** 2
    else:
        e = np.exp(-2 * np.abs(z))
        expected = 4 * e / (1 + e) ** 2
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)


Y_ONE_HOT = np.eye(3)[:, RNG.integers(0, 3, 4)]
Y_LABELS = (RNG.random((3, 4)) < 0.5) * 1.0
PROBABILITIES = RNG.uniform(0.05, 0.95, size=(3, 4))


@pytest.mark.parametrize(
    ("cost", "x", "y"),
    [
        (nn.binary_cross_entropy, PROBABILITIES, Y_LABELS),
        (nn.categorical_cross_entropy, PROBABILITIES / PROBABILITIES.sum(axis=0), Y_ONE_HOT),
        (nn.softmax_cross_entropy, Z, Y_ONE_HOT),
        (nn.binary_cross_entropy_with_logits, Z, Y_LABELS),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_cost_gradients(cost, x, y):
    """Each cost's gradient with respect to its predictions or logits matches central differences."""
    assert_gradients_agree(lambda t: cost(t, y), x)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_network_parameter_gradients(activation):
    """Every parameter gradient of a small MLP's cost matches central differences."""
    rng = np.random.default_rng(0)
    model = nn.MLP([3, 5, 4, 3], activation=activation, dtype=np.float64, rng=rng)
    x = rng.normal(size=(3, 6))
    y = np.eye(3)[:, rng.integers(0, 3, 6)]
    for parameter in model.parameters():
        original = parameter.data.copy()

        def cost(values, parameter=parameter):
            parameter.data = values.data
            return nn.softmax_cross_entropy(model(x), y)

        (numeric,) = numerical_jacobian(cost, original)
        numeric = numeric.reshape(original.shape)
        parameter.data = original
        model.zero_grad()
        nn.softmax_cross_entropy(model(x), y).backward()
        np.testing.assert_allclose(parameter.grad, numeric, rtol=1e-6, atol=1e-8, err_msg=parameter.name)
