"""Grad mode, name scopes and anomaly mode belong to a thread, and their context managers nest.

One thread evaluating a model inside ``no_grad`` must not stop another thread's training from
being recorded; one thread's name scope or anomaly mode must not leak into another. Each context
manager, used as a decorator on a recursive function, leaves the state as it found it when the
outermost call returns, also when the call raises.

The state is observed through the public API only: ``is_grad_enabled()``, the ``scope`` of a
node recorded there and then, and whether a rule's Inf from finite inputs raises.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import nn
from autograd import Tensor, detect_anomaly, enable_grad, is_grad_enabled, name_scope, no_grad
from autograd.anomaly import AnomalyError

STEPS = 200
WAIT_SECONDS = 60


@pytest.fixture
def frequent_thread_switches():
    """Switch threads every 10 µs instead of every 5 ms, so that their steps interleave."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(interval)


@pytest.fixture(autouse=True)
def grad_mode_left_on():
    """A test that leaves grad mode off in this thread fails, and grad mode is turned back on,
    so that the failure does not spread to the tests that follow."""
    yield
    if not is_grad_enabled():
        enable_grad().__enter__()  # never exited: the mode it would restore is already lost
        pytest.fail("grad mode was left off in the main thread")


def run_together(*functions: Callable[[], object]) -> list:
    """Run each function in its own thread; their results, or the first exception raised."""
    with ThreadPoolExecutor(max_workers=len(functions)) as pool:
        futures = [pool.submit(f) for f in functions]
        return [future.result(timeout=WAIT_SECONDS) for future in futures]


def in_a_new_thread(function: Callable[[], object]) -> object:
    """Run ``function`` in a thread of its own, so that a failure leaves this thread's state alone."""
    return run_together(function)[0]


def recorded_scope() -> str | None:
    """The name scope a node recorded here and now belongs to."""
    with enable_grad():
        return (Tensor([1.0], requires_grad=True) * 2.0).scope


def anomaly_mode_is_on() -> bool:
    """Whether d log(x)/dx = Inf at x = 0, from finite inputs, raises here and now."""
    x = Tensor([0.0], requires_grad=True)
    with enable_grad(), np.errstate(divide="ignore"):
        loss = x.log().sum()
        try:
            loss.backward()
        except AnomalyError:
            return True
    assert np.isposinf(x.grad).all()
    return False


# ---------------------------------------------------------------------------------------------
# A training thread beside an evaluation thread
# ---------------------------------------------------------------------------------------------


def numpy_gradients(model: nn.MLP, x: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
    """The loss and its gradients by the closed forms of backpropagation, in NumPy.

    Z1 = W1 X + b1, A1 = tanh Z1, Z2 = W2 A1 + b2, J = -(1/m) sum Y log softmax(Z2);
    dZ2 = (softmax(Z2) - Y)/m, dW2 = dZ2 A1ᵀ, db2 = dZ2 1, dZ1 = W2ᵀ dZ2 * (1 - A1²),
    dW1 = dZ1 Xᵀ, db1 = dZ1 1.
    """
    p = {name: t.data for name, t in model.named_parameters()}
    w1, b1, w2, b2 = p["layers.0.W"], p["layers.0.b"], p["layers.2.W"], p["layers.2.b"]
    m = x.shape[1]
    a1 = np.tanh(w1 @ x + b1)
    z2 = w2 @ a1 + b2
    shifted = z2 - z2.max(axis=0, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))
    loss = -(y * log_softmax).sum() / m
    dz2 = (np.exp(log_softmax) - y) / m
    dz1 = (w2.T @ dz2) * (1.0 - a1**2)
    grads = {
        "layers.0.W": dz1 @ x.T,
        "layers.0.b": dz1.sum(axis=1, keepdims=True),
        "layers.2.W": dz2 @ a1.T,
        "layers.2.b": dz2.sum(axis=1, keepdims=True),
    }
    return loss, grads


def test_training_beside_a_thread_inside_no_grad(frequent_thread_switches):
    """While one thread sits inside ``no_grad`` evaluating the model, another trains it for 200
    steps, and every step's gradient equals the closed form computed in the training thread."""
    rng = np.random.default_rng(0)
    x, x_eval = rng.standard_normal((4, 32)), rng.standard_normal((4, 8))
    y = np.eye(3)[:, rng.integers(0, 3, 32)]
    model = nn.MLP([4, 8, 3], activation="tanh", dtype=np.float64, rng=0)
    optimizer = nn.optim.SGD(model.parameters(), lr=0.5)
    evaluating, trained = threading.Event(), threading.Event()

    def evaluate() -> int:
        forwards = 0
        with no_grad():
            evaluating.set()
            while not trained.is_set() or forwards == 0:
                assert not is_grad_enabled()
                assert not model(x_eval).requires_grad
                forwards += 1
        return forwards

    def train() -> list[float]:
        assert evaluating.wait(WAIT_SECONDS)
        losses = []
        try:
            for step in range(STEPS):
                assert is_grad_enabled(), f"step {step}: grad mode is off in the training thread"
                expected_loss, expected = numpy_gradients(model, x, y)
                optimizer.zero_grad()
                loss = nn.softmax_cross_entropy(model(x), y)
                loss.backward()
                np.testing.assert_allclose(loss.item(), expected_loss, rtol=1e-12)
                for name, parameter in model.named_parameters():
                    assert parameter.grad is not None, f"step {step}: {name} got no gradient"
                    np.testing.assert_allclose(
                        parameter.grad, expected[name], rtol=1e-9, atol=1e-13, err_msg=f"step {step}: {name}"
                    )
                optimizer.step()
                losses.append(loss.item())
        finally:
            trained.set()
        return losses

    forwards, losses = run_together(evaluate, train)
    assert forwards > 0 and len(losses) == STEPS
    assert losses[-1] < 0.5 * losses[0]
    assert is_grad_enabled()


def test_a_name_scope_stays_in_its_thread(frequent_thread_switches):
    inside, done = threading.Event(), threading.Event()

    def scoped() -> str | None:
        with name_scope("evaluation"):
            inside.set()
            assert done.wait(WAIT_SECONDS)
            return recorded_scope()

    def other() -> str | None:
        try:
            assert inside.wait(WAIT_SECONDS)
            return recorded_scope()
        finally:
            done.set()

    assert run_together(scoped, other) == ["evaluation", None]


def share_between_threads(shared, outers: tuple, observe: Callable) -> list:
    """Two threads, each inside its own outer block, enter the same context object ``shared``;
    the first leaves it while the second is still inside. Returns, per thread, what ``observe``
    sees inside ``shared`` and after leaving it."""
    both_inside, first_out = threading.Barrier(2), threading.Event()

    def call(outer, leave_first: bool) -> tuple:
        with outer:
            with shared:
                both_inside.wait(WAIT_SECONDS)
                inside = observe()
                if not leave_first:
                    assert first_out.wait(WAIT_SECONDS)
            after = observe()
            if leave_first:
                first_out.set()
        return inside, after

    first = lambda: call(outers[0], leave_first=True)  # noqa: E731
    second = lambda: call(outers[1], leave_first=False)  # noqa: E731
    return run_together(first, second)


def test_one_module_called_in_two_threads_leaves_each_thread_its_own_scope(frequent_thread_switches):
    # A module enters the same name_scope object on every call; the scope it replaces is kept
    # per thread, so the thread that leaves first gets back its own scope, not the other's.
    shared = nn.Sequential(nn.ReLU())[0]._scope  # the child's scope object, "0"
    seen = share_between_threads(shared, (name_scope("a"), name_scope("b")), recorded_scope)
    assert seen == [("a.0", "a"), ("b.0", "b")]


def test_one_no_grad_object_entered_in_two_threads_restores_each_threads_mode(frequent_thread_switches):
    # The value a block replaces is kept per thread: the thread that leaves the shared block
    # first gets back its own grad mode (recording), not the other thread's (not recording).
    seen = share_between_threads(no_grad(), (enable_grad(), no_grad()), is_grad_enabled)
    assert seen == [(False, True), (False, False)]


def test_blocks_of_different_kinds_need_not_close_in_order():
    # A generator holds a no_grad block open while its caller opens and closes a name scope
    # around the next() that ends the generator's block: each kind restores its own value.
    def batches():
        with no_grad():
            yield recorded_scope(), is_grad_enabled()
        yield None, is_grad_enabled()

    gen = batches()
    with name_scope("outer"):
        assert next(gen) == ("outer", False)
        with name_scope("inner"):
            assert next(gen) == (None, True)  # the generator's block closed inside this scope
            assert recorded_scope() == "outer.inner"
        assert recorded_scope() == "outer" and is_grad_enabled()
    assert recorded_scope() is None and is_grad_enabled()


def test_anomaly_mode_stays_in_its_thread(frequent_thread_switches):
    inside, done = threading.Event(), threading.Event()

    def detecting() -> bool:
        with detect_anomaly():
            inside.set()
            assert done.wait(WAIT_SECONDS)
            return anomaly_mode_is_on()

    def other() -> bool:
        try:
            assert inside.wait(WAIT_SECONDS)
            return anomaly_mode_is_on()
        finally:
            done.set()

    assert run_together(detecting, other) == [True, False]


# ---------------------------------------------------------------------------------------------
# Each context manager as a decorator on a recursive function
# ---------------------------------------------------------------------------------------------


DEPTH = 4


def recursive(decorator, probe: Callable[[], object], raise_at_bottom: bool = False):
    """A function decorated once (one context manager instance for every call) that records
    ``probe()`` on the way down and on the way up."""
    seen = []

    @decorator
    def descend(depth: int) -> None:
        seen.append(probe())
        if depth:
            descend(depth - 1)
        elif raise_at_bottom:
            raise KeyError("bottom")
        seen.append(probe())

    return descend, seen


@pytest.mark.parametrize("raise_at_bottom", [False, True])
def test_no_grad_as_a_decorator_on_a_recursive_function(raise_at_bottom):
    def check():
        descend, seen = recursive(no_grad(), is_grad_enabled, raise_at_bottom)
        before = is_grad_enabled()
        try:
            descend(DEPTH)
        except KeyError:
            assert raise_at_bottom
        after = is_grad_enabled()
        with no_grad():  # entered with grad mode off: left off
            try:
                descend(DEPTH)
            except KeyError:
                assert raise_at_bottom
            still_off = not is_grad_enabled()
        return before, seen, after, still_off, is_grad_enabled()

    before, seen, after, still_off, last = in_a_new_thread(check)
    assert before and after and still_off and last
    assert seen and not any(seen)


@pytest.mark.parametrize("raise_at_bottom", [False, True])
def test_enable_grad_as_a_decorator_on_a_recursive_function(raise_at_bottom):
    def check():
        descend, seen = recursive(enable_grad(), is_grad_enabled, raise_at_bottom)
        with no_grad():
            try:
                descend(DEPTH)
            except KeyError:
                assert raise_at_bottom
            after = is_grad_enabled()
        return seen, after, is_grad_enabled()

    seen, after_inside_no_grad, last = in_a_new_thread(check)
    assert seen and all(seen)
    assert not after_inside_no_grad and last


@pytest.mark.parametrize("raise_at_bottom", [False, True])
def test_name_scope_as_a_decorator_on_a_recursive_function(raise_at_bottom):
    def check():
        descend, seen = recursive(name_scope("block"), recorded_scope, raise_at_bottom)
        with name_scope("model"):
            try:
                descend(DEPTH)
            except KeyError:
                assert raise_at_bottom
            after = recorded_scope()
        return seen, after, recorded_scope()

    seen, after, last = in_a_new_thread(check)
    down = ["model" + ".block" * (k + 1) for k in range(DEPTH + 1)]
    up = [] if raise_at_bottom else down[::-1]
    assert seen == down + up
    assert after == "model" and last is None


@pytest.mark.parametrize("raise_at_bottom", [False, True])
def test_detect_anomaly_as_a_decorator_on_a_recursive_function(raise_at_bottom):
    def check():
        descend, seen = recursive(detect_anomaly(), anomaly_mode_is_on, raise_at_bottom)
        try:
            descend(DEPTH)
        except KeyError:
            assert raise_at_bottom
        return seen, anomaly_mode_is_on()

    seen, after = in_a_new_thread(check)
    assert seen and all(seen)
    assert not after


def test_the_state_of_this_thread_is_untouched():
    """Run last in this module: none of the tests above changed the main thread's state."""
    assert is_grad_enabled() and recorded_scope() is None and not anomaly_mode_is_on()
