"""Reverse mode: accumulation, seeds, repeated backward, depth and freeing of the graph."""

import gc
import sys
import weakref

import numpy as np
import pytest

from autograd import Tensor, no_grad


def test_diamond_accumulates_every_path():
    """b = a + a; c = b + b gives dc/da = 4."""
    a = Tensor(3.0, requires_grad=True)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad == 4.0


def test_square_by_self_multiplication():
    """x * x gives 2x: both operands of mul are the same leaf."""
    x = Tensor([1.5, -2.0, 0.25], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * np.array([1.5, -2.0, 0.25]))


def test_ten_thousand_additions_accumulate_exactly():
    """s = s + x ten thousand times gives a gradient of exactly 10000."""
    x = Tensor(0.5, requires_grad=True)
    s = Tensor(0.0)
    for _ in range(10_000):
        s = s + x
    s.backward()
    assert x.grad == 10_000.0


def test_backward_accumulates_into_existing_grad():
    """Two graphs' backward passes add into .grad, as PyTorch does."""
    x = Tensor(2.0, requires_grad=True)
    (x * 3.0).backward()
    (x * 4.0).backward()
    assert x.grad == 7.0


def test_second_backward_through_a_used_graph_raises():
    """Backward twice through the same graph is an error, never a silent doubling."""
    x = Tensor(2.0, requires_grad=True)
    y = x.exp()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()
    assert x.grad == pytest.approx(np.exp(2.0))


def test_retain_graph_allows_a_second_backward():
    """With retain_graph=True the second backward adds the same gradient again."""
    x = Tensor(2.0, requires_grad=True)
    y = x * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad == 8.0


def test_seed_scales_the_gradient():
    """backward(seed) computes seedᵀ J: the seed multiplies each output's gradient."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * np.array([3.0, 5.0])
    y.backward(np.array([10.0, 100.0]))
    np.testing.assert_array_equal(x.grad, [30.0, 500.0])


def test_grads_of_shared_gradients_are_independent_arrays():
    """add passes g to both inputs; each leaf still owns a separate, writable .grad."""
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    (a + b).backward(np.ones(2))
    assert a.grad is not b.grad
    a.grad[0] = 99.0
    assert b.grad[0] == 1.0


def test_retain_grad_keeps_an_intermediate_gradient():
    """retain_grad() stores the gradient of a non-leaf tensor."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = (x * 2.0).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad, 2 * h.data)
    np.testing.assert_array_equal(x.grad, 8 * x.data)


def test_leaf_backward_seeds_its_own_grad():
    """Backward on a leaf that requires grad gives it the seed as its gradient."""
    x = Tensor(5.0, requires_grad=True)
    x.backward()
    assert x.grad == 1.0


def test_no_grad_records_nothing():
    """Inside no_grad, results do not require grad and keep no parents."""
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        y = x.exp() * 2.0
    assert not y.requires_grad and y.op is None and y.parents == ()


def test_detach_cuts_the_graph():
    """detach() gives a leaf with the same values that no gradient flows through."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x.detach() * x).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 2.0])


def test_200000_op_chain_runs_at_the_default_recursion_limit():
    """Forward, backward and freeing of a 200,000-op chain never recurse."""
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        x = Tensor(np.array([0.5]), requires_grad=True)
        y = x
        for _ in range(200_000):
            y = -y
        y.sum().backward()
        assert x.grad[0] == 1.0  # an even number of negations
        del y  # freeing the chain must not recurse either
    finally:
        sys.setrecursionlimit(previous)


def test_intermediates_are_freed_when_the_output_is_dropped():
    """No reference cycles: an intermediate dies as soon as the loss is deleted, without gc."""
    gc.disable()
    try:
        w = Tensor(np.ones((3, 3)), requires_grad=True)
        h = (w @ np.ones((3, 2))).exp()
        loss = (h * h).sum()
        loss.backward()
        ref = weakref.ref(h)
        del h
        assert ref() is not None  # still held by the graph of loss
        del loss
        assert ref() is None
    finally:
        gc.enable()
