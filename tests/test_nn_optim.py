"""nn.optim: SGD (with momentum) and Adam against their update formulas, dtypes, skipped grads."""

import numpy as np
import pytest

import nn
from autograd import Tensor

pytestmark = pytest.mark.filterwarnings("error")

RNG = np.random.default_rng(1)


def parameter(shape, dtype=np.float64):
    return Tensor(RNG.normal(size=shape).astype(dtype), requires_grad=True)


def run(optimizer_factory, gradients, dtype=np.float64):
    """Apply one optimizer step per gradient to a fresh parameter; returns its successive values."""
    p = Tensor(np.ones((2, 3), dtype=dtype), requires_grad=True)
    optimizer = optimizer_factory([p])
    values = []
    for g in gradients:
        p.grad = g.astype(dtype)
        optimizer.step()
        values.append(p.data.copy())
    return values


GRADIENTS = [RNG.normal(size=(2, 3)) for _ in range(4)]


class TestSGD:
    def test_plain_step(self):
        """Without momentum: W = W - lr dW."""
        values = run(lambda ps: nn.optim.SGD(ps, lr=0.1), GRADIENTS[:1])
        np.testing.assert_allclose(values[0], 1 - 0.1 * GRADIENTS[0], rtol=1e-15)

    def test_momentum(self):
        """Heavy ball: v1 = g1, v2 = μ v1 + g2, ... and W = W - lr v."""
        lr, mu = 0.1, 0.9
        values = run(lambda ps: nn.optim.SGD(ps, lr=lr, momentum=mu), GRADIENTS)
        w, v = np.ones((2, 3)), None
        for g, got in zip(GRADIENTS, values):
            v = g if v is None else mu * v + g
            w = w - lr * v
            np.testing.assert_allclose(got, w, rtol=1e-14)

    def test_rejects_bad_hyperparameters(self):
        """A non-positive learning rate or a momentum outside [0, 1) is a ValueError."""
        with pytest.raises(ValueError):
            nn.optim.SGD([parameter((2,))], lr=0.0)
        with pytest.raises(ValueError):
            nn.optim.SGD([parameter((2,))], lr=0.1, momentum=1.0)


class TestAdam:
    def test_matches_the_update_formula(self):
        """m, v moving averages with bias correction: W -= lr m̂ / (sqrt(v̂) + ε)."""
        lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
        values = run(lambda ps: nn.optim.Adam(ps, lr=lr, betas=(b1, b2), eps=eps), GRADIENTS)
        w, m, v = np.ones((2, 3)), 0.0, 0.0
        for t, (g, got) in enumerate(zip(GRADIENTS, values), start=1):
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
            np.testing.assert_allclose(got, w, rtol=1e-13)

    def test_first_step_moves_each_entry_by_about_lr(self):
        """After bias correction, the first step is lr ⊙ sign(g) (up to ε)."""
        values = run(lambda ps: nn.optim.Adam(ps, lr=0.01), GRADIENTS[:1])
        np.testing.assert_allclose(values[0], 1 - 0.01 * np.sign(GRADIENTS[0]), rtol=1e-6)

    def test_minimises_a_quadratic(self):
        """Adam drives ||W - T||² towards 0."""
        target = RNG.normal(size=(3, 2))
        w = Tensor(np.zeros((3, 2)), requires_grad=True)
        optimizer = nn.optim.Adam([w], lr=0.05)
        for _ in range(500):
            optimizer.zero_grad()
            ((w - target) * (w - target)).sum().backward()
            optimizer.step()
        np.testing.assert_allclose(w.data, target, atol=1e-3)


@pytest.mark.parametrize(
    "factory",
    [
        lambda ps: nn.optim.SGD(ps, lr=0.1),
        lambda ps: nn.optim.SGD(ps, lr=0.1, momentum=0.9),
        lambda ps: nn.optim.Adam(ps, lr=0.1),
    ],
    ids=["sgd", "momentum", "adam"],
)
class TestCommon:
    def test_float32_parameters_stay_float32(self, factory):
        """Parameters and every state buffer stay float32 through several steps."""
        p = parameter((3, 2), np.float32)
        optimizer = factory([p])
        for g in GRADIENTS[:3]:
            p.grad = g.T.astype(np.float32)
            optimizer.step()
            assert p.dtype == np.float32
        state = getattr(optimizer, "state", {}) | getattr(optimizer, "velocity", {})
        arrays = [a for value in state.values() for a in (value if isinstance(value, tuple) else (value,))]
        assert all(a.dtype == np.float32 for a in arrays if isinstance(a, np.ndarray))

    def test_parameters_without_grad_are_skipped(self, factory):
        """A parameter whose grad is None is left exactly as it was."""
        used, unused = parameter((2, 2)), parameter((2, 2))
        used_before, unused_before = used.data.copy(), unused.data.copy()
        optimizer = factory([used, unused])
        used.grad = np.ones((2, 2))
        optimizer.step()
        np.testing.assert_array_equal(unused.data, unused_before)
        assert (used.data < used_before).all()

    def test_zero_grad_forgets_gradients(self, factory):
        """zero_grad() sets every parameter's grad to None."""
        p = parameter((2,))
        p.grad = np.ones(2)
        optimizer = factory([p])
        optimizer.zero_grad()
        assert p.grad is None

    def test_step_replaces_the_read_only_array(self, factory):
        """The update assigns a new read-only array; the old one (saved by a graph) is untouched."""
        p = parameter((2, 2))
        old = p.data
        snapshot = old.copy()
        p.grad = np.ones((2, 2))
        factory([p]).step()
        assert p.data is not old and not p.data.flags.writeable
        np.testing.assert_array_equal(old, snapshot)

    def test_training_reduces_the_cost_of_an_mlp(self, factory):
        """A few steps on one batch lower a small network's cost."""
        rng = np.random.default_rng(0)
        model = nn.MLP([4, 8, 3], rng=rng)
        x = rng.normal(size=(4, 16)).astype(np.float32)
        y = np.eye(3, dtype=np.float32)[:, rng.integers(0, 3, 16)]
        optimizer = factory(model.parameters())
        costs = []
        for _ in range(20):
            optimizer.zero_grad()
            cost = nn.softmax_cross_entropy(model(x), y)
            cost.backward()
            optimizer.step()
            costs.append(cost.item())
        assert costs[-1] < 0.5 * costs[0]


def test_empty_parameter_list_is_an_error():
    """An optimizer over no parameters is a ValueError (usually a forgotten model.parameters())."""
    with pytest.raises(ValueError):
        nn.optim.Adam([])
