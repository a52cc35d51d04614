"""nn.cross_entropy from integer labels, softmax/log_softmax along an axis, one-node activations.

Referees: PyTorch's F.cross_entropy (values computed once with torch 2.13 in float64 and
written here), a float64 closed form from NumPy, and central differences.
"""

import numpy as np
import pytest

import nn
from autograd import Tensor, gradcheck

#: Logits (3 classes, 4 examples as columns), labels, and torch's F.cross_entropy(Z.T, labels)
#: with its gradient (transposed back to columns).
Z = np.array([[1.0, 2.0, -1.0, 0.5], [3.0, -1.0, 0.0, 0.25], [0.5, 0.0, 2.0, -3.0]])
LABELS = np.array([1, 0, 2, 2])
TORCH_LOSS = 1.1572998322244923
TORCH_GRAD = np.array(
    [
        [0.02779141, -0.03905132, 0.01050252, 0.13819804],
        [-0.04464775, 0.01050252, 0.0285488, 0.10762874],
        [0.01685634, 0.0285488, -0.03905132, -0.24582678],
    ]
)


def test_cross_entropy_equals_pytorchs():
    z = Tensor(Z, requires_grad=True)
    loss = nn.cross_entropy(z, LABELS)
    np.testing.assert_allclose(loss.item(), TORCH_LOSS, rtol=1e-14)
    loss.backward()
    np.testing.assert_allclose(z.grad, TORCH_GRAD, atol=5e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_equals_the_closed_form(dtype):
    """J = -(1/m) Σ_j log softmax(Z)[labels_j, j], dZ = (softmax(Z) - onehot)/m, in Z's dtype."""
    rng = np.random.default_rng(40)
    z = rng.standard_normal((5, 7)) * 3
    labels = rng.integers(0, 5, size=7)
    shifted = z - z.max(axis=0)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=0))
    expected = -log_p[labels, np.arange(7)].mean()
    t = Tensor(z.astype(dtype), requires_grad=True)
    loss = nn.cross_entropy(t, Tensor(labels))
    assert loss.dtype == dtype
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-6 if dtype == np.float32 else 1e-13)
    loss.backward()
    onehot = np.eye(5)[labels].T
    np.testing.assert_allclose(
        t.grad, (np.exp(log_p) - onehot) / 7, atol=1e-6 if dtype == np.float32 else 1e-15
    )
    assert gradcheck(lambda a: nn.cross_entropy(a, labels), z)


def test_cross_entropy_rejects_bad_labels():
    z = Tensor(Z)
    with pytest.raises(ValueError, match=r"cross_entropy: labels must lie in \[0, 2\] .*found 3"):
        nn.cross_entropy(z, np.array([0, 1, 3, 2]))
    with pytest.raises(ValueError, match=r"found -1"):
        nn.cross_entropy(z, np.array([0, -1, 1, 2]))
    with pytest.raises(
        TypeError, match="cross_entropy: labels must be integer class indices, got dtype float64"
    ):
        nn.cross_entropy(z, np.array([0.0, 1.0, 1.0, 2.0]))
    with pytest.raises(
        ValueError,
        match=r"labels must have shape \(m,\) = \(4,\).*logits Z of shape \(3, 4\); got shape \(3,\)",
    ):
        nn.cross_entropy(z, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"got shape \(4, 1\)"):
        nn.cross_entropy(z, LABELS.reshape(4, 1))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_and_log_softmax_along_an_axis(axis):
    """axis=1 normalises PyTorch's (batch, classes) rows; the default 0 normalises columns."""
    rng = np.random.default_rng(41)
    z = rng.standard_normal((3, 4)) * 5
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    expected = e / e.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(nn.softmax(z, axis=axis).data, expected, rtol=1e-14)
    np.testing.assert_allclose(nn.log_softmax(z, axis=axis).data, np.log(expected), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(nn.softmax(z, axis=axis).data.sum(axis=axis), 1.0, rtol=1e-15)
    assert gradcheck(lambda t: nn.softmax(t, axis=axis) * np.arange(12.0).reshape(3, 4), z)
    assert gradcheck(lambda t: nn.log_softmax(t, axis=axis) * np.arange(12.0).reshape(3, 4), z)
    np.testing.assert_array_equal(nn.softmax(z).data, nn.softmax(z, axis=0).data)


def test_softmax_axis_errors_name_the_shape():
    with pytest.raises(ValueError, match=r"softmax: axis 2 is out of range for logits of shape \(3, 4\)"):
        nn.softmax(np.ones((3, 4)), axis=2)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu"])
def test_activations_are_one_node(name):
    """nn's activations are the engine's primitives: one node each, the engine's values."""
    z = Tensor(np.linspace(-5, 5, 12).reshape(3, 4), requires_grad=True)
    out = getattr(nn, name)(z)
    assert out.op.name == name and out.parents == (z,)
    np.testing.assert_array_equal(out.data, getattr(z, name)().data)
