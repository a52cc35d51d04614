"""Backpropagation through nn layers reproduces docs/maths.md's layer recurrences exactly.

The network has layer widths 3-4-4-k and a batch of m = 4 columns, so several of the matrices
involved are square (W[2], dZ[1], dZ[2]): a transposed product would have the right shape and
only the values can tell, which the comparison with the closed forms does.
"""

import numpy as np
import pytest

import nn
from autograd import Tensor

pytestmark = pytest.mark.filterwarnings("error")

M = 4
WIDTHS = [3, 4, 4]


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - z.max(axis=0))
    return e / e.sum(axis=0)


# Hidden activations: (engine function, NumPy function, NumPy derivative g'(Z)).
HIDDEN = {
    "relu": (nn.relu, lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
    "tanh": (nn.tanh, np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "sigmoid": (nn.sigmoid, _sigmoid, lambda z: _sigmoid(z) * (1 - _sigmoid(z))),
}

# Outputs and costs of docs/maths.md: (output width, engine output activation and cost, NumPy output,
# targets).
RNG = np.random.default_rng(3)
OUTPUTS = {
    "sigmoid+binary": (1, nn.sigmoid, nn.binary_cross_entropy, _sigmoid, (RNG.random((1, M)) < 0.5) * 1.0),
    "softmax+multiclass": (
        3,
        nn.softmax,
        nn.categorical_cross_entropy,
        _softmax,
        np.eye(3)[:, RNG.integers(0, 3, M)],
    ),
    "sigmoid+multi-label": (
        3,
        nn.sigmoid,
        nn.binary_cross_entropy,
        _sigmoid,
        (RNG.random((3, M)) < 0.5) * 1.0,
    ),
}


def closed_form_backprop(weights, biases, x, y, g, g_prime, output):
    """docs/maths.md by hand: forward, then dZ[L] = (A - Y)/m and the layer recurrences."""
    a, zs, activations = x, [], [x]
    for index, (w, b) in enumerate(zip(weights, biases)):
        z = w @ a + b
        last = index == len(weights) - 1
        a = output(z) if last else g(z)
        zs.append(z)
        activations.append(a)
    dz = (a - y) / x.shape[1]
    d_w, d_b, d_z = [], [], []
    for layer in reversed(range(len(weights))):
        d_z.insert(0, dz)
        d_w.insert(0, dz @ activations[layer].T)  # dW[l] = dZ[l] A[l-1]ᵀ
        d_b.insert(0, dz.sum(axis=1, keepdims=True))  # db[l] = Σ_axis1 dZ[l]
        da_prev = weights[layer].T @ dz  # dA[l-1] = W[l]ᵀ dZ[l]
        if layer:
            dz = da_prev * g_prime(zs[layer - 1])  # dZ[l-1] = dA[l-1] ⊙ g'(Z[l-1])
    return d_w, d_b, d_z, da_prev


def engine_backprop(layers, x, y, g, output, cost):
    """The same network as nn modules; returns the gradients the engine computed."""
    x_leaf = Tensor(x, requires_grad=True)
    a, zs = x_leaf, []
    for index, layer in enumerate(layers):
        z = layer(a).retain_grad()
        zs.append(z)
        a = output(z) if index == len(layers) - 1 else g(z)
    cost(a, y).backward()
    return (
        [layer.W.grad for layer in layers],
        [layer.b.grad for layer in layers],
        [z.grad for z in zs],
        x_leaf.grad,
    )


@pytest.mark.parametrize("hidden", sorted(HIDDEN))
@pytest.mark.parametrize("output_name", sorted(OUTPUTS))
def test_gradients_equal_the_layer_recurrences(hidden, output_name):
    """dW = dZ A_prevᵀ, db = Σ_axis1 dZ, dA_prev = Wᵀ dZ and dZ[L] = (A - Y)/m, layer by layer."""
    n_out, output, cost, output_np, y = OUTPUTS[output_name]
    g, g_np, g_prime = HIDDEN[hidden]
    sizes = [*WIDTHS, n_out]
    rng = np.random.default_rng(11)
    layers = [nn.Linear(n_in, n, dtype=np.float64, rng=rng) for n_in, n in zip(sizes[:-1], sizes[1:])]
    for layer in layers:  # nonzero biases, so that a wrong db would show
        layer.b.data = rng.normal(size=layer.b.shape)
    x = rng.normal(size=(WIDTHS[0], M))

    d_w, d_b, d_z, d_x = engine_backprop(layers, x, y, g, output, cost)
    weights = [layer.W.data for layer in layers]
    biases = [layer.b.data for layer in layers]
    e_w, e_b, e_z, e_x = closed_form_backprop(weights, biases, x, y, g_np, g_prime, output_np)

    for layer in range(len(layers)):
        np.testing.assert_allclose(d_z[layer], e_z[layer], rtol=1e-10, atol=1e-15, err_msg=f"dZ[{layer + 1}]")
        np.testing.assert_allclose(d_w[layer], e_w[layer], rtol=1e-10, atol=1e-15, err_msg=f"dW[{layer + 1}]")
        assert d_b[layer].shape == (sizes[layer + 1], 1)
        np.testing.assert_allclose(d_b[layer], e_b[layer], rtol=1e-10, atol=1e-15, err_msg=f"db[{layer + 1}]")
    np.testing.assert_allclose(d_x, e_x, rtol=1e-10, atol=1e-15, err_msg="dA[0]")


def test_forward_mode_agrees_with_reverse_mode_on_a_network():
    """Dot-product test on an MLP's cost: the JVP along V equals Σ <dW, V> from backward."""
    rng = np.random.default_rng(5)
    model = nn.MLP([3, 4, 4, 3], activation="tanh", dtype=np.float64, rng=rng)
    x = rng.normal(size=(3, M))
    y = np.eye(3)[:, rng.integers(0, 3, M)]
    nn.softmax_cross_entropy(model(x), y).backward()
    directions = [rng.normal(size=p.shape) for p in model.parameters()]
    expected = sum(np.sum(p.grad * v) for p, v in zip(model.parameters(), directions))
    try:
        for p, v in zip(model.parameters(), directions):
            p._tangents = {0: v}
        j = nn.softmax_cross_entropy(model(x), y)
        assert float(j.tangent) == pytest.approx(expected, rel=1e-12)
    finally:
        for p in model.parameters():
            p._tangents = None


def test_gradients_do_not_grow_with_the_batch():
    """The 1/m lives in the cost: repeating the batch leaves every parameter gradient unchanged."""
    rng = np.random.default_rng(9)
    model = nn.MLP([3, 4, 2], dtype=np.float64, rng=rng)
    x = rng.normal(size=(3, M))
    y = np.eye(2)[:, rng.integers(0, 2, M)]
    grads = []
    for repeat in (1, 3):
        model.zero_grad()
        nn.softmax_cross_entropy(model(np.tile(x, repeat)), np.tile(y, repeat)).backward()
        grads.append([p.grad for p in model.parameters()])
    for once, thrice in zip(*grads):
        np.testing.assert_allclose(thrice, once, rtol=1e-12, atol=1e-15)
