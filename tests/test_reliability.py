"""Reliability: saved arrays cannot change under a graph, edge cases, and the mutant machinery."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import autograd
import nn
from autograd import PRIMITIVES, Tensor, apply, gradients, no_grad
from autograd.checks import GradcheckError, gradcheck
from autograd.primitives import evaluate
from autograd.state import observing
from tests.primitive_cases import CASES
from tests.referees import dot_product_gap, numerical_vjp, reverse_vjp
from tools.engine_mutants import ENGINE, ENGINE_TARGET, source_patched
from tools.mutants import RECORDING, all_mutants, injected
from tools.mutate import run_mutant, run_suite


@pytest.fixture
def strict_warnings():
    """Turn every warning into an error for the duration of a test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ---------------------------------------------------------------------------------------------
# Arrays saved for backward cannot change under the graph
# ---------------------------------------------------------------------------------------------


class TestMutationSafety:
    def test_in_place_write_to_a_saved_input_raises(self):
        """Writing into a saved input's array raises NumPy's read-only error; the gradient stays right."""
        x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
        loss = (x * x).sum()  # mul saves x for dx = g * x
        with pytest.raises(ValueError, match="read-only"):
            x.data[0] = 100.0
        with pytest.raises(ValueError, match="read-only"):
            x.numpy()[1] = 100.0
        with pytest.raises(ValueError, match="read-only"):
            np.add(x.data, 1.0, out=x.data)
        loss.backward()
        np.testing.assert_array_equal(x.grad, [2.0, 4.0, 6.0])

    def test_in_place_write_to_a_saved_output_raises(self):
        """An op's output (exp saves ans for dx = g * ans) is read-only too."""
        x = Tensor([0.0, 1.0], requires_grad=True)
        y = x.exp()
        with pytest.raises(ValueError, match="read-only"):
            y.data[:] = 0.0
        y.sum().backward()
        np.testing.assert_allclose(x.grad, np.exp([0.0, 1.0]), rtol=1e-15)

    def test_replacing_a_saved_input_makes_backward_raise(self):
        """`t.data = new` after recording makes backward raise instead of using the new values."""
        x = Tensor([1.0, 2.0], requires_grad=True)
        loss = (x * x).sum()
        x.data = np.array([5.0, 5.0])
        with pytest.raises(RuntimeError, match="modified after this node was recorded"):
            loss.backward()

    def test_optimizer_step_between_forward_and_retained_backward_raises(self):
        """An SGD-like step between a retained backward and the next one is refused."""
        w = Tensor([[0.5, 0.25]], requires_grad=True)
        x = np.array([[1.0], [2.0]])
        loss = (w @ x).relu().sum()
        loss.backward(retain_graph=True)
        w.data = w.data - 0.1 * w.grad
        with pytest.raises(RuntimeError, match="modified after this node was recorded"):
            loss.backward()
        w.grad = None
        (w @ x).relu().sum().backward()  # a fresh forward pass sees the new weights
        np.testing.assert_array_equal(w.grad, x.T)

    def test_replacing_a_constant_operand_makes_backward_raise(self):
        """A tensor that needs no grad but is saved (mul's y) is guarded too."""
        x = Tensor([1.0, 2.0], requires_grad=True)
        c = Tensor([3.0, 4.0])
        loss = (x * c).sum()
        c.data = np.array([10.0, 10.0])
        with pytest.raises(RuntimeError, match="input 1 .* was modified"):
            loss.backward()

    def test_replacing_an_intermediate_makes_backward_raise(self):
        """A node whose own data is replaced (exp's ans) refuses to run its rule."""
        x = Tensor([1.0, 2.0], requires_grad=True)
        y = x.exp()
        y.data = np.zeros(2)
        loss = y.sum()  # recorded after the change: only exp's rule would be wrong
        with pytest.raises(RuntimeError, match="exp backward: its output .* was modified"):
            loss.backward()

    def test_tensor_copies_its_source_array(self):
        """Mutating the array a tensor was made from does not change the tensor."""
        source = np.array([1.0, 2.0, 3.0])
        t = Tensor(source, requires_grad=True)
        source[0] = 100.0
        np.testing.assert_array_equal(t.data, [1.0, 2.0, 3.0])
        assert not np.shares_memory(t.data, source)

    def test_data_setter_copies_its_array(self):
        """`t.data = array` keeps a copy: later writes to the array do not reach the tensor."""
        t = Tensor([0.0, 0.0])
        new = np.array([1.0, 2.0])
        t.data = new
        new[:] = 7.0
        np.testing.assert_array_equal(t.data, [1.0, 2.0])

    def test_writable_array_operand_is_copied(self):
        """A writable ndarray used as a constant operand is copied, so later writes do not matter."""
        x = Tensor([1.0, 2.0], requires_grad=True)
        c = np.array([3.0, 4.0])
        loss = (x * c).sum()
        c[:] = 10.0
        loss.backward()
        np.testing.assert_array_equal(x.grad, [3.0, 4.0])

    def test_read_only_view_of_a_writable_array_is_copied(self):
        """A read-only view still shows writes to its base, so it is copied too."""
        x = Tensor([1.0, 2.0], requires_grad=True)
        base = np.array([3.0, 4.0])
        view = base.view()
        view.flags.writeable = False
        broadcast = np.broadcast_to(base[:, None], (2, 1)).reshape(2)  # read-only, base writable
        loss = (x * view).sum() + (x * broadcast).sum()
        base[:] = 10.0
        loss.backward()
        np.testing.assert_array_equal(x.grad, [6.0, 8.0])

    def test_gradients_are_the_leaves_own_arrays(self):
        """add hands one array to both inputs; each leaf's .grad is still its own copy."""
        x = Tensor([1.0, 2.0], requires_grad=True)
        y = Tensor([3.0, 4.0], requires_grad=True)
        (x + y).backward(np.array([1.0, 1.0]))
        x.grad += 5.0
        np.testing.assert_array_equal(y.grad, [1.0, 1.0])


# ---------------------------------------------------------------------------------------------
# Edge cases
# ---------------------------------------------------------------------------------------------


class TestNaNPropagation:
    @pytest.mark.parametrize(
        "f",
        [
            lambda x: x.exp(),
            lambda x: x.log(),
            lambda x: x.reciprocal(),
            lambda x: x * x + x,
            lambda x: (x.reshape(2, 2).T @ x.reshape(2, 2)).sum(axis=0),
            nn.sigmoid,
            nn.tanh,
        ],
        ids=["exp", "log", "reciprocal", "mul-add", "matmul-sum", "sigmoid", "tanh"],
    )
    def test_nan_flows_through_forward_and_backward(self, f, strict_warnings):
        """A NaN input gives a NaN value and a NaN gradient where it reaches, with no error or warning."""
        x = Tensor([np.nan, 1.0, 2.0, 0.5], requires_grad=True)
        y = f(x)
        assert np.isnan(y.data).any()
        y.sum().backward()
        assert np.isnan(x.grad[0])

    def test_linear_ops_pass_nan_forward_with_a_finite_gradient(self, strict_warnings):
        """neg, transpose, reshape and sum carry NaN forward; their gradients do not depend on x."""
        x = Tensor([[np.nan, 1.0], [2.0, 0.5]], requires_grad=True)
        y = (-x).T.reshape(4).sum()
        y.backward()
        assert np.isnan(y.item())
        np.testing.assert_array_equal(x.grad, -np.ones((2, 2)))

    def test_relu_passes_nan_forward_and_gives_it_a_zero_gradient(self, strict_warnings):
        """relu(NaN) is NaN, and its gradient there is 0: the mask x > 0 is false for NaN."""
        x = Tensor([np.nan, 1.0], requires_grad=True)
        y = x.relu()
        y.sum().backward()
        assert np.isnan(y.data[0])
        np.testing.assert_array_equal(x.grad, [0.0, 1.0])

    @pytest.mark.parametrize(
        "cost, second_column",
        [
            (nn.softmax_cross_entropy, [1.0, 2.0]),  # logits
            (nn.binary_cross_entropy_with_logits, [1.0, 2.0]),
            (nn.binary_cross_entropy, [0.3, 0.7]),  # probabilities: NaN is not "outside [0, 1]"
            (nn.categorical_cross_entropy, [0.3, 0.7]),
        ],
    )
    def test_a_nan_prediction_gives_a_nan_cost_and_gradient(self, cost, second_column, strict_warnings):
        """A NaN prediction makes the cost and its column's gradient NaN, without an exception."""
        z = Tensor([[np.nan, second_column[0]], [0.5, second_column[1]]], requires_grad=True)
        loss = cost(z, np.array([[1.0, 0.0], [0.0, 1.0]]))
        loss.backward()
        assert np.isnan(loss.item())
        assert np.isnan(z.grad[0, 0]) and np.isfinite(z.grad[:, 1]).all()

    @pytest.mark.parametrize("activation", [nn.softmax, nn.log_softmax])
    def test_nan_logit_poisons_only_its_column(self, activation, strict_warnings):
        """Softmax normalizes per column: a NaN spreads through its column and no further."""
        z = Tensor([[np.nan, 1.0], [0.5, 2.0]], requires_grad=True)
        a = activation(z)
        a.backward(np.ones((2, 2)))
        assert np.isnan(a.data[:, 0]).all() and np.isfinite(a.data[:, 1]).all()
        assert np.isnan(z.grad[:, 0]).all() and np.isfinite(z.grad[:, 1]).all()


class TestEmptyBatches:
    def test_a_layer_on_zero_columns_gives_zero_gradients(self, strict_warnings):
        """Z = W X + b on m = 0 columns: the summed cost is 0 and dW, db are exact zeros."""
        w = Tensor(np.ones((2, 3)), requires_grad=True)
        b = Tensor(np.ones((2, 1)), requires_grad=True)
        cost = (w @ np.zeros((3, 0)) + b).relu().sum()
        cost.backward()
        assert cost.item() == 0.0
        np.testing.assert_array_equal(w.grad, np.zeros((2, 3)))
        np.testing.assert_array_equal(b.grad, np.zeros((2, 1)))

    def test_mean_over_nothing_is_nan_as_in_numpy(self, strict_warnings):
        """The mean of an empty tensor is NaN (NumPy's answer), with a gradient of its empty shape."""
        x = Tensor(np.zeros((3, 0)), requires_grad=True)
        m = x.mean()
        assert np.isnan(m.item())
        m.backward()
        assert x.grad.shape == (3, 0)

    @pytest.mark.parametrize(
        "cost",
        [
            nn.binary_cross_entropy,
            nn.categorical_cross_entropy,
            nn.softmax_cross_entropy,
            nn.binary_cross_entropy_with_logits,
        ],
    )
    def test_costs_refuse_an_empty_batch(self, cost):
        """A cost over m = 0 examples (an average over nothing) is a ValueError naming the shape."""
        with pytest.raises(ValueError, match=r"\(2, 0\).*no examples"):
            cost(Tensor(np.zeros((2, 0)), requires_grad=True), np.zeros((2, 0)))


class TestLabels:
    @pytest.mark.parametrize("cost", [nn.categorical_cross_entropy, nn.softmax_cross_entropy])
    def test_class_index_labels_are_refused_with_the_shapes(self, cost):
        """Integer class labels of shape (m,) instead of one-hot (n, m) columns name both shapes."""
        a = Tensor(np.full((3, 2), 1 / 3), requires_grad=True)
        with pytest.raises(ValueError, match=r"\(2,\).*\(3, 2\)"):
            cost(a, np.array([0, 2]))

    @pytest.mark.parametrize(
        "cost",
        [
            nn.binary_cross_entropy,
            nn.categorical_cross_entropy,
            nn.softmax_cross_entropy,
            nn.binary_cross_entropy_with_logits,
        ],
    )
    def test_labels_outside_zero_one_are_refused(self, cost):
        """A target of 2 (a class index where a 0/1 label belongs) is a ValueError saying [0, 1]."""
        y = np.array([[2.0, 0.0], [0.0, 1.0]])
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            cost(Tensor(np.full((2, 2), 0.5), requires_grad=True), y)

    def test_one_hot_columns_that_do_not_sum_to_one_are_refused(self):
        """Multiclass targets must be one-hot columns; a column summing to 2 is named."""
        y = np.array([[1.0, 1.0], [0.0, 1.0]])
        with pytest.raises(ValueError, match="column 1 sums to 2"):
            nn.softmax_cross_entropy(Tensor(np.zeros((2, 2)), requires_grad=True), y)


class TestTies:
    def test_softmax_with_tied_maximum_matches_the_closed_form(self):
        """Softmax subtracts a detached column max: with a tie, dZ is still A ⊙ (dA - Σ dA ⊙ A)."""
        z = Tensor([[2.0, 0.0], [2.0, 0.0], [-1.0, 0.0]], requires_grad=True)
        da = np.array([[0.3, -1.0], [0.7, 2.0], [-0.2, 0.5]])
        a = nn.softmax(z)
        a.backward(da)
        expected = a.data * (da - (da * a.data).sum(axis=0, keepdims=True))
        np.testing.assert_allclose(z.grad, expected, rtol=1e-14, atol=1e-16)
        np.testing.assert_allclose(a.data[0], a.data[1])  # the tied entries share evenly

    def test_relu_kink_has_zero_gradient(self):
        """At exactly 0, relu's gradient is 0 (the subgradient PyTorch and JAX choose)."""
        x = Tensor([0.0, -0.0, 1e-300], requires_grad=True)
        x.relu().sum().backward()
        np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0])


# ---------------------------------------------------------------------------------------------
# The mutant machinery: injected faults are caught by the checkers
# ---------------------------------------------------------------------------------------------


def _rules(prim, g, dots, args) -> list:
    """Every VJP of ``prim`` at cotangent ``g`` and its JVP at tangents ``dots``."""
    return [prim.vjps[i](g, *args) for i in range(len(dots))] + [prim.jvp(dots, *args)]


RECORDING_FAULTS = {fault.name for fault in RECORDING.values()}


def _second_order(prim, case, g):
    """``d/dx <r, vjp_0(g, x)>`` for a fixed ``r``: how the first VJP rule's result moves with
    the inputs, from a recorded run of the rule on tensors (None where no input is float)."""
    xs = [Tensor(x, requires_grad=True) for x in case.inputs(seed=3)]
    out = apply(prim, tuple(xs), case.static)
    (first,) = gradients(out, xs[:1], Tensor(g), create_graph=True)
    r = np.random.default_rng(5).standard_normal(first.shape)
    total = (first * r).sum()
    if not total.requires_grad:
        return np.zeros(sum(x.size for x in xs))
    grads = gradients(total, xs, allow_unused=True)
    return np.concatenate([np.zeros(x.size) if d is None else d.data.reshape(-1) for d, x in zip(grads, xs)])


PRIMITIVE_MUTANTS = [m for m in all_mutants() if m[0] != ENGINE_TARGET]


def _same(a, b) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)
    return type(a) is type(b) and a == b


def _error(f) -> str | None:
    """The type of error ``f()`` raises, or None."""
    try:
        f()
    except Exception as error:  # noqa: BLE001 - any error is an observable here
        return type(error).__name__
    return None


def _engine_observables() -> dict:
    """What a small fixed program shows of the engine: gradients (values and dtypes), whether
    arrays are shared, tangents, and which misuses raise. Each entry is computed apart, so a
    fault that breaks one leaves the others comparable. The engine is reached through the
    ``autograd`` package's attributes, which an injected fault replaces."""
    seen: dict = {}

    def shared_sums():
        a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
        seed = np.array([1.0, 1.0])
        ((a + b) + a).backward(seed)
        shared = np.shares_memory(a.grad, b.grad) or np.shares_memory(b.grad, seed)
        return seed.copy(), a.grad, b.grad, bool(shared)

    def square():
        x = Tensor([1.0, -2.0], requires_grad=True)
        (x * x).sum().backward()
        first = x.grad
        (x * 3.0).sum().backward()
        return first.copy(), x.grad

    def constant():
        c, x = np.array([2.0, 3.0]), Tensor([1.0, 1.0], requires_grad=True)
        loss = (x * c).sum()
        c[:] = 100.0
        loss.backward()
        return x.grad

    def replaced():
        x = Tensor([1.0, 2.0], requires_grad=True)
        loss = (x * x).sum()
        x.data = np.array([5.0, 5.0])
        return _error(loss.backward)

    def twice(retain):
        x = Tensor([1.0, 2.0], requires_grad=True)
        loss = (x * x).sum()
        loss.backward(retain_graph=retain)
        return _error(loss.backward), x.grad

    def retry():
        class InterruptSecondVjp:
            calls = 0

            def on_apply(self, prim, inputs, out):
                pass

            def on_backward(self, root):
                pass

            def on_vjp(self, node, i, g):
                self.calls += 1
                if self.calls == 2:
                    raise KeyError("interrupted")

        x = Tensor([1.0, 2.0], requires_grad=True)
        loss = (x * x).exp().sum()
        with observing(InterruptSecondVjp()):
            first = _error(loss.backward)
        return first, _error(loss.backward), x.grad

    def broadcasts():
        rng = np.random.default_rng(0)
        b = Tensor(rng.standard_normal(3), requires_grad=True)
        (b * rng.standard_normal((2, 4, 3))).sum().backward()
        bias = Tensor(np.ones((3, 1)), requires_grad=True)
        w = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
        (w + bias).exp().sum().backward()
        return b.grad, bias.grad

    def dtypes():
        x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
        (x * np.array([0.1, 0.2])).sum().backward()
        return x.grad

    def tangent_dtype():
        class Applied:
            def __init__(self):
                self.names = []

            def on_apply(self, prim, inputs, out):
                self.names.append(prim.name)

            def on_backward(self, root):
                pass

            def on_vjp(self, node, i, g):
                pass

        applied = Applied()
        with observing(applied):
            x = np.array(0.5, dtype=np.float32)
            _, tangent = autograd.jvp(lambda t: (t * t).exp().log(), (x,), (np.array(2.0),))
        return np.asarray(tangent).dtype.name, tuple(applied.names)

    def recording():
        x = Tensor([1.0, 2.0], requires_grad=True)
        (Tensor([3.0, -4.0]) * x).sum().backward()
        with no_grad():
            recorded = (x * x).requires_grad
        h = Tensor([0.5, 1.5], requires_grad=True)
        mid = (h * h).retain_grad()
        mid.sum().backward()
        return x.grad, recorded, mid.grad

    def second_order():
        h = Tensor(np.array([0.5, 1.5], dtype=np.float32), requires_grad=True)
        y = h * Tensor([1.0, 2.0])  # float64: its gradient is cast on the way into h
        (g,) = autograd.gradients((y * y * y).sum(), h, create_graph=True)
        (second,) = autograd.gradients(g.sum(), h)
        return g.requires_grad, g.dtype.name, second.data

    def tangents():
        c = Tensor([2.0, -1.0])
        _, first = autograd.jvp(lambda x: c * x, (np.array([1.0, 2.0]),), (np.array([1.0, 1.0]),))
        return first

    def confusion():
        # Siskind and Pearlmutter: d/dx [x · d/dy (x + y)] is 1, not 2.
        inner = lambda x: autograd.jvp(lambda y: x + y, (np.array(1.0),), (np.array(1.0),))[1]  # noqa: E731
        return np.asarray(autograd.jvp(lambda x: x * inner(x), (np.array(1.0),), (np.array(1.0),))[1])

    for key, f in [
        ("shared_sums", shared_sums), ("square", square), ("constant", constant), ("replaced", replaced),
        ("twice", lambda: twice(False)), ("twice_retained", lambda: twice(True)), ("retry", retry),
        ("broadcasts", broadcasts), ("dtypes", dtypes), ("tangent_dtype", tangent_dtype),
        ("recording", recording), ("second_order", second_order), ("tangents", tangents),
        ("confusion", confusion),
    ]:
        # A fault may also warn (a cut graph); the values, not the warnings, are compared.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                seen[key] = f()
            except Exception as error:  # noqa: BLE001 - the error is what is observed
                seen[key] = f"raised {type(error).__name__}"
    return seen


class TestMutantsAreCaught:
    def test_scaled_exp_vjp_fails_gradcheck_and_is_undone(self):
        """exp's VJP scaled by 1.01 fails gradcheck; the rule is restored on exit."""
        x = np.array([[0.3, -1.2], [2.0, 0.5]])
        with injected("exp", "vjp_scaled"), pytest.raises(GradcheckError):
            gradcheck(lambda t: t.exp(), x)
        assert gradcheck(lambda t: t.exp(), x)

    def test_scaled_matmul_vjp_fails_finite_differences_and_the_dot_product_test(self):
        """matmul's VJP scaled by 1.01 disagrees with central differences and with its own JVP."""
        rng = np.random.default_rng(0)
        arrays = [rng.standard_normal((2, 3)), rng.standard_normal((3, 4))]
        u = rng.standard_normal((2, 4))
        vs = [rng.standard_normal(a.shape) for a in arrays]
        f = lambda w, x: w @ x  # noqa: E731
        with injected("matmul", "vjp_scaled"):
            got = reverse_vjp(f, arrays, u)
            gap = dot_product_gap(f, arrays, u, vs)
        want = numerical_vjp(f, arrays, u)
        for g, n in zip(got, want):
            np.testing.assert_allclose(g, 1.01 * n, rtol=1e-6)
        assert gap > 1e-4
        assert dot_product_gap(f, arrays, u, vs) < 1e-12

    def test_scaled_jvp_fails_the_dot_product_test(self):
        """A JVP scaled by 1.01 breaks <u, J v> = <Jᵀ u, v> for exp and matmul."""
        rng = np.random.default_rng(1)
        for name, f, arrays in [
            ("exp", lambda x: x.exp(), [rng.standard_normal((3, 2))]),
            ("matmul", lambda w, x: w @ x, [rng.standard_normal((2, 3)), rng.standard_normal((3, 2))]),
        ]:
            u = rng.standard_normal((3, 2) if name == "exp" else (2, 2))
            vs = [rng.standard_normal(a.shape) for a in arrays]
            with injected(name, "jvp_scaled"):
                assert dot_product_gap(f, arrays, u, vs) > 1e-4

    @pytest.mark.parametrize("mutant", PRIMITIVE_MUTANTS, ids=lambda m: f"{m[0]}:{m[1]}")
    def test_every_fault_changes_a_rule_on_the_core_cases(self, mutant):
        """Each fault of the catalogue changes (or breaks) its rule, or its forward value, on one
        of the core shape cases."""
        name, fault = mutant
        prim = PRIMITIVES[name]
        changed = False
        # A forward slip may show only in the dtype (a cast forgotten): try float32 inputs too.
        dtypes = (np.float64, np.float32) if fault.startswith("forward") else (np.float64,)
        for case, dtype in ((c, d) for c in CASES if c.name == name for d in dtypes):
            xs = case.inputs(seed=3, dtype=dtype)
            ans, static = evaluate(prim, xs, case.static)
            rng = np.random.default_rng(4)
            g = rng.standard_normal(ans.shape)
            dots = [rng.standard_normal(x.shape) for x in xs]
            if fault in RECORDING_FAULTS:
                # Right on arrays by design: the slip shows in the derivative of the rule.
                if _second_order(prim, case, g) is None:
                    continue
                with injected(name, fault):
                    faulty = _second_order(prim, case, g)
                if not np.allclose(faulty, _second_order(prim, case, g)):
                    changed = True
                    break
                continue
            args = (ans, *xs, *static)
            original = [ans, *_rules(prim, g, dots, args)]
            with injected(name, fault):
                try:
                    faulty_ans, _ = evaluate(prim, xs, case.static)
                    faulty = [faulty_ans, *_rules(prim, g, dots, args)]
                except (ValueError, IndexError):
                    changed = True  # a mis-shaped rule: NumPy refuses it
                    break
            if any(
                np.shape(a) != np.shape(b)
                or np.asarray(a).dtype != np.asarray(b).dtype
                or not np.array_equal(a, b)
                for a, b in zip(original, faulty)
            ):
                changed = True
                break
        assert changed, f"{name}:{fault} computes the same as the real rule on every core case"

    @pytest.mark.parametrize("fault", sorted(ENGINE))
    def test_every_engine_fault_changes_what_a_small_program_observes(self, fault):
        """Each engine fault changes a value, a dtype, an aliasing or an error of
        :func:`_engine_observables`, and is undone on exit."""
        clean = _engine_observables()
        with injected(ENGINE_TARGET, fault):
            faulty = _engine_observables()
        changed = [key for key in clean if not _same(clean[key], faulty[key])]
        assert changed, f"engine:{fault} leaves every observable of the small program as it was"
        restored = _engine_observables()
        assert all(_same(clean[key], restored[key]) for key in clean), f"engine:{fault} was not undone"

    def test_a_fault_whose_line_is_gone_raises_rather_than_injects_nothing(self):
        """A source patch must find its line exactly once: an engine change is reported, loudly."""
        with pytest.raises(LookupError, match="occurs 0 times"):
            source_patched(_same, ("no such line", "pass"))

    def test_a_mutant_run_in_a_subprocess_is_killed(self):
        """The mutation runner injects a fault in a fresh interpreter and sees the suite fail."""
        outcome = run_mutant("exp", "vjp_scaled", ["tests/test_core_primitives.py"])
        assert outcome.verdict == "killed", outcome.detail

    def test_an_unknown_mutant_is_an_error_not_a_kill(self):
        """A fault that does not exist stops pytest with a usage error rather than a test failure."""
        result = run_suite(["tests/test_core_primitives.py"], "exp:no_such_fault")
        assert result.returncode == 4
        assert "no fault 'no_such_fault'" in result.stderr


def test_apply_of_a_registered_primitive_works_directly():
    """The property suite drives primitives through apply; apply with a static argument records it."""
    x = Tensor(np.arange(3.0), requires_grad=True)
    y = apply(PRIMITIVES["broadcast_to"], (x,), ((2, 3),))
    assert y.op.name == "broadcast_to" and y.static == ((2, 3),)
