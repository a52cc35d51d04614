"""nn.optim: update formulas, dtypes, skipped grads, parameter groups, state dicts, copies, validation.

The comparison with PyTorch over 100 steps lives in test_nn_optim_torch.py.
"""

import copy
import math
import pickle
import re

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

    def test_weight_decay_joins_the_gradient(self):
        """With weight decay λ: W = W - lr (dW + λ W)."""
        lr, decay = 0.1, 0.3
        values = run(lambda ps: nn.optim.SGD(ps, lr=lr, weight_decay=decay), GRADIENTS)
        w = np.ones((2, 3))
        for g, got in zip(GRADIENTS, values):
            w = w - lr * (g + decay * w)
            np.testing.assert_allclose(got, w, rtol=1e-14)

    def test_nesterov(self):
        """Nesterov: b = μ b + g, W = W - lr (g + μ b)."""
        lr, mu = 0.1, 0.9
        values = run(lambda ps: nn.optim.SGD(ps, lr=lr, momentum=mu, nesterov=True), GRADIENTS)
        w, b = np.ones((2, 3)), None
        for g, got in zip(GRADIENTS, values):
            b = g if b is None else mu * b + g
            w = w - lr * (g + mu * b)
            np.testing.assert_allclose(got, w, rtol=1e-14)


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

    def test_l2_weight_decay_enters_the_moments(self):
        """Adam's weight decay adds λ W to the gradient before the moments (as torch.optim.Adam)."""
        lr, decay = 0.01, 0.5
        values = run(lambda ps: nn.optim.Adam(ps, lr=lr, weight_decay=decay), GRADIENTS)
        w, m, v = np.ones((2, 3)), 0.0, 0.0
        for t, (g, got) in enumerate(zip(GRADIENTS, values), start=1):
            g = g + decay * w
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            w = w - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
            np.testing.assert_allclose(got, w, rtol=1e-13)

    def test_adamw_decouples_weight_decay(self):
        """AdamW shrinks W by (1 - lr λ) and runs Adam on the raw gradient; λ defaults to 1e-2."""
        lr = 0.01
        optimizer = nn.optim.AdamW([parameter((2,))], lr=lr)
        assert optimizer.param_groups[0]["weight_decay"] == 1e-2
        values = run(lambda ps: nn.optim.AdamW(ps, lr=lr, weight_decay=0.5), GRADIENTS)
        w, m, v = np.ones((2, 3)), 0.0, 0.0
        for t, (g, got) in enumerate(zip(GRADIENTS, values), start=1):
            w = w * (1 - lr * 0.5)
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            w = w - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
            np.testing.assert_allclose(got, w, rtol=1e-13)

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
        lambda ps: nn.optim.Adam(ps, lr=0.1, weight_decay=0.1, amsgrad=True),
        lambda ps: nn.optim.AdamW(ps, lr=0.1),
    ],
    ids=["sgd", "momentum", "adam", "adam-l2-amsgrad", "adamw"],
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
        arrays = [
            a for entry in optimizer.state.values() for a in entry.values() if isinstance(a, np.ndarray)
        ]
        assert all(a.dtype == np.float32 for a in arrays)
        assert arrays or isinstance(optimizer, nn.optim.SGD) and not optimizer.param_groups[0]["momentum"]

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


FACTORIES = {
    "sgd-momentum": lambda ps: nn.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=0.01),
    "adam": lambda ps: nn.optim.Adam(ps, lr=0.01, weight_decay=0.01),
    "adam-amsgrad": lambda ps: nn.optim.Adam(ps, lr=0.01, amsgrad=True),
    "adamw": lambda ps: nn.optim.AdamW(ps, lr=0.01),
}


def gradient_stream(seed, shapes, steps):
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=shape) for shape in shapes] for _ in range(steps)]


def replay(optimizer, params, gradients):
    """One step per entry of ``gradients``; returns the parameters' values after each."""
    values = []
    for step in gradients:
        for p, g in zip(params, step):
            p.grad = g.astype(p.dtype)
        optimizer.step()
        values.append([p.data.copy() for p in params])
    return values


@pytest.mark.parametrize("name", list(FACTORIES))
class TestStateSurvivesCopies:
    """Momentum buffers and Adam moments are kept by deepcopy, pickle and state dicts."""

    SHAPES = [(3, 2), (4,)]

    def trained(self, name):
        params = [parameter(shape) for shape in self.SHAPES]
        optimizer = FACTORIES[name](params)
        replay(optimizer, params, gradient_stream(0, self.SHAPES, 5))
        return params, optimizer

    def test_deepcopy_mid_training_continues_identically(self, name):
        """A deepcopy of the optimizer (and its parameters) steps exactly as the original does."""
        params, optimizer = self.trained(name)
        copied = copy.deepcopy(optimizer)
        copied_params = [p for group in copied.param_groups for p in group["params"]]
        assert all(c is not p for c, p in zip(copied_params, params))
        later = gradient_stream(1, self.SHAPES, 5)
        for ours, theirs in zip(replay(optimizer, params, later), replay(copied, copied_params, later)):
            for a, b in zip(ours, theirs):
                np.testing.assert_array_equal(a, b)

    def test_deepcopy_of_model_and_optimizer_together_keeps_them_linked(self, name):
        """copy.deepcopy((model, optimizer)): the copied optimizer steps the copied model."""
        model = nn.MLP([3, 4, 2], dtype=np.float64, rng=0)
        optimizer = FACTORIES[name](model.parameters())
        x, y = np.ones((3, 5)), np.eye(2)[:, [0, 1, 0, 1, 1]]
        for _ in range(3):
            optimizer.zero_grad()
            nn.softmax_cross_entropy(model(x), y).backward()
            optimizer.step()
        model_copy, optimizer_copy = copy.deepcopy((model, optimizer))
        for m, o in ((model, optimizer), (model_copy, optimizer_copy)):
            o.zero_grad()
            nn.softmax_cross_entropy(m(x), y).backward()
            o.step()
        for p, q in zip(model.parameters(), model_copy.parameters()):
            np.testing.assert_array_equal(p.data, q.data)

    def test_pickle_mid_training_continues_identically(self, name):
        """A pickled and unpickled optimizer keeps its state and steps as the original does."""
        params, optimizer = self.trained(name)
        restored = pickle.loads(pickle.dumps(optimizer))
        restored_params = [p for group in restored.param_groups for p in group["params"]]
        later = gradient_stream(1, self.SHAPES, 5)
        for ours, theirs in zip(replay(optimizer, params, later), replay(restored, restored_params, later)):
            for a, b in zip(ours, theirs):
                np.testing.assert_array_equal(a, b)

    def test_state_dict_round_trip(self, name):
        """A fresh optimizer that loads state_dict() continues exactly as the original."""
        params, optimizer = self.trained(name)
        twins = [Tensor(p.data.copy(), requires_grad=True) for p in params]
        fresh = FACTORIES[name](twins)
        fresh.load_state_dict(optimizer.state_dict())
        later = gradient_stream(1, self.SHAPES, 5)
        for ours, theirs in zip(replay(optimizer, params, later), replay(fresh, twins, later)):
            for a, b in zip(ours, theirs):
                np.testing.assert_array_equal(a, b)

    def test_state_dict_shape_is_pytorchs(self, name):
        """{"state": {index: {...}}, "param_groups": [{hyperparameters..., "params": [indices]}]}, copied."""
        params, optimizer = self.trained(name)
        saved = optimizer.state_dict()
        assert set(saved) == {"state", "param_groups"}
        assert set(saved["state"]) == {0, 1}
        assert saved["param_groups"][0]["params"] == [0, 1]
        assert saved["param_groups"][0]["lr"] == optimizer.param_groups[0]["lr"]
        expected = {"momentum_buffer"} if name.startswith("sgd") else {"step", "exp_avg", "exp_avg_sq"}
        if name == "adam-amsgrad":
            expected.add("max_exp_avg_sq")
        assert set(saved["state"][0]) == expected
        array = next(v for v in saved["state"][0].values() if isinstance(v, np.ndarray))
        key = next(k for k, v in saved["state"][0].items() if v is array)
        array += 1.0  # the saved arrays are copies
        assert not np.array_equal(optimizer.state[0][key], array)
        if "step" in expected:
            assert saved["state"][0]["step"] == 5


class TestLoadStateDictChecks:
    def trained(self):
        params = [parameter((3, 2)), parameter((4,))]
        optimizer = nn.optim.Adam(params, lr=0.01)
        replay(optimizer, params, gradient_stream(0, [(3, 2), (4,)], 3))
        return params, optimizer

    def assert_rejected(self, optimizer, saved, error, pattern):
        before = copy.deepcopy(optimizer.state)
        with pytest.raises(error, match=pattern):
            optimizer.load_state_dict(saved)
        for index, entry in before.items():
            for key, value in entry.items():
                np.testing.assert_array_equal(optimizer.state[index][key], value)

    def test_complex_array_is_rejected(self):
        """A complex moment is a TypeError naming the entry: its imaginary part would be dropped."""
        _, optimizer = self.trained()
        saved = optimizer.state_dict()
        saved["state"][0]["exp_avg"] = saved["state"][0]["exp_avg"] + 1j
        self.assert_rejected(optimizer, saved, TypeError, r"state\[0\]\['exp_avg'\].*complex128")

    def test_wrong_shape_is_rejected(self):
        """A moment of the wrong shape names both shapes."""
        _, optimizer = self.trained()
        saved = optimizer.state_dict()
        saved["state"][1]["exp_avg_sq"] = np.zeros((5,))
        self.assert_rejected(optimizer, saved, ValueError, re.escape("(5,)") + ".*" + re.escape("(4,)"))

    def test_group_count_and_size_must_match(self):
        """Another number of groups, or of parameters in a group, is a ValueError."""
        _, optimizer = self.trained()
        saved = optimizer.state_dict()
        self.assert_rejected(
            optimizer, {**saved, "param_groups": saved["param_groups"] * 2}, ValueError, "2 parameter groups"
        )
        group = {**saved["param_groups"][0], "params": [0]}
        self.assert_rejected(optimizer, {**saved, "param_groups": [group]}, ValueError, "1 parameters")

    def test_another_optimizers_state_is_rejected(self):
        """SGD's state dict loaded into Adam is an error naming what does not fit."""
        params, optimizer = self.trained()
        sgd = nn.optim.SGD(params, lr=0.1, momentum=0.9)
        replay(sgd, params, gradient_stream(2, [(3, 2), (4,)], 1))
        self.assert_rejected(optimizer, sgd.state_dict(), ValueError, "lacks the hyperparameters.*betas")
        saved = optimizer.state_dict()
        saved["state"][0] = {"momentum_buffer": np.zeros((3, 2))}
        self.assert_rejected(optimizer, saved, ValueError, "unknown entries.*momentum_buffer")

    def test_state_is_cast_to_the_parameter_dtype(self):
        """float64 moments loaded for float32 parameters are stored as float32."""
        params = [parameter((2,), np.float32)]
        optimizer = nn.optim.Adam(params)
        saved = {
            "state": {0: {"step": 2, "exp_avg": np.ones(2), "exp_avg_sq": np.ones(2)}},
            "param_groups": [{**optimizer.state_dict()["param_groups"][0]}],
        }
        optimizer.load_state_dict(saved)
        assert optimizer.state[0]["exp_avg"].dtype == np.float32 and optimizer.state[0]["step"] == 2

    def test_loaded_hyperparameters_are_validated(self):
        """A saved group with lr = inf is rejected like the constructor would."""
        _, optimizer = self.trained()
        saved = optimizer.state_dict()
        saved["param_groups"][0]["lr"] = math.inf
        self.assert_rejected(optimizer, saved, ValueError, "lr")


class TestParamGroups:
    def test_groups_are_dicts_with_the_defaults_filled_in(self):
        """param_groups is a list of dicts holding params and every hyperparameter, as PyTorch's."""
        a, b = parameter((2,)), parameter((3,))
        optimizer = nn.optim.SGD([{"params": [a], "lr": 0.5}, {"params": b}], lr=0.1, momentum=0.9)
        first, second = optimizer.param_groups
        assert first["params"] == [a] and second["params"] == [b]
        assert first["lr"] == 0.5 and second["lr"] == 0.1
        assert first["momentum"] == second["momentum"] == 0.9
        assert set(first) == {"params", "lr", "momentum", "dampening", "weight_decay", "nesterov"}

    def test_each_group_steps_with_its_own_hyperparameters(self):
        """Group learning rates and weight decays apply to their own parameters only."""
        a, b = parameter((2,)), parameter((2,))
        a0, b0 = a.data.copy(), b.data.copy()
        optimizer = nn.optim.SGD([{"params": [a], "lr": 0.5, "weight_decay": 0.1}, {"params": [b]}], lr=0.1)
        a.grad = b.grad = np.ones(2)
        optimizer.step()
        np.testing.assert_allclose(a.data, a0 - 0.5 * (1 + 0.1 * a0), rtol=1e-15)
        np.testing.assert_allclose(b.data, b0 - 0.1, rtol=1e-15)

    def test_add_param_group(self):
        """add_param_group appends a group that is stepped, its state indexed after the others."""
        a, b = parameter((2,)), parameter((2,))
        optimizer = nn.optim.Adam([a], lr=0.1)
        optimizer.add_param_group({"params": [b], "lr": 0.2})
        assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.2]
        b_before = b.data.copy()
        b.grad = np.ones(2)
        optimizer.step()
        np.testing.assert_allclose(b.data, b_before - 0.2, rtol=1e-6)
        assert list(optimizer.state) == [1]
        with pytest.raises(ValueError, match="already optimized"):
            optimizer.add_param_group({"params": [a]})


BAD_HYPERPARAMETERS = [
    (nn.optim.SGD, {"lr": 0.0}, ValueError, "lr"),
    (nn.optim.SGD, {"lr": -0.1}, ValueError, "lr"),
    (nn.optim.SGD, {"lr": math.inf}, ValueError, "lr"),
    (nn.optim.SGD, {"lr": math.nan}, ValueError, "lr"),
    (nn.optim.SGD, {"lr": True}, TypeError, "lr"),
    (nn.optim.SGD, {"lr": "0.1"}, TypeError, "lr"),
    (nn.optim.SGD, {"lr": 0.1, "momentum": -0.5}, ValueError, "momentum"),
    (nn.optim.SGD, {"lr": 0.1, "weight_decay": -1e-3}, ValueError, "weight_decay"),
    (nn.optim.SGD, {"lr": 0.1, "weight_decay": math.inf}, ValueError, "weight_decay"),
    (nn.optim.SGD, {"lr": 0.1, "nesterov": True}, ValueError, "Nesterov"),
    (nn.optim.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}, ValueError, "Nesterov"),
    (nn.optim.Adam, {"lr": math.inf}, ValueError, "lr"),
    (nn.optim.Adam, {"eps": 0.0}, ValueError, "eps"),
    (nn.optim.Adam, {"eps": -1.0}, ValueError, "eps"),
    (nn.optim.Adam, {"betas": (1.0, 0.999)}, ValueError, r"betas\[0\]"),
    (nn.optim.Adam, {"betas": (0.9, -0.1)}, ValueError, r"betas\[1\]"),
    (nn.optim.Adam, {"betas": 0.9}, TypeError, "betas"),
    (nn.optim.Adam, {"weight_decay": -0.1}, ValueError, "weight_decay"),
    (nn.optim.AdamW, {"weight_decay": math.nan}, ValueError, "weight_decay"),
    (nn.optim.Adam, {"amsgrad": "yes"}, TypeError, "amsgrad"),
]


@pytest.mark.parametrize(("cls", "kwargs", "error", "pattern"), BAD_HYPERPARAMETERS)
def test_bad_hyperparameters_are_named(cls, kwargs, error, pattern):
    """Each invalid hyperparameter raises at construction, naming the argument and its value."""
    with pytest.raises(error, match=pattern):
        cls([parameter((2,))], **kwargs)


def test_bad_hyperparameter_in_a_group_names_the_group():
    """A group's own invalid value names the group."""
    with pytest.raises(ValueError, match=re.escape("param_groups[1]") + ".*lr"):
        nn.optim.Adam([{"params": [parameter((2,))]}, {"params": [parameter((2,))], "lr": -1.0}])


class TestParameterChecks:
    def test_a_parameter_listed_twice_is_an_error(self):
        """The same tensor twice (it would be stepped twice) is a ValueError naming both places."""
        p = parameter((2,))
        with pytest.raises(
            ValueError, match=re.escape("params[1]") + ".*already optimized as.*params'\\]\\[0\\]"
        ):
            nn.optim.SGD([p, p], lr=0.1)
        with pytest.raises(ValueError, match="already optimized"):
            nn.optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)

    def test_params_must_be_float_leaves_that_require_grad(self):
        """Constants, non-leaves, integer tensors and sets of parameters are TypeErrors."""
        p = parameter((2,))
        for bad in ([Tensor(np.ones(2))], [p * 2], [Tensor(np.ones(2, dtype=np.int64))], {p}, p):
            with pytest.raises(TypeError):
                nn.optim.SGD(bad, lr=0.1)

    def test_wrongly_shaped_gradient_raises_and_changes_nothing(self):
        """A grad whose shape is not the parameter's is an error at step(), naming both shapes
        (assigning one is refused already; one that slips past, through the private field, is
        caught by the optimizer)."""
        p = parameter((2, 3))
        before = p.data.copy()
        optimizer = nn.optim.Adam([p])
        with pytest.raises(ValueError, match=re.escape("(3,)") + ".*" + re.escape("(2, 3)")):
            p.grad = np.ones((3,))
        p._grad = np.ones((3,))
        with pytest.raises(ValueError, match=re.escape("(2, 3)") + ".*" + re.escape("(3,)")):
            optimizer.step()
        np.testing.assert_array_equal(p.data, before)
        assert p.data.shape == (2, 3)

    def test_learning_rate_changed_to_inf_is_caught_at_step(self):
        """A group's lr set to inf (or negative) after construction raises at the next step."""
        p = parameter((2,))
        optimizer = nn.optim.SGD([p], lr=0.1)
        p.grad = np.ones(2)
        for bad in (math.inf, -0.1):
            optimizer.param_groups[0]["lr"] = bad
            with pytest.raises(ValueError, match=re.escape("param_groups[0]['lr']")):
                optimizer.step()
        optimizer.param_groups[0]["lr"] = 0.0  # a schedule may reach zero: no change, no error
        before = p.data.copy()
        optimizer.step()
        np.testing.assert_array_equal(p.data, before)


def test_step_returns_the_closure_value():
    """step(closure) evaluates the closure (with gradients recorded) and returns its value."""
    w = Tensor(np.array([3.0]), requires_grad=True)
    optimizer = nn.optim.SGD([w], lr=0.25)

    def closure():
        optimizer.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss.item()

    assert optimizer.step(closure) == 9.0
    np.testing.assert_allclose(w.data, [3.0 - 0.25 * 6.0])


class TestSchedulers:
    def make(self, cls, **kwargs):
        optimizer = nn.optim.SGD([parameter((2,))], lr=0.1)
        return optimizer, cls(optimizer, **kwargs)

    def test_closed_forms(self):
        """StepLR, ExponentialLR and CosineAnnealingLR follow their closed forms for t <= T_max."""
        cases = [
            (nn.optim.lr_scheduler.StepLR, {"step_size": 3, "gamma": 0.5}, lambda t: 0.1 * 0.5 ** (t // 3)),
            (nn.optim.lr_scheduler.ExponentialLR, {"gamma": 0.9}, lambda t: 0.1 * 0.9**t),
            (
                nn.optim.lr_scheduler.CosineAnnealingLR,
                {"T_max": 20, "eta_min": 0.01},
                lambda t: 0.01 + 0.09 * (1 + math.cos(math.pi * t / 20)) / 2,
            ),
            (nn.optim.lr_scheduler.LambdaLR, {"lr_lambda": lambda t: 1 / (t + 1)}, lambda t: 0.1 / (t + 1)),
        ]
        for cls, kwargs, closed_form in cases:
            optimizer, scheduler = self.make(cls, **kwargs)
            for t in range(21):
                assert scheduler.get_last_lr()[0] == pytest.approx(closed_form(t), rel=1e-12), (cls, t)
                assert optimizer.param_groups[0]["lr"] == scheduler.get_last_lr()[0]
                optimizer.step()
                scheduler.step()

    def test_state_dict_round_trip(self):
        """A new optimizer and scheduler that load both state dicts mid-run continue the same rates."""
        optimizer, scheduler = self.make(nn.optim.lr_scheduler.CosineAnnealingLR, T_max=10)
        for _ in range(4):
            optimizer.step()
            scheduler.step()
        saved_optimizer, saved_scheduler = optimizer.state_dict(), scheduler.state_dict()
        assert saved_scheduler["last_epoch"] == 4 and "optimizer" not in saved_scheduler
        fresh_optimizer, fresh = self.make(nn.optim.lr_scheduler.CosineAnnealingLR, T_max=10)
        fresh_optimizer.load_state_dict(saved_optimizer)
        fresh.load_state_dict(saved_scheduler)
        for _ in range(8):
            for o, s in ((optimizer, scheduler), (fresh_optimizer, fresh)):
                o.step()
                s.step()
            assert fresh.get_last_lr() == scheduler.get_last_lr()
            assert fresh_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]

    def test_lambda_state_dict_keeps_callable_objects_only(self):
        """LambdaLR saves the __dict__ of a callable object and None for a function, as PyTorch."""

        class Halve:
            def __init__(self):
                self.factor = 0.5

            def __call__(self, epoch):
                return self.factor**epoch

        optimizer = nn.optim.SGD([{"params": [parameter((1,))]}, {"params": [parameter((1,))]}], lr=0.1)
        scheduler = nn.optim.lr_scheduler.LambdaLR(optimizer, [Halve(), lambda epoch: 1.0])
        saved = scheduler.state_dict()
        assert saved["lr_lambdas"] == [{"factor": 0.5}, None]
        saved["lr_lambdas"][0]["factor"] = 0.25
        scheduler.load_state_dict(saved)
        assert scheduler.lr_lambdas[0].factor == 0.25

    def test_bad_arguments(self):
        """Non-positive periods, a bad factor or an unknown state entry are clear errors."""
        optimizer = nn.optim.SGD([parameter((1,))], lr=0.1)
        with pytest.raises(ValueError, match="step_size"):
            nn.optim.lr_scheduler.StepLR(optimizer, step_size=0)
        with pytest.raises(ValueError, match="T_max"):
            nn.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=0)
        with pytest.raises(ValueError, match="gamma"):
            nn.optim.lr_scheduler.ExponentialLR(optimizer, gamma=-1.0)
        with pytest.raises(ValueError, match="lr_lambda"):
            nn.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: math.nan)
        with pytest.raises(TypeError):
            nn.optim.lr_scheduler.StepLR(object(), step_size=1)
        with pytest.raises(KeyError, match="initial_lr"):
            nn.optim.lr_scheduler.StepLR(nn.optim.SGD([parameter((1,))], lr=0.1), step_size=2, last_epoch=3)
        scheduler = nn.optim.lr_scheduler.StepLR(optimizer, step_size=2)
        with pytest.raises(KeyError, match="unknown"):
            scheduler.load_state_dict({"epoch": 3})
