"""nn.Dropout: inverted dropout kept in expectation, masked gradients, eval identity, seeded masks."""

import numpy as np
import pytest

import nn
from autograd import Tensor, gradcheck, hessian, hvp, jacfwd, jacrev
from autograd.backward import toposort

pytestmark = pytest.mark.filterwarnings("error")


class TestTrainingMode:
    def test_expectation_is_kept(self):
        """Each output entry is X/(1-p) or 0; the mean over 10^5 entries is 1 within 4 standard errors.

        With M = D/(1-p), D ~ Bernoulli(1-p): E[M] = 1 and Var[M] = p/(1-p), so the mean of N
        independent entries has standard error sqrt(p / ((1-p) N)); the zeros' fraction has
        standard error sqrt(p (1-p) / N).
        """
        p, shape = 0.3, (200, 500)
        n = shape[0] * shape[1]
        out = nn.Dropout(p, rng=0)(Tensor(np.ones(shape))).data
        assert set(np.unique(out)) == {0.0, 1 / (1 - p)}
        assert abs(out.mean() - 1) < 4 * np.sqrt(p / ((1 - p) * n))
        assert abs(np.mean(out == 0) - p) < 4 * np.sqrt(p * (1 - p) / n)

    def test_expectation_of_every_entry_over_many_draws(self):
        """Averaged over 2,000 masks, the output is X entrywise (4 standard errors each)."""
        p, draws = 0.5, 2000
        x = np.random.default_rng(1).normal(size=(4, 5))
        layer = nn.Dropout(p, rng=2)
        mean = np.mean([layer(Tensor(x)).data for _ in range(draws)], axis=0)
        standard_error = np.abs(x) * np.sqrt(p / ((1 - p) * draws))
        assert (np.abs(mean - x) < 4 * standard_error).all()

    def test_gradient_is_masked_like_the_forward(self):
        """dX = dA ⊙ M with the same mask M as the forward: zero exactly where the output was dropped."""
        p = 0.4
        x = Tensor(np.random.default_rng(3).uniform(1, 2, size=(6, 7)), requires_grad=True)
        out = nn.Dropout(p, rng=4)(x)
        mask = out.data / x.data
        assert 0 < np.mean(mask == 0) < 1
        seed = np.random.default_rng(5).normal(size=(6, 7))
        out.backward(seed)
        np.testing.assert_allclose(x.grad, seed * mask, rtol=1e-15)
        assert ((x.grad == 0) == (out.data == 0)).all()

    def test_gradcheck_with_a_fixed_mask(self):
        """Rebuilt with the same seed, the layer draws the same mask: gradcheck passes through it."""

        def f(x):
            return nn.Dropout(0.5, rng=6)(x) * x

        x = np.random.default_rng(7).normal(size=(3, 4))
        assert gradcheck(f, x)
        assert np.count_nonzero(f(Tensor(x)).data == 0) > 0  # the mask really drops entries

    def test_forward_and_reverse_jacobians_are_the_diagonal_of_the_mask(self):
        """Dropout records one mul by a constant: both modes give J = diag(M), as any engine op would."""

        def f(x):
            return nn.Dropout(0.5, rng=8)(x)

        x = np.random.default_rng(9).normal(size=(5,))
        mask = f(Tensor(x)).data / x
        np.testing.assert_allclose(jacfwd(f)(x), np.diag(mask), rtol=1e-15)
        np.testing.assert_allclose(jacrev(f)(x), np.diag(mask), rtol=1e-15)

    def test_second_derivatives_go_through_the_mask(self):
        """f = Σ (M ⊙ x)³ has the Hessian diag(6 M³ ⊙ x), by every pairing of the modes."""

        def f(x):
            return (nn.Dropout(0.5, rng=10)(x) ** 3).sum()

        x = np.random.default_rng(11).normal(size=(6,))
        mask = nn.Dropout(0.5, rng=10)(Tensor(x)).data / x
        expected = np.diag(6 * mask**3 * x)
        np.testing.assert_allclose(hessian(f)(x), expected, rtol=1e-12)
        v = np.random.default_rng(12).normal(size=(6,))
        for mode in ("fwd-over-rev", "rev-over-fwd", "rev-over-rev"):
            np.testing.assert_allclose(hvp(f, x, v, mode=mode), expected @ v, rtol=1e-12, err_msg=mode)

    def test_dtype_is_kept(self):
        """A float32 input gives a float32 output and gradient."""
        x = Tensor(np.ones((3, 3), dtype=np.float32), requires_grad=True)
        out = nn.Dropout(0.2, rng=0)(x)
        out.sum().backward()
        assert out.dtype == np.float32 and x.grad.dtype == np.float32

    def test_p_zero_is_the_identity(self):
        """p = 0 drops nothing."""
        x = Tensor(np.ones(3))
        assert nn.Dropout(0.0)(x) is x


class TestEvaluationMode:
    def test_identity_in_eval_mode(self):
        """After eval(), the layer returns its input itself and records nothing."""
        layer = nn.Dropout(0.9, rng=0).eval()
        x = Tensor(np.ones((2, 2)), requires_grad=True)
        assert layer(x) is x
        array = np.ones(3)
        assert layer(array) is array

    def test_mlp_is_deterministic_in_eval_mode_only(self):
        """An MLP with dropout: two training forwards differ, two evaluation forwards agree."""
        model = nn.MLP([4, 16, 3], dropout=0.5, rng=0)
        x = np.ones((4, 5), dtype=np.float32)
        assert not np.array_equal(model(x).data, model(x).data)
        model.eval()
        np.testing.assert_array_equal(model(x).data, model(x).data)
        assert "mul" not in {node.op.name for node in toposort(model(x))}
        model.train()
        assert "mul" in {node.op.name for node in toposort(model(x))}


class TestSeeds:
    def test_seeded_runs_repeat(self):
        """Two layers from the same seed draw the same sequence of masks; another seed differs."""
        x = Tensor(np.ones((8, 8)))
        a, b, c = nn.Dropout(0.5, rng=11), nn.Dropout(0.5, rng=11), nn.Dropout(0.5, rng=12)
        for _ in range(3):
            first = a(x).data
            np.testing.assert_array_equal(first, b(x).data)
            assert not np.array_equal(first, c(x).data)

    def test_default_generator_follows_manual_seed(self):
        """Layers built without rng draw from a child of nn.init's generator: manual_seed repeats them."""
        x = Tensor(np.ones((8, 8)))
        try:
            nn.init.manual_seed(5)
            first = nn.Dropout(0.5)(x).data
            nn.init.manual_seed(5)
            np.testing.assert_array_equal(nn.Dropout(0.5)(x).data, first)
        finally:
            nn.init.manual_seed(0)

    def test_mlp_dropout_is_reproducible_from_its_seed(self):
        """Two MLPs from the same seed drop the same units."""
        x = np.ones((4, 6), dtype=np.float32)
        a = nn.MLP([4, 8, 8, 2], dropout=0.3, rng=3)
        b = nn.MLP([4, 8, 8, 2], dropout=0.3, rng=3)
        np.testing.assert_array_equal(a(x).data, b(x).data)


@pytest.mark.parametrize(
    ("p", "error"),
    [
        (1.0, ValueError),
        (-0.1, ValueError),
        (float("nan"), ValueError),
        ("0.5", TypeError),
        (True, TypeError),
    ],
)
def test_invalid_probability(p, error):
    """p must be a number in [0, 1): the error names p."""
    with pytest.raises(error, match="p"):
        nn.Dropout(p)


def test_mlp_without_hidden_layers_rejects_dropout():
    """Dropout follows hidden activations: asking for it with none is an error, not a no-op."""
    with pytest.raises(ValueError, match="dropout"):
        nn.MLP([4, 2], dropout=0.5)
