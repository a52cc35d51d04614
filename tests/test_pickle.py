"""Copies of tensors and models: pickle, ``copy.deepcopy`` and ``copy.copy``.

A copy is a leaf holding the values, the ``requires_grad`` flag, ``.grad`` and the name, with
read-only data. It does not carry the mutation clock, which counts per process: a model pickled
after some training steps must train in a fresh interpreter, where the clock starts again at 0.
"""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nn
from autograd import Tensor, jvp
from tests.referees import numerical_vjp

REPO = Path(__file__).resolve().parent.parent
STEPS_BEFORE, STEPS_AFTER = 3, 5


# ---------------------------------------------------------------------------------------------
# A small model, its training steps and a referee, shared with the fresh interpreter
# ---------------------------------------------------------------------------------------------


def make_problem() -> dict:
    """A two-layer float64 MLP on 16 random examples of 4 features and 3 classes."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 16))
    y = np.eye(3)[:, rng.integers(0, 3, 16)]
    return {"model": nn.MLP([4, 8, 3], activation="tanh", dtype=np.float64, rng=1), "x": x, "y": y}


def train_steps(problem: dict, steps: int, lr: float = 0.5) -> tuple[list[float], list[list[np.ndarray]]]:
    """Plain SGD steps (a fresh optimizer: it keeps no state); the losses and the gradients."""
    model = problem["model"]
    optimizer = nn.optim.SGD(model.parameters(), lr=lr)
    losses, grads = [], []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.softmax_cross_entropy(model(problem["x"]), problem["y"])
        loss.backward()
        losses.append(loss.item())
        grads.append([p.grad.copy() for p in model.parameters()])
        optimizer.step()
    return losses, grads


def numerical_gradients(problem: dict) -> list[np.ndarray]:
    """The loss's gradient for every parameter by float64 central differences."""
    model = problem["model"]
    parameters = model.parameters()
    originals = [p.data for p in parameters]

    def loss_of(*arrays):
        for p, a in zip(parameters, arrays):
            p.data = a
        return nn.softmax_cross_entropy(model(problem["x"]), problem["y"]).data

    try:
        return numerical_vjp(loss_of, originals, np.array(1.0))
    finally:
        for p, a in zip(parameters, originals):
            p.data = a


def continue_training(pickle_path: str, result_path: str) -> None:
    """Run in a fresh interpreter: load the pickled problem, check and train on, report."""
    with open(pickle_path, "rb") as file:
        problem = pickle.load(file)
    # Training comes first: the referee's many assignments move this process's clock on.
    losses, grads = train_steps(problem, STEPS_AFTER)
    state = problem["model"].state_dict()
    with open(pickle_path, "rb") as file:
        referee = numerical_gradients(pickle.load(file))
    with open(result_path, "wb") as file:
        pickle.dump({"referee": referee, "losses": losses, "grads": grads, "state": state}, file)


# ---------------------------------------------------------------------------------------------
# Train, pickle, load in a fresh interpreter, train on
# ---------------------------------------------------------------------------------------------


def test_pickled_model_trains_in_a_fresh_interpreter(tmp_path):
    """Trained three steps, pickled and loaded by a new Python, a model trains five more steps:
    its gradients match central differences and the same steps taken in this process, and the
    loss goes down."""
    problem = make_problem()
    before, _ = train_steps(problem, STEPS_BEFORE)
    pickle_path, result_path = tmp_path / "problem.pkl", tmp_path / "result.pkl"
    pickle_path.write_bytes(pickle.dumps(problem))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    code = "import sys; from tests.test_pickle import continue_training; continue_training(*sys.argv[1:])"
    run = subprocess.run(
        [sys.executable, "-c", code, str(pickle_path), str(result_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    child = pickle.loads(result_path.read_bytes())

    here_losses, here_grads = train_steps(problem, STEPS_AFTER)  # the same steps, in this process
    np.testing.assert_allclose(child["losses"], here_losses, rtol=1e-12)
    for child_step, here_step in zip(child["grads"], here_grads, strict=True):
        for got, want in zip(child_step, here_step, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)
    for got, want in zip(child["grads"][0], child["referee"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)
    assert child["losses"][-1] < child["losses"][0] < before[0]
    for name, array in problem["model"].state_dict().items():
        np.testing.assert_allclose(child["state"][name], array, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Copies in this process
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make_copy", [lambda t: pickle.loads(pickle.dumps(t)), copy.deepcopy, copy.copy])
def test_a_copied_leaf_keeps_values_flag_grad_and_name(make_copy):
    t = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32), requires_grad=True, name="W")
    (t * t).sum().backward()
    t.data = t.data + 1.0  # the original's mutation clock moves on
    twin = make_copy(t)
    assert twin is not t and twin.is_leaf and twin.requires_grad and twin.name == "W"
    assert twin.dtype == np.float32
    np.testing.assert_array_equal(twin.data, t.data)
    np.testing.assert_array_equal(twin.grad, [[2.0, 4.0], [6.0, 8.0]])
    with pytest.raises(ValueError, match="read-only"):
        twin.data[0, 0] = 7.0
    twin.grad = None
    (twin * twin).sum().backward()  # recorded after the copy: no "modified" error
    np.testing.assert_array_equal(twin.grad, 2 * t.data)


def test_a_deep_copied_model_trains_on_its_own():
    """The copy trains like the original would, and leaves the original's parameters alone."""
    problem = make_problem()
    train_steps(problem, STEPS_BEFORE)
    twin = copy.deepcopy(problem)
    original_state = {k: v.copy() for k, v in problem["model"].state_dict().items()}
    twin_losses, twin_grads = train_steps(twin, STEPS_AFTER)
    for name, array in problem["model"].state_dict().items():
        np.testing.assert_array_equal(array, original_state[name])
    losses, grads = train_steps(problem, STEPS_AFTER)
    np.testing.assert_allclose(twin_losses, losses, rtol=1e-12)
    for got, want in zip(twin_grads[-1], grads[-1], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)
    assert twin_losses[-1] < twin_losses[0]


def test_deepcopy_keeps_shared_tensors_shared():
    t = Tensor([1.0, 2.0], requires_grad=True)
    first, second = copy.deepcopy([t, t])
    assert first is second and first is not t


def test_deepcopy_of_a_computed_tensor_raises():
    """As in PyTorch: a deep copy would silently cut the graph its gradient flows through."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0
    with pytest.raises(
        RuntimeError, match="only leaf tensors can be deep-copied; this one was computed by mul"
    ):
        copy.deepcopy(y)


def test_pickling_a_computed_tensor_gives_a_leaf():
    """As in PyTorch: the pickle holds the values; the graph stays behind."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = pickle.loads(pickle.dumps(x * 3.0))
    assert y.is_leaf and y.requires_grad and y.parents == ()
    np.testing.assert_array_equal(y.data, [3.0, 6.0])
    (y * y).sum().backward()
    np.testing.assert_array_equal(y.grad, [6.0, 12.0])
    assert x.grad is None


def test_a_tensor_carrying_a_tangent_cannot_be_pickled():
    def f(x):
        pickle.dumps(x)
        return x * 2.0

    with pytest.raises(RuntimeError, match="forward-mode tangent can not be copied or pickled"):
        jvp(f, (np.array([1.0, 2.0]),), (np.array([1.0, 0.0]),))


class _Legacy:
    """Writes what pickling a Tensor wrote when ``requires_grad`` and ``grad`` were plain
    attributes: the whole ``__dict__``, with the writing process's mutation clock."""

    def __init__(self, state):
        self.state = state

    def __reduce_ex__(self, protocol):
        return object.__new__, (Tensor,), self.state


def test_an_old_pickle_with_a_foreign_clock_loads_and_trains():
    data = np.array([1.0, -2.0])
    old = {"_data": data, "requires_grad": True, "grad": np.array([0.5, 0.5]), "_mutated_at": 10**9}
    t = pickle.loads(pickle.dumps(_Legacy(old)))
    assert type(t) is Tensor and t.requires_grad
    np.testing.assert_array_equal(t.grad, [0.5, 0.5])
    t.grad = None
    (t * t).sum().backward()
    np.testing.assert_array_equal(t.grad, 2 * data)
