"""The engine's machinery, checked where a slip in it would give a wrong number silently.

Each test here pins down one behaviour of backward, forward mode or the operands that a
plausible slip in the engine (``tools/engine_mutants.py``) would break without an error:
the gradients are compared with closed forms or central differences.
"""

from __future__ import annotations

import numpy as np
import pytest

from autograd import Tensor, gradients, jvp
from autograd.state import observing


def test_a_caller_seed_is_never_written():
    """The seed given to backward stays as it was, and each leaf gets an array of its own."""
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    seed = np.array([1.0, 1.0])
    ((a + b) + a).backward(seed)
    np.testing.assert_array_equal(seed, [1.0, 1.0])
    np.testing.assert_array_equal(a.grad, [2.0, 2.0])
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])
    assert not np.shares_memory(a.grad, seed) and not np.shares_memory(b.grad, seed)
    assert not np.shares_memory(a.grad, b.grad)


def test_a_later_backward_does_not_write_into_an_earlier_grad_array():
    """Accumulation into ``.grad`` is out of place: an array a caller kept keeps its values."""
    x = Tensor([1.0, -2.0], requires_grad=True)
    (x * x).sum().backward()
    first = x.grad
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(first, [2.0, -4.0])
    np.testing.assert_array_equal(x.grad, [5.0, -1.0])


def test_contributions_through_shared_and_owned_gradients_all_add_up():
    """``L = Σ (x·x + x) + Σ x·y``: every path into x adds (dL/dx = 2x + 1 + y), whichever
    array each contribution arrives in."""
    x = Tensor([0.5, -1.5, 2.0], requires_grad=True)
    y = Tensor([1.0, 2.0, -3.0], requires_grad=True)
    (((x * x) + x).sum() + (x * y).sum()).backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 1 + y.data, rtol=1e-15)
    np.testing.assert_allclose(y.grad, x.data, rtol=1e-15)


def test_a_constant_array_changed_after_recording_does_not_change_the_gradient():
    """``x * c`` saves c for ``dx = g c``: writing into the caller's c afterwards changes nothing."""
    c = np.array([2.0, 3.0])
    x = Tensor([1.0, 1.0], requires_grad=True)
    loss = (x * c).sum()
    c[:] = 100.0
    loss.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 3.0])


def test_broadcasting_over_leading_axes_sums_every_replica():
    """``b`` of shape (3,) against (2, 4, 3): ``db`` sums all 8 replicas of g."""
    rng = np.random.default_rng(0)
    c = rng.standard_normal((2, 4, 3))
    b = Tensor(rng.standard_normal(3), requires_grad=True)
    (b * c).sum().backward()
    np.testing.assert_allclose(b.grad, c.sum(axis=(0, 1)), rtol=1e-14)


def test_a_float32_leaf_gets_a_float32_gradient_from_a_float64_operand():
    """The gradient is cast to the leaf's dtype at the edge: float32 in, float32 out."""
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    c = np.array([0.1, 0.2])  # float64: the product promotes to float64
    (x * c).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, c.astype(np.float32), rtol=1e-7)


def test_forward_mode_through_a_constant_first_operand():
    """``c * x`` with the tangent on the second operand: ``J v = c v``."""
    c = np.array([2.0, -1.0, 0.5])
    _, tangent = jvp(lambda x: Tensor(c) * x, (np.array([1.0, 2.0, 3.0]),), (np.array([1.0, 1.0, 2.0]),))
    np.testing.assert_allclose(tangent, [2.0, -1.0, 1.0], rtol=1e-15)


class _Applied:
    """An observer that lists the primitives applied."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def on_apply(self, prim, inputs, out) -> None:
        self.names.append(prim.name)

    def on_backward(self, root) -> None:
        pass

    def on_vjp(self, node, index, g) -> None:
        pass


def test_forward_mode_on_0d_values_runs_each_rule_on_arrays():
    """0-d float32 values: NumPy's 0-d arithmetic gives scalars, which the engine turns back into
    0-d arrays of the output's dtype, so each op's JVP takes the array path: one primitive call
    per op, none recorded for the tangents."""
    applied = _Applied()
    with observing(applied):
        _, tangent = jvp(lambda t: (t * t).exp().log(), (np.array(0.5, dtype=np.float32),), (np.array(2.0),))
    assert applied.names == ["mul", "exp", "log"]
    assert np.asarray(tangent).dtype == np.float32
    np.testing.assert_allclose(tangent, 2 * 0.5 * 2.0, rtol=1e-6)


def test_a_constant_first_operand_is_still_recorded():
    """``c * x`` records a node although its first input is a constant: dx = c."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    (Tensor([3.0, -4.0]) * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, -4.0])


def test_a_recorded_gradient_takes_the_float32_leafs_dtype():
    """With create_graph, a float64 gradient flowing into a float32 leaf is cast by a recorded
    astype node: the gradient is float32, and so is its own derivative."""
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    c = Tensor(np.array([0.5, -1.5]))  # float64
    y = x * c  # float64, so its gradient 2y is cast to float32 on the way into x
    (g,) = gradients((y * y).sum(), x, create_graph=True)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g.data, 2 * c.data**2 * x.data, rtol=1e-6)
    (h,) = gradients(g.sum(), x)
    assert h.dtype == np.float32
    np.testing.assert_allclose(h.data, 2 * c.data**2, rtol=1e-6)


class _InterruptOnce:
    """An observer that raises at the second VJP it sees, as a KeyboardInterrupt would: after
    the sweep has gone through one node."""

    def __init__(self) -> None:
        self.calls = 0

    def on_apply(self, prim, inputs, out) -> None:
        pass

    def on_backward(self, root) -> None:
        pass

    def on_vjp(self, node, index, g) -> None:
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("interrupted")


def test_a_backward_interrupted_part_way_can_be_run_again():
    """A sweep that raised part-way marks nothing used: the same graph's backward then runs,
    and gives the gradient once."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).exp().sum()
    with observing(_InterruptOnce()), pytest.raises(RuntimeError, match="interrupted"):
        loss.backward()
    assert x.grad is None
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * x.data * np.exp(x.data**2), rtol=1e-15)
