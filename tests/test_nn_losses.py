"""nn costs: docs/maths.md's formulas and seeds, extreme values, and target validation."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd
import nn
from autograd import Tensor, jvp

pytestmark = pytest.mark.filterwarnings("error")

RNG = np.random.default_rng(7)


def one_hot(labels, n):
    y = np.zeros((n, len(labels)))
    y[labels, np.arange(len(labels))] = 1
    return y


def value_and_grad(cost, x, y):
    """``(J, dJ/dx)`` for a cost of predictions or logits ``x``, by the engine's functional API."""
    j, dx = autograd.value_and_grad(cost)(x, y)
    return j.item(), dx


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max(axis=0))
    return e / e.sum(axis=0)


M = 6
Z_BINARY = RNG.normal(size=(1, M))
Y_BINARY = (RNG.random((1, M)) < 0.5).astype(float)
Z_MULTI = RNG.normal(size=(4, M))
Y_ONE_HOT = one_hot(RNG.integers(0, 4, M), 4)
Y_MULTI_LABEL = (RNG.random((4, M)) < 0.5).astype(float)


class TestValues:
    def test_binary_cross_entropy_is_the_formula(self):
        """J = -(1/m) Σ (Y log A + (1 - Y) log(1 - A))."""
        a = sigmoid(Z_MULTI)
        expected = -np.sum(Y_MULTI_LABEL * np.log(a) + (1 - Y_MULTI_LABEL) * np.log(1 - a)) / M
        assert nn.binary_cross_entropy(Tensor(a), Y_MULTI_LABEL).item() == pytest.approx(expected, rel=1e-13)

    def test_categorical_cross_entropy_is_the_formula(self):
        """J = -(1/m) Σ Y log A."""
        a = softmax(Z_MULTI)
        expected = -np.sum(Y_ONE_HOT * np.log(a)) / M
        assert nn.categorical_cross_entropy(Tensor(a), Y_ONE_HOT).item() == pytest.approx(expected, rel=1e-13)

    def test_softmax_cross_entropy_equals_categorical_of_softmax(self):
        """From logits, the cost equals categorical_cross_entropy(softmax(Z), Y)."""
        expected = nn.categorical_cross_entropy(nn.softmax(Tensor(Z_MULTI)), Y_ONE_HOT).item()
        assert nn.softmax_cross_entropy(Tensor(Z_MULTI), Y_ONE_HOT).item() == pytest.approx(
            expected, rel=1e-13
        )

    def test_binary_cross_entropy_with_logits_equals_binary_of_sigmoid(self):
        """From logits, the cost equals binary_cross_entropy(sigmoid(Z), Y)."""
        expected = nn.binary_cross_entropy(nn.sigmoid(Tensor(Z_MULTI)), Y_MULTI_LABEL).item()
        got = nn.binary_cross_entropy_with_logits(Tensor(Z_MULTI), Y_MULTI_LABEL).item()
        assert got == pytest.approx(expected, rel=1e-13)

    def test_costs_average_over_columns(self):
        """Repeating every column leaves J unchanged: the cost is a mean over m, not a sum."""
        for cost, z, y in [
            (nn.softmax_cross_entropy, Z_MULTI, Y_ONE_HOT),
            (nn.binary_cross_entropy_with_logits, Z_BINARY, Y_BINARY),
        ]:
            once = cost(Tensor(z), y).item()
            twice = cost(Tensor(np.tile(z, 2)), np.tile(y, 2)).item()
            assert twice == pytest.approx(once, rel=1e-13)

    def test_soft_labels_are_accepted(self):
        """Columns of Y that are probability vectors (summing to 1) are valid multiclass targets."""
        y = np.full((4, M), 0.25)
        expected = -np.sum(y * np.log(softmax(Z_MULTI))) / M
        assert nn.softmax_cross_entropy(Tensor(Z_MULTI), y).item() == pytest.approx(expected, rel=1e-13)


class TestSeeds:
    def test_binary_cross_entropy_seed(self):
        """dA[L] = (1/m) (1/(1 - A) ⊙ (1 - Y) - 1/A ⊙ Y)."""
        a = sigmoid(Z_MULTI)
        _, da = value_and_grad(nn.binary_cross_entropy, a, Y_MULTI_LABEL)
        expected = (1 / (1 - a) * (1 - Y_MULTI_LABEL) - 1 / a * Y_MULTI_LABEL) / M
        np.testing.assert_allclose(da, expected, rtol=1e-13)

    def test_categorical_cross_entropy_seed(self):
        """dA[L] = -(1/m) Y ⊙ 1/A."""
        a = softmax(Z_MULTI)
        _, da = value_and_grad(nn.categorical_cross_entropy, a, Y_ONE_HOT)
        np.testing.assert_allclose(da, -Y_ONE_HOT / a / M, rtol=1e-13)

    @pytest.mark.parametrize(
        ("z", "y"), [(Z_BINARY, Y_BINARY), (Z_MULTI, Y_MULTI_LABEL)], ids=["binary", "multi-label"]
    )
    def test_sigmoid_then_binary_cross_entropy_gives_a_minus_y_over_m(self, z, y):
        """With a sigmoid output, dZ[L] = (A - Y)/m, for one output and for several."""
        _, dz = value_and_grad(lambda t, y: nn.binary_cross_entropy(nn.sigmoid(t), y), z, y)
        np.testing.assert_allclose(dz, (sigmoid(z) - y) / M, rtol=1e-11, atol=1e-16)

    def test_softmax_then_categorical_cross_entropy_gives_a_minus_y_over_m(self):
        """With a softmax output and one-hot Y, dZ[L] = (A - Y)/m."""
        _, dz = value_and_grad(
            lambda t, y: nn.categorical_cross_entropy(nn.softmax(t), y), Z_MULTI, Y_ONE_HOT
        )
        np.testing.assert_allclose(dz, (softmax(Z_MULTI) - Y_ONE_HOT) / M, rtol=1e-11, atol=1e-16)

    def test_softmax_cross_entropy_gives_a_minus_y_over_m(self):
        """From logits, dZ[L] = (softmax(Z) - Y)/m."""
        _, dz = value_and_grad(nn.softmax_cross_entropy, Z_MULTI, Y_ONE_HOT)
        np.testing.assert_allclose(dz, (softmax(Z_MULTI) - Y_ONE_HOT) / M, rtol=1e-11, atol=1e-16)

    @pytest.mark.parametrize(
        ("z", "y"), [(Z_BINARY, Y_BINARY), (Z_MULTI, Y_MULTI_LABEL)], ids=["binary", "multi-label"]
    )
    def test_binary_cross_entropy_with_logits_gives_a_minus_y_over_m(self, z, y):
        """From logits, dZ[L] = (sigmoid(Z) - Y)/m."""
        _, dz = value_and_grad(nn.binary_cross_entropy_with_logits, z, y)
        np.testing.assert_allclose(dz, (sigmoid(z) - y) / M, rtol=1e-12, atol=1e-16)

    def test_binary_cross_entropy_with_logits_is_exact_at_zero(self):
        """At the kink z = 0 the gradient is still (1/2 - y)/m, for y = 0, 1/2 and 1."""
        y = np.array([[0.0, 0.5, 1.0]])
        _, dz = value_and_grad(nn.binary_cross_entropy_with_logits, np.zeros((1, 3)), y)
        np.testing.assert_array_equal(dz, (0.5 - y) / 3)

    @pytest.mark.parametrize(
        ("cost", "x", "y", "seed"),
        [
            (nn.softmax_cross_entropy, Z_MULTI, Y_ONE_HOT, (softmax(Z_MULTI) - Y_ONE_HOT) / M),
            (
                nn.binary_cross_entropy_with_logits,
                Z_MULTI,
                Y_MULTI_LABEL,
                (sigmoid(Z_MULTI) - Y_MULTI_LABEL) / M,
            ),
            (
                nn.binary_cross_entropy,
                sigmoid(Z_MULTI),
                Y_MULTI_LABEL,
                (1 / (1 - sigmoid(Z_MULTI)) * (1 - Y_MULTI_LABEL) - Y_MULTI_LABEL / sigmoid(Z_MULTI)) / M,
            ),
            (nn.categorical_cross_entropy, softmax(Z_MULTI), Y_ONE_HOT, -Y_ONE_HOT / softmax(Z_MULTI) / M),
        ],
        ids=lambda v: getattr(v, "__name__", ""),
    )
    def test_forward_mode_gives_the_directional_derivative(self, cost, x, y, seed):
        """The JVP of each cost along V equals <dA, V> with the closed-form seed dA of docs/maths.md."""
        v = RNG.normal(size=x.shape)
        _, j_dot = jvp(lambda t: cost(t, y), (x,), (v,))
        assert float(j_dot) == pytest.approx(np.sum(seed * v), rel=1e-12)


class TestExtremes:
    def test_softmax_cross_entropy_of_logits_1000_0_minus_1000_for_class_2_is_2000(self):
        """Logits (1000, 0, -1000) with target class 2 (the third) cost 2000, gradient (1, 0, -1)."""
        z = np.array([[1000.0], [0.0], [-1000.0]])
        j, dz = value_and_grad(nn.softmax_cross_entropy, z, np.array([[0.0], [0.0], [1.0]]))
        assert j == 2000.0
        np.testing.assert_array_equal(dz, [[1.0], [0.0], [-1.0]])

    def test_softmax_cross_entropy_float32(self):
        """The same in float32: exactly 2000, finite gradient."""
        z = np.array([[1000.0], [0.0], [-1000.0]], dtype=np.float32)
        j, dz = value_and_grad(nn.softmax_cross_entropy, z, np.array([[0], [0], [1]], dtype=np.float32))
        assert j == 2000.0
        np.testing.assert_array_equal(dz, np.array([[1.0], [0.0], [-1.0]], dtype=np.float32))

    def test_binary_cross_entropy_with_logits_at_plus_minus_1000(self):
        """Confidently wrong logits ±1000 cost 1000 each with gradient ±1/m; right ones cost 0."""
        z = np.array([[1000.0, -1000.0, 1000.0, -1000.0]])
        y = np.array([[0.0, 1.0, 1.0, 0.0]])
        j, dz = value_and_grad(nn.binary_cross_entropy_with_logits, z, y)
        assert j == 2000.0 / 4
        np.testing.assert_array_equal(dz, [[0.25, -0.25, 0.0, 0.0]])

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_binary_cross_entropy_of_probabilities_0_and_1(self, dtype):
        """A = 0 or 1 exactly: each log is clamped at -100 (as PyTorch), cost and gradient finite."""
        a = np.array([[0.0, 1.0, 0.0, 1.0]], dtype=dtype)
        y = np.array([[1.0, 0.0, 0.0, 1.0]], dtype=dtype)
        j, da = value_and_grad(nn.binary_cross_entropy, a, y)
        assert j == pytest.approx(200.0 / 4)
        assert np.isfinite(da).all() and da.dtype == dtype

    def test_categorical_cross_entropy_of_probability_0(self):
        """A zero probability on the target class costs 100 (the clamp), with a finite gradient."""
        a = np.array([[0.0, 0.5], [1.0, 0.5]])
        y = np.array([[1.0, 1.0], [0.0, 0.0]])
        j, da = value_and_grad(nn.categorical_cross_entropy, a, y)
        assert j == pytest.approx((100 + np.log(2)) / 2, rel=1e-13)
        assert np.isfinite(da).all()
        np.testing.assert_allclose(da[:, 1], [-1 / 0.5 / 2, 0.0])

    def test_sigmoid_then_binary_cross_entropy_at_plus_minus_1000(self):
        """The probability-space cost of saturated sigmoids stays finite: 100 per wrong column."""
        z = np.array([[1000.0, -1000.0]])
        j, dz = value_and_grad(
            lambda t, y: nn.binary_cross_entropy(nn.sigmoid(t), y), z, np.array([[0.0, 1.0]])
        )
        assert j == pytest.approx(100.0)
        assert np.isfinite(dz).all()


class TestTargetValidation:
    COSTS = [
        nn.binary_cross_entropy,
        nn.categorical_cross_entropy,
        nn.softmax_cross_entropy,
        nn.binary_cross_entropy_with_logits,
    ]

    @pytest.mark.parametrize("cost", COSTS)
    def test_wrong_shape_is_never_broadcast(self, cost):
        """Targets of another shape, even a broadcastable one, are a ValueError naming both shapes."""
        a = Tensor(np.full((3, 4), 1 / 3))
        for y in (np.zeros((1, 4)), np.zeros((3, 1)), np.zeros((4, 3))):
            pattern = f"{cost.__name__}.*{re.escape(str(y.shape))}.*{re.escape('(3, 4)')}"
            with pytest.raises(ValueError, match=pattern):
                cost(a, y)

    @pytest.mark.parametrize("cost", COSTS)
    @pytest.mark.parametrize("bad", [-0.5, 1.5, np.nan])
    def test_values_outside_0_1_are_rejected(self, cost, bad):
        """A target outside [0, 1] (or NaN) is a ValueError."""
        y = np.array([[1.0, 0.0], [0.0, 1.0]])
        y[0, 0] = bad
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            cost(Tensor(np.full((2, 2), 0.5)), y)

    @pytest.mark.parametrize("cost", [nn.categorical_cross_entropy, nn.softmax_cross_entropy])
    def test_multiclass_columns_must_sum_to_one(self, cost):
        """Columns of Y that do not sum to 1 are a ValueError naming the column."""
        y = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
        with pytest.raises(ValueError, match="column 1 sums to 2"):
            cost(Tensor(np.full((2, 3), 0.5)), y)
        with pytest.raises(ValueError, match="column 2 sums to 0"):
            cost(Tensor(np.full((2, 3), 0.5)), np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))

    def test_multi_label_targets_need_not_sum_to_one(self):
        """Binary cross-entropy accepts several (or no) labels per column."""
        y = np.array([[1.0, 0.0], [1.0, 0.0]])
        assert np.isfinite(nn.binary_cross_entropy(Tensor(np.full((2, 2), 0.5)), y).item())

    @pytest.mark.parametrize("cost", [nn.binary_cross_entropy, nn.categorical_cross_entropy])
    def test_predictions_must_be_probabilities(self, cost):
        """Probability-space costs reject predictions outside [0, 1] (logits need the other costs)."""
        with pytest.raises(ValueError, match="probabilities"):
            cost(Tensor(np.array([[1.5], [-0.5]])), np.array([[1.0], [0.0]]))

    @pytest.mark.parametrize("cost", COSTS)
    def test_predictions_must_be_matrices(self, cost):
        """A 1-D prediction is a ValueError asking for (n_L, m)."""
        with pytest.raises(ValueError, match=r"\(n_L, m\)"):
            cost(Tensor(np.full(3, 0.5)), np.zeros(3))

    def test_float64_labels_do_not_promote_a_float32_cost(self):
        """Array targets take the predictions' dtype: the cost and gradient of float32 logits stay float32."""
        z = Tensor(Z_MULTI.astype(np.float32), requires_grad=True)
        j = nn.softmax_cross_entropy(z, Y_ONE_HOT)  # float64 labels
        j.backward()
        assert j.dtype == np.float32 and z.grad.dtype == np.float32


class TestAnyShapeAndScale:
    @settings(max_examples=60, deadline=None)
    @given(
        n=st.integers(1, 6),
        m=st.integers(1, 6),
        scale=st.sampled_from([1e-3, 1.0, 30.0, 1000.0]),
        seed=st.integers(0, 2**32 - 1),
    )
    def test_softmax_cross_entropy_seed(self, n, m, scale, seed):
        """For any (n, m) and logits up to ±1000s, J is finite and dZ = (softmax(Z) - Y)/m."""
        rng = np.random.default_rng(seed)
        z = rng.normal(scale=scale, size=(n, m))
        y = one_hot(rng.integers(0, n, m), n)
        j, dz = value_and_grad(nn.softmax_cross_entropy, z, y)
        assert np.isfinite(j) and j >= 0
        np.testing.assert_allclose(dz, (softmax(z) - y) / m, rtol=1e-12, atol=1e-15)

    @settings(max_examples=60, deadline=None)
    @given(
        n=st.integers(1, 6),
        m=st.integers(1, 6),
        scale=st.sampled_from([1e-3, 1.0, 30.0, 1000.0]),
        seed=st.integers(0, 2**32 - 1),
    )
    def test_binary_cross_entropy_with_logits_seed(self, n, m, scale, seed):
        """For any (n, m) and logits up to ±1000s, J is finite and dZ = (sigmoid(Z) - Y)/m."""
        rng = np.random.default_rng(seed)
        z = rng.normal(scale=scale, size=(n, m))
        y = (rng.random((n, m)) < 0.5) * 1.0
        j, dz = value_and_grad(nn.binary_cross_entropy_with_logits, z, y)
        assert np.isfinite(j) and j >= 0
        e = np.exp(-np.abs(z))  # sigmoid without overflow, as the referee
        expected_sigmoid = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
        np.testing.assert_allclose(dz, (expected_sigmoid - y) / m, rtol=1e-12, atol=1e-15)


def test_fixed_target_tensors_are_checked_again_whenever_their_values_can_have_changed():
    # Valid Tensor targets are checked once per array; replaced data, an array made writeable
    # and written in place, and a cost with a stricter check are all checked anew.
    z = Tensor(np.zeros((3, 2)), requires_grad=True)
    y = Tensor(np.eye(3)[:, :2])
    assert np.isclose(nn.softmax_cross_entropy(z, y).item(), np.log(3))
    assert np.isclose(nn.softmax_cross_entropy(z, y).item(), np.log(3))  # served from the record
    y.data = np.array([[2.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]; found 2.0"):
        nn.softmax_cross_entropy(z, y)
    y = Tensor(np.eye(3)[:, :2])
    nn.softmax_cross_entropy(z, y)
    array = y.data
    array.flags.writeable = True
    array[0, 0] = 0.5
    with pytest.raises(ValueError, match="column 0 sums to 0.5"):
        nn.softmax_cross_entropy(z, y)
    # The same array, valid in [0, 1] for the binary cost, is then checked for column sums.
    half = Tensor(np.full((3, 2), 0.5))
    nn.binary_cross_entropy_with_logits(z, half)
    with pytest.raises(ValueError, match="column 0 sums to 1.5"):
        nn.softmax_cross_entropy(z, half)
