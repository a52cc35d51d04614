"""Memory: graphs are freed by reference counting alone, so training does not grow.

The engine keeps no global registry of nodes and builds no reference cycles (a node points at
its parents, never back), so a graph dies with its last reference even with the cycle
collector off. These tests run with ``gc.disable()`` to prove it.
"""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import nn
from autograd import Tensor, detect_anomaly, state
from autograd.tensor import _SCALARS


class Census:
    """An engine observer that keeps a weak reference to every tensor an operation touches."""

    def __init__(self) -> None:
        # Keyed by id: a WeakSet compares tensors with ==, which is elementwise.
        self.live: weakref.WeakValueDictionary = weakref.WeakValueDictionary()

    def on_apply(self, prim, inputs, out) -> None:
        for t in (*inputs, out):
            self.live[id(t)] = t

    def on_backward(self, root) -> None:
        pass

    def on_vjp(self, node, i, gi) -> None:
        pass


@pytest.fixture
def no_cycle_collector():
    """Disable the cycle collector: only reference counting may free memory."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_training_loop_keeps_live_tensors_and_memory_flat(no_cycle_collector):
    """10,000 SGD steps of a small MLP: live tensors constant, traced memory +<1 MB after step 100."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 32)).astype(np.float32)
    y = (x.sum(axis=0, keepdims=True) > 0).astype(np.float32)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
    optimizer = nn.optim.SGD(model.parameters(), lr=0.05)
    census = Census()
    try:
        with state.observing(census):
            for step in range(1, 10_001):
                optimizer.zero_grad()
                loss = nn.binary_cross_entropy_with_logits(model(x), y)
                loss.backward()
                optimizer.step()
                if step == 100:
                    tensors_100, loss_100 = len(census.live), loss.item()
                    # Traced from here on: what is still allocated at the end is the growth.
                    tracemalloc.start()
        grown = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(census.live) == tensors_100
    assert grown < 1_000_000, f"traced memory grew by {grown} bytes between step 100 and step 10,000"
    assert loss.item() < loss_100  # the loop did train, with the same graph shape at every step


def test_an_intermediate_dies_with_its_loss(no_cycle_collector):
    """A weak reference to an intermediate is dead right after `del loss`, without gc.collect()."""
    w = Tensor(np.ones((3, 2)), requires_grad=True)
    x = np.arange(8.0).reshape(2, 4)
    hidden = (w @ x).relu()
    ref = weakref.ref(hidden)
    loss = hidden.exp().sum()
    del hidden
    assert ref() is not None  # the graph of loss still holds it
    loss.backward()
    del loss
    assert ref() is None
    assert w.grad.shape == (3, 2)


def test_an_nn_forward_pass_dies_with_its_loss(no_cycle_collector):
    """Every tensor an nn forward and backward created, except parameters and grads, dies with the loss."""
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), nn.Softmax())
    census = Census()
    with state.observing(census):
        a = model(np.ones((3, 5), dtype=np.float32))
        y = np.zeros((2, 5), dtype=np.float32)
        y[0] = 1.0  # every example in class 0
        loss = nn.categorical_cross_entropy(a, y)
    assert len(census.live) > len(model.parameters())
    loss.backward()
    del a, loss
    parameters = {id(p) for p in model.parameters()}
    # The engine keeps one shared constant per Python number it has seen (a bounded cache).
    cached_numbers = {id(t) for t in _SCALARS.values()}
    assert {id(t) for t in census.live.values()} <= parameters | cached_numbers


def test_anomaly_mode_keeps_no_graph_alive(no_cycle_collector):
    """Origins recorded in anomaly mode, an overflowing node's included, die with the loss."""
    x = Tensor([1000.0, 1.0], requires_grad=True)
    with detect_anomaly(), np.errstate(over="ignore"):
        big = x.exp()  # Inf: its origin marks it as the culprit
        ref = weakref.ref(big)
        loss = (big.reciprocal() * 2.0).sum()
        del big
    assert ref() is not None
    del loss
    assert ref() is None
