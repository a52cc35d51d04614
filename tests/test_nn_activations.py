"""nn activations: values, the closed-form gradients of docs/maths.md, both modes, extreme inputs."""

import numpy as np
import pytest

import nn
from autograd import Tensor, jvp, vjp

# An overflow anywhere (exp(1000), 0 * inf) would surface as a RuntimeWarning: make it fail.
pytestmark = pytest.mark.filterwarnings("error")

RNG = np.random.default_rng(20240611)
Z = RNG.normal(scale=3.0, size=(4, 5))
DA = RNG.normal(size=(4, 5))


def value_and_vjp(f, z, g):
    """``(f(z), dz)`` from one reverse sweep seeded with ``g``."""
    out, pullback = vjp(f, z)
    (dz,) = pullback(g)
    return out, dz


# The graphs exactly as docs/maths.md writes them (they overflow for large |Z|).
def sigmoid_math(z):
    return ((-z).exp() + 1).reciprocal()


def tanh_math(z):
    return (z.exp() - (-z).exp()) * (z.exp() + (-z).exp()).reciprocal()


def softmax_math(z):
    e = z.exp()
    return e * e.sum(axis=0, keepdims=True).reciprocal()


class TestRelu:
    def test_forward_and_closed_form_backward(self):
        """relu(Z) = max(0, Z) and dZ = dA ⊙ I(Z > 0)."""
        a, dz = value_and_vjp(nn.relu, Z, DA)
        np.testing.assert_array_equal(a, np.maximum(Z, 0))
        np.testing.assert_array_equal(dz, DA * (Z > 0))

    def test_gradient_at_the_kink_is_zero(self):
        """relu'(0) = 0, as PyTorch and JAX choose."""
        _, dz = value_and_vjp(nn.relu, np.zeros((2, 2)), np.ones((2, 2)))
        np.testing.assert_array_equal(dz, np.zeros((2, 2)))


class TestSigmoid:
    def test_forward_matches_the_formula(self):
        """sigmoid(Z) = 1 / (1 + exp(-Z)) on moderate inputs."""
        np.testing.assert_allclose(nn.sigmoid(Tensor(Z)).data, 1 / (1 + np.exp(-Z)), rtol=1e-14)

    def test_backward_is_the_closed_form(self):
        """dZ = dA ⊙ A ⊙ (1 - A)."""
        a, dz = value_and_vjp(nn.sigmoid, Z, DA)
        np.testing.assert_allclose(dz, DA * a * (1 - a), rtol=1e-12, atol=1e-15)

    def test_equals_the_composed_graph_of_math_md(self):
        """The stable graph gives the values and gradients of docs/maths.md's neg-exp-add-reciprocal graph."""
        a, dz = value_and_vjp(nn.sigmoid, Z, DA)
        a_ref, dz_ref = value_and_vjp(sigmoid_math, Z, DA)
        np.testing.assert_allclose(a, a_ref, rtol=1e-14)
        np.testing.assert_allclose(dz, dz_ref, rtol=1e-12, atol=1e-15)

    def test_derivative_at_zero_is_a_quarter(self):
        """sigmoid'(0) = 1/4, on the branch boundary of the stable form."""
        a, dz = value_and_vjp(nn.sigmoid, np.zeros((1, 1)), np.ones((1, 1)))
        assert a.item() == 0.5
        assert dz.item() == 0.25

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_saturates_at_plus_minus_1000_with_zero_gradient(self, dtype):
        """sigmoid(±1000) is exactly 1 or 0, its gradient exactly 0, and nothing overflows."""
        z = np.array([[-1000.0, 1000.0]], dtype=dtype)
        a, dz = value_and_vjp(nn.sigmoid, z, np.ones_like(z))
        np.testing.assert_array_equal(a, [[0.0, 1.0]])
        np.testing.assert_array_equal(dz, [[0.0, 0.0]])
        assert a.dtype == dtype and dz.dtype == dtype

    def test_small_values_keep_relative_precision(self):
        """sigmoid(-30) = e^-30 / (1 + e^-30) to full relative precision (no 1 - A rounding)."""
        a = nn.sigmoid(Tensor([[-30.0]])).item()
        assert a == pytest.approx(np.exp(-30) / (1 + np.exp(-30)), rel=1e-14)

    def test_forward_mode_is_the_closed_form(self):
        """The JVP of sigmoid is Ż ⊙ A ⊙ (1 - A)."""
        v = RNG.normal(size=Z.shape)
        a, a_dot = jvp(nn.sigmoid, (Z,), (v,))
        np.testing.assert_allclose(a_dot, v * a * (1 - a), rtol=1e-12, atol=1e-15)


class TestTanh:
    def test_forward_matches_numpy(self):
        """tanh(Z) matches np.tanh to a few ulps of 1."""
        np.testing.assert_allclose(nn.tanh(Tensor(Z)).data, np.tanh(Z), rtol=0, atol=4e-16)

    def test_backward_is_the_closed_form(self):
        """dZ = dA ⊙ (1 - A ⊙ A)."""
        a, dz = value_and_vjp(nn.tanh, Z, DA)
        np.testing.assert_allclose(dz, DA * (1 - a * a), rtol=1e-12, atol=1e-15)

    def test_equals_the_composed_graph_of_math_md(self):
        """The stable graph gives the values and gradients of docs/maths.md's exp-based graph."""
        a, dz = value_and_vjp(nn.tanh, Z, DA)
        a_ref, dz_ref = value_and_vjp(tanh_math, Z, DA)
        np.testing.assert_allclose(a, a_ref, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(dz, dz_ref, rtol=1e-11, atol=1e-15)

    def test_derivative_at_zero_is_one(self):
        """tanh'(0) = 1, on the branch boundary of the stable form."""
        a, dz = value_and_vjp(nn.tanh, np.zeros((1, 1)), np.ones((1, 1)))
        assert a.item() == 0.0
        assert dz.item() == 1.0

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_saturates_at_plus_minus_1000_with_zero_gradient(self, dtype):
        """tanh(±1000) is exactly ±1, its gradient exactly 0, and nothing overflows."""
        z = np.array([[-1000.0, 1000.0]], dtype=dtype)
        a, dz = value_and_vjp(nn.tanh, z, np.ones_like(z))
        np.testing.assert_array_equal(a, [[-1.0, 1.0]])
        np.testing.assert_array_equal(dz, [[0.0, 0.0]])

    def test_forward_mode_is_the_closed_form(self):
        """The JVP of tanh is Ż ⊙ (1 - A ⊙ A)."""
        v = RNG.normal(size=Z.shape)
        a, a_dot = jvp(nn.tanh, (Z,), (v,))
        np.testing.assert_allclose(a_dot, v * (1 - a * a), rtol=1e-12, atol=1e-15)


class TestSoftmax:
    def test_columns_are_distributions(self):
        """Each column of softmax(Z) is positive and sums to 1 (softmax runs over axis 0)."""
        a = nn.softmax(Tensor(Z)).data
        assert (a > 0).all()
        np.testing.assert_allclose(a.sum(axis=0), np.ones(Z.shape[1]), rtol=1e-14)
        np.testing.assert_allclose(a, np.exp(Z) / np.exp(Z).sum(axis=0, keepdims=True), rtol=1e-13)

    def test_backward_is_the_closed_form(self):
        """dZ = A ⊙ (dA - broadcast(Σ_axis0 (dA ⊙ A)))."""
        a, dz = value_and_vjp(nn.softmax, Z, DA)
        np.testing.assert_allclose(dz, a * (DA - (DA * a).sum(axis=0, keepdims=True)), rtol=1e-11, atol=1e-15)

    def test_jacobian_of_each_column_is_diag_a_minus_a_a_transpose(self):
        """Seeding one output at a time recovers diag(a) - a aᵀ for every column."""
        z = Z[:, :2]
        a = nn.softmax(Tensor(z)).data
        for column in range(2):
            rows = []
            for i in range(z.shape[0]):
                seed = np.zeros_like(z)
                seed[i, column] = 1
                rows.append(value_and_vjp(nn.softmax, z, seed)[1][:, column])
            col = a[:, column]
            np.testing.assert_allclose(np.array(rows), np.diag(col) - np.outer(col, col), atol=1e-15)

    def test_equals_the_composed_graph_of_math_md(self):
        """The shifted graph gives the values and gradients of docs/maths.md's unshifted graph."""
        a, dz = value_and_vjp(nn.softmax, Z, DA)
        a_ref, dz_ref = value_and_vjp(softmax_math, Z, DA)
        np.testing.assert_allclose(a, a_ref, rtol=1e-13)
        np.testing.assert_allclose(dz, dz_ref, rtol=1e-11, atol=1e-15)

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_logits_of_1000_are_finite(self, dtype):
        """softmax of logits (1000, 0, -1000) is (1, 0, 0) with a finite (zero) gradient."""
        z = np.array([[1000.0, 1000.0], [0.0, 1000.0], [-1000.0, -1000.0]], dtype=dtype)
        a, dz = value_and_vjp(nn.softmax, z, RNG.normal(size=z.shape).astype(dtype))
        np.testing.assert_array_equal(a, [[1, 0.5], [0, 0.5], [0, 0]])
        assert np.isfinite(dz).all()
        np.testing.assert_allclose(dz[:, 0], 0, atol=0)

    def test_invariant_to_a_shift_of_each_column(self):
        """softmax(Z + c) = softmax(Z) for any row vector c."""
        c = RNG.normal(scale=100, size=(1, Z.shape[1]))
        np.testing.assert_allclose(nn.softmax(Tensor(Z + c)).data, nn.softmax(Tensor(Z)).data, rtol=1e-12)

    def test_forward_mode_is_the_closed_form(self):
        """The JVP of softmax is A ⊙ (Ż - broadcast(Σ_axis0 (Ż ⊙ A)))."""
        v = RNG.normal(size=Z.shape)
        a, a_dot = jvp(nn.softmax, (Z,), (v,))
        np.testing.assert_allclose(
            a_dot, a * (v - (v * a).sum(axis=0, keepdims=True)), rtol=1e-11, atol=1e-15
        )

    def test_scalar_input_is_rejected(self):
        """Softmax needs a class axis: a 0-d input is a ValueError naming the shape."""
        with pytest.raises(ValueError, match=r"softmax.*\(\)"):
            nn.softmax(Tensor(1.0))


class TestActivationModules:
    @pytest.mark.parametrize(
        ("module", "function"),
        [(nn.ReLU, nn.relu), (nn.Sigmoid, nn.sigmoid), (nn.Tanh, nn.tanh), (nn.Softmax, nn.softmax)],
    )
    def test_module_applies_its_function(self, module, function):
        """Each activation module computes its function and has no parameters."""
        np.testing.assert_array_equal(module()(Tensor(Z)).data, function(Tensor(Z)).data)
        assert module().parameters() == []

    @pytest.mark.parametrize("function", [nn.relu, nn.sigmoid, nn.tanh, nn.softmax])
    def test_float32_stays_float32(self, function):
        """A float32 input gives a float32 activation and a float32 gradient."""
        z = Z.astype(np.float32)
        a, dz = value_and_vjp(function, z, DA.astype(np.float32))
        assert a.dtype == np.float32 and dz.dtype == np.float32
