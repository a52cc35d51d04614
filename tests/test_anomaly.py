"""Anomaly mode: the first operation that turns finite numbers into NaN or Inf is named."""

from __future__ import annotations

import contextlib
import sys
import warnings

import numpy as np
import pytest

import nn
from autograd import PRIMITIVES, Tensor, detect_anomaly, state
from autograd.anomaly import AnomalyError

HERE = __file__
SUBNORMAL = 1e-320  # log(x) is finite (-736.8) but its derivative 1/x overflows to Inf


def _next_line() -> int:
    """The line number just after the caller's line."""
    return sys._getframe(1).f_lineno + 1


@contextlib.contextmanager
def _vjp_returning_nan(name: str):
    """Make primitive ``name``'s first VJP return NaN from any input, then restore it."""
    prim = PRIMITIVES[name]
    saved = prim.vjps
    object.__setattr__(prim, "vjps", (lambda g, ans, *args: np.full_like(g, np.nan),) + saved[1:])
    try:
        yield
    finally:
        object.__setattr__(prim, "vjps", saved)


@contextlib.contextmanager
def _quiet_overflow():
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        yield


class TestReport:
    def test_vjp_overflow_names_primitive_file_and_line(self):
        """A VJP that overflows from finite values raises naming the primitive, file and line."""
        x = Tensor([SUBNORMAL, 1.0], requires_grad=True)
        with detect_anomaly():
            line = _next_line()
            y = x.log()
            loss = (y * 2.0).sum()
            with _quiet_overflow(), pytest.raises(AnomalyError) as info:
                loss.backward()
        message = str(info.value)
        assert "the VJP of 'log' (input 0) produced Inf" in message
        assert f"{HERE}:{line}" in message

    def test_a_rule_producing_nan_is_named(self):
        """A rule that returns NaN from finite inputs is reported as producing NaN."""
        x = Tensor([1.0, 2.0], requires_grad=True)
        with _vjp_returning_nan("exp"), detect_anomaly():
            line = _next_line()
            loss = x.exp().sum()
            with pytest.raises(AnomalyError, match=r"the VJP of 'exp' \(input 0\) produced NaN") as info:
                loss.backward()
        assert f"{HERE}:{line}" in str(info.value)

    def test_the_error_is_a_floating_point_and_a_runtime_error(self):
        """AnomalyError is caught by `except FloatingPointError` and by `except RuntimeError`."""
        assert issubclass(AnomalyError, FloatingPointError)
        assert issubclass(AnomalyError, RuntimeError)

    def test_origin_is_the_users_line_not_the_librarys(self):
        """A node recorded inside Tensor's composed operators points at the caller's line."""
        x = Tensor([1.0, 2.0], requires_grad=True)
        with detect_anomaly():
            line = _next_line()
            y = 3.0 - x  # neg then add, both applied from inside autograd/tensor.py
        assert y.op.name == "add" and y.parents[1].op.name == "neg"
        for node in (y, y.parents[1]):
            assert (node._origin.call.file, node._origin.call.line) == (HERE, line)
            assert node._origin.user is None

    def test_origin_through_nn_names_nn_and_the_callers_line(self):
        """A node recorded by an nn function names the nn line and the user's line that called it."""
        z = Tensor([[1.0], [-2.0]], requires_grad=True)
        with detect_anomaly():
            line = _next_line()
            a = nn.sigmoid(z)
        origin = a._origin
        assert origin.call.file.endswith("activations.py")
        assert (origin.user.file, origin.user.line) == (HERE, line)
        assert f"called from {HERE}:{line}" in str(origin)

    def test_forward_overflow_is_named_when_it_poisons_a_gradient(self):
        """exp overflowing in the forward pass is named once its VJP turns Inf into NaN."""
        x = Tensor([1000.0, 1.0], requires_grad=True)
        with detect_anomaly(), _quiet_overflow():
            line = _next_line()
            y = x.exp()
            loss = y.reciprocal().sum()  # finite: 1/inf = 0, so the cost hides the overflow
            with pytest.raises(AnomalyError) as info:
                loss.backward()
        message = str(info.value)
        assert "the VJP of 'exp' (input 0) produced NaN" in message
        assert "forward value is already Inf" in message
        assert f"{HERE}:{line}" in message

    def test_upstream_forward_overflow_is_named_at_a_later_rule(self):
        """A gradient poisoned by an earlier node's overflow names that node's line, not only its own."""
        x = Tensor([800.0], requires_grad=True)
        w = Tensor([0.0], requires_grad=True)
        with detect_anomaly(), _quiet_overflow():
            culprit_line = _next_line()
            big = x.exp()  # Inf
            loss = (big * w).sum()  # Inf * 0 = NaN in the forward pass
            with pytest.raises(AnomalyError) as info:
                loss.backward()
        message = str(info.value)
        assert "'exp' produced Inf from finite inputs" in message
        assert f"{HERE}:{culprit_line}" in message

    def test_jvp_overflow_raises_in_the_forward_pass(self):
        """A JVP that overflows from finite inputs and tangents raises during the forward pass."""
        x = Tensor([SUBNORMAL])
        x._tangents = {0: np.array([1.0])}
        with pytest.raises(AnomalyError, match=r"the JVP of 'log' produced Inf") as info:
            with detect_anomaly(), _quiet_overflow():
                line = _next_line()
                x.log()
        assert f"{HERE}:{line}" in str(info.value)


class TestQuietPropagation:
    def test_nan_inputs_propagate_without_error(self):
        """NaN in the data flows through forward and backward in anomaly mode without raising."""
        x = Tensor([np.nan, 1.0], requires_grad=True)
        w = Tensor([[2.0, 3.0]], requires_grad=True)
        with detect_anomaly(), warnings.catch_warnings():
            warnings.simplefilter("error")
            loss = (w @ x.exp().reciprocal()).sum()
            loss.backward()
        assert np.isnan(x.grad[0]) and np.isfinite(x.grad[1])
        assert np.isnan(w.grad[0, 0]) and np.isfinite(w.grad[0, 1])

    def test_inf_constant_propagates_without_error(self):
        """An Inf in a constant operand is data, so anomaly mode lets it through."""
        x = Tensor([1.0, 2.0], requires_grad=True)
        with detect_anomaly(), _quiet_overflow():
            loss = (x * np.array([np.inf, 1.0])).sum()
            loss.backward()
        np.testing.assert_array_equal(x.grad, [np.inf, 1.0])

    def test_data_nan_does_not_hide_a_later_anomaly(self):
        """A NaN branch from the data does not stop a real overflow elsewhere from being named."""
        x = Tensor([np.nan], requires_grad=True)
        s = Tensor([SUBNORMAL], requires_grad=True)
        with detect_anomaly(), _quiet_overflow():
            loss = x.exp().sum() + s.log().sum()
            with pytest.raises(AnomalyError, match="the VJP of 'log'"):
                loss.backward()


class TestSwitch:
    def test_off_by_default(self):
        """Outside detect_anomaly the same overflow gives an Inf gradient and no error."""
        x = Tensor([SUBNORMAL], requires_grad=True)
        y = x.log()
        with _quiet_overflow():
            y.sum().backward()
        assert np.isinf(x.grad[0])
        assert y._origin is None

    def test_the_observer_is_detached_on_exit_even_after_an_error(self):
        """Leaving the block, normally or by an exception, leaves the engine unobserved."""
        before = list(state.observers)
        with pytest.raises(AnomalyError), detect_anomaly(), _quiet_overflow():
            Tensor([SUBNORMAL], requires_grad=True).log().sum().backward()
        assert state.observers == before
        assert state.observed is bool(before)

    def test_usable_as_a_decorator_and_nested(self):
        """detect_anomaly works as a decorator and nested in itself."""

        @detect_anomaly()
        def step():
            with detect_anomaly():
                return Tensor([2.0], requires_grad=True).exp()

        y = step()
        assert y._origin is not None
        assert not state.observers

    def test_nodes_created_before_the_block_are_reported_without_a_line(self):
        """A node recorded outside anomaly mode is still checked, and said to have no known origin."""
        x = Tensor([SUBNORMAL], requires_grad=True)
        loss = x.log().sum()
        with detect_anomaly(), _quiet_overflow(), pytest.raises(AnomalyError, match="outside detect_anomaly"):
            loss.backward()
