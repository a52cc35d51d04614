"""The functional API (grad, value_and_grad, vjp, jvp, jacfwd, jacrev) and the engine's counters.

Referees: float64 central differences (autograd.checks.numerical_jacobian), the other mode, and
closed forms; sweeps are those counted by the engine as it ran.
"""

import numpy as np
import pytest

import nn
from autograd import Tensor, grad, jacfwd, jacrev, jvp, value_and_grad, vjp
from autograd.checks import numerical_jacobian
from autograd.counters import count


def _frozen(array):
    array.flags.writeable = False
    return array


def _layer_map(n: int, m: int, seed: int = 0):
    """f: Rⁿ → Rᵐ, ``f(x) = g ⊙ softmax(W2 relu(h) + v) + g`` with ``g = sigmoid(W2 h)`` and
    ``h = tanh(W1 x + b1)``: matmuls, broadcast bias columns and four nn activations."""
    rng = np.random.default_rng(seed)
    w1 = _frozen(rng.standard_normal((6, n)) / np.sqrt(n))
    b1 = _frozen(rng.standard_normal((6, 1)))
    w2 = _frozen(rng.standard_normal((m, 6)))
    v = _frozen(rng.standard_normal((m, 1)))

    def f(x):
        column = x.reshape(n, 1)
        hidden = nn.tanh(w1 @ column + b1)  # (6, 1): b1 broadcast against a tracked column
        gate = nn.sigmoid(w2 @ hidden)  # (m, 1)
        mixed = nn.softmax(w2 @ nn.relu(hidden) + v)  # softmax over the m rows
        return (gate * mixed + gate).reshape(m)

    return f


SIZES = [(1, 1), (1, 7), (3, 5), (5, 3), (8, 1), (12, 2)]


@pytest.mark.parametrize("n, m", SIZES)
def test_jacfwd_equals_jacrev_equals_finite_differences(n, m):
    """Both modes give the finite-difference Jacobian, with exactly n forward and m reverse sweeps."""
    f = _layer_map(n, m)
    x = np.random.default_rng(n * 10 + m).standard_normal(n)
    with count() as forward:
        j_forward = jacfwd(f)(x)
    with count() as reverse:
        j_reverse = jacrev(f)(x)
    (numeric,) = numerical_jacobian(f, x)
    assert j_forward.shape == j_reverse.shape == (m, n)
    np.testing.assert_allclose(j_forward, j_reverse, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(j_forward, numeric, rtol=1e-6, atol=1e-8)
    assert (forward.forward_sweeps, forward.reverse_sweeps) == (n, 0)
    assert (reverse.forward_sweeps, reverse.reverse_sweeps) == (0, m)


@pytest.mark.parametrize("x_shape, out_shape", [((2, 3), (4, 3)), ((3,), ()), ((), (2, 2)), ((2, 1), (2, 2))])
def test_jacobians_have_shape_out_plus_in(x_shape, out_shape):
    """jacfwd and jacrev return out.shape + x.shape, agreeing with finite differences."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(x_shape)
    size_out = int(np.prod(out_shape))
    w = _frozen(rng.standard_normal((size_out, x.size)))

    def f(t):
        flat = w @ t.reshape(x.size)
        return nn.sigmoid(flat).reshape(out_shape)

    j_forward, j_reverse = jacfwd(f)(x), jacrev(f)(x)
    assert j_forward.shape == j_reverse.shape == out_shape + x_shape
    (numeric,) = numerical_jacobian(f, x)
    np.testing.assert_allclose(j_forward.reshape(size_out, x.size), numeric, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(j_forward, j_reverse, rtol=1e-12, atol=1e-14)


def test_jacobians_of_several_arguments():
    """With tuple argnums both modes return one Jacobian per argument, n and m sweeps in all."""
    rng = np.random.default_rng(2)
    w, x = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))

    def f(w, x):
        return nn.tanh(w @ x)

    with count() as forward:
        jw_f, jx_f = jacfwd(f, argnums=(0, 1))(w, x)
    with count() as reverse:
        jw_r, jx_r = jacrev(f, argnums=(0, 1))(w, x)
    numeric_w, numeric_x = numerical_jacobian(f, w, x)
    assert jw_f.shape == (3, 2, 3, 4) and jx_f.shape == (3, 2, 4, 2)
    np.testing.assert_allclose(jw_f.reshape(6, 12), numeric_w, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(jx_f.reshape(6, 8), numeric_x, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(jw_f, jw_r, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(jx_f, jx_r, rtol=1e-12, atol=1e-14)
    assert forward.forward_sweeps == 12 + 8 and reverse.reverse_sweeps == 6


def test_empty_input_takes_no_sweep():
    """A Jacobian with respect to an empty input is empty and costs no sweep in either mode."""
    x = np.zeros((0, 3))
    f = lambda t: t.sum(axis=0).exp()  # noqa: E731
    with count() as counted:
        j_forward, j_reverse = jacfwd(f)(x), jacrev(f)(x)
    assert j_forward.shape == j_reverse.shape == (3, 0, 3)
    assert counted.forward_sweeps == 0 and counted.reverse_sweeps == 3


def test_output_independent_of_input_gives_zero_jacobian():
    """An f that ignores its input has a zero Jacobian in both modes (no tangent, no graph),
    and each transform warns that the output does not depend on the input."""
    c = np.arange(3.0)
    f = lambda x: Tensor(c).exp()  # noqa: E731
    x = np.ones(2)
    with pytest.warns(UserWarning, match="jacfwd: the output does not depend on input 0"):
        np.testing.assert_array_equal(jacfwd(f)(x), np.zeros((3, 2)))
    with pytest.warns(UserWarning, match="jacrev: the output does not depend on the inputs"):
        np.testing.assert_array_equal(jacrev(f)(x), np.zeros((3, 2)))
    with pytest.warns(UserWarning, match=r"jvp: the output does not depend.*detach\(\)"):
        value, tangent = jvp(f, (x,), (np.ones(2),))
    np.testing.assert_array_equal(value, np.exp(c))
    np.testing.assert_array_equal(tangent, np.zeros(3))


# ---------------------------------------------------------------------------------------------
# grad and value_and_grad
# ---------------------------------------------------------------------------------------------


def _cost(w, b, x, y):
    """Binary cross-entropy of a sigmoid layer: J = -(1/m) Σ (Y log A + (1-Y) log(1-A))."""
    return nn.binary_cross_entropy(nn.sigmoid(w @ x + b), y)


def _cost_data(seed=3):
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((1, 4)),
        rng.standard_normal((1, 1)),
        rng.standard_normal((4, 6)),
        (rng.random((1, 6)) > 0.5).astype(float),
    )


def test_grad_matches_the_closed_form():
    """grad of the sigmoid-layer cost is dW = dZ Xᵀ, db = Σ dZ with dZ = (A - Y)/m (docs/maths.md)."""
    w, b, x, y = _cost_data()
    dw, db = grad(_cost, argnums=(0, 1))(w, b, x, y)
    a = 1 / (1 + np.exp(-(w @ x + b)))
    dz = (a - y) / x.shape[1]
    np.testing.assert_allclose(dw, dz @ x.T, rtol=1e-12)
    np.testing.assert_allclose(db, dz.sum(axis=1, keepdims=True), rtol=1e-12)


def test_value_and_grad_returns_the_value_and_a_single_gradient_for_an_int_argnum():
    """value_and_grad gives f's value and, for an int argnum, one gradient of that input's shape."""
    w, b, x, y = _cost_data()
    value, dx = value_and_grad(_cost, argnums=2)(w, b, x, y)
    np.testing.assert_allclose(value, _cost(Tensor(w), Tensor(b), Tensor(x), y).data, rtol=1e-15)
    (numeric,) = numerical_jacobian(lambda x: _cost(w, b, x, y), x)
    assert dx.shape == x.shape
    np.testing.assert_allclose(dx.reshape(1, -1), numeric, rtol=1e-6, atol=1e-9)


def test_grad_counts_one_reverse_sweep():
    """A gradient of a cost takes one reverse sweep and no forward sweep."""
    w, b, x, y = _cost_data()
    with count() as counted:
        grad(_cost, argnums=(0, 1, 2))(w, b, x, y)
    assert (counted.forward_sweeps, counted.reverse_sweeps) == (0, 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grad_keeps_the_input_dtype_and_shape(dtype):
    """The gradient has the input's dtype and shape (float32 stays float32)."""
    x = np.linspace(-1, 1, 6, dtype=dtype).reshape(2, 3)
    g = grad(lambda t: (nn.tanh(t) * t).sum())(x)
    assert g.dtype == dtype and g.shape == (2, 3)
    t = np.tanh(x.astype(np.float64))
    np.testing.assert_allclose(g, t + x * (1 - t * t), rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_grad_accepts_pytrees_scalars_and_tensors():
    """Primals may be pytrees (a list is a list of leaves, as in JAX), Python numbers or
    Tensors; numbers become float64."""
    f = lambda t: (t * t).sum()  # noqa: E731
    np.testing.assert_array_equal(grad(f)(np.array([1, 2, 3.0])), [2.0, 4.0, 6.0])
    listed = grad(lambda ts: sum(f(t) for t in ts))([1, 2, 3])
    assert isinstance(listed, list) and [float(g) for g in listed] == [2.0, 4.0, 6.0]
    scalar = grad(f)(3)
    assert scalar.shape == () and scalar.dtype == np.float64 and scalar == 6.0
    tensor = Tensor([1.0, -1.0], requires_grad=True)
    np.testing.assert_array_equal(grad(f)(tensor), [2.0, -2.0])
    assert tensor.grad is None  # the caller's tensor is read, never written


def test_grad_of_a_non_scalar_output_raises():
    """grad needs a single-element output: a vector output is a ValueError naming its shape."""
    with pytest.raises(ValueError, match=r"grad.*single-element.*\(3,\)"):
        grad(lambda t: t * 2)(np.ones(3))


def test_integer_inputs_are_refused():
    """An integer array cannot be differentiated: TypeError, as for a Tensor requiring grad."""
    with pytest.raises(TypeError, match="int64"):
        grad(lambda t: t.sum())(np.arange(3))


def test_argnums_out_of_range_raises():
    """argnums beyond the arguments is a ValueError."""
    with pytest.raises(ValueError, match="argnums"):
        grad(lambda t: t.sum(), argnums=2)(np.ones(2))


def test_grad_leaves_closed_over_parameters_alone():
    """Differentiating f that closes over parameters requiring grad keeps their .grad unchanged."""
    layer = nn.Linear(3, 2, dtype=np.float64, rng=0)
    before = np.ones((2, 3))
    layer.W.grad = before
    x = np.random.default_rng(4).standard_normal((3, 5))
    gx = grad(lambda t: nn.sigmoid(layer(t)).sum())(x)
    assert layer.W.grad is before and layer.b.grad is None
    z = layer.W.data @ x + layer.b.data
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(gx, layer.W.data.T @ (s * (1 - s)), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# vjp and jvp
# ---------------------------------------------------------------------------------------------


def test_vjp_pullback_gives_u_transpose_j_for_each_primal():
    """pullback(u) returns uᵀJ per primal, equal to u contracted with the finite-difference Jacobian."""
    rng = np.random.default_rng(5)
    w, x = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    f = lambda w, x: nn.softmax(w @ x)  # noqa: E731
    value, pullback = vjp(f, w, x)
    np.testing.assert_allclose(value, f(Tensor(w), Tensor(x)).data, rtol=1e-15)
    u = rng.standard_normal(value.shape)
    numeric_w, numeric_x = numerical_jacobian(f, w, x)
    for _ in range(2):  # the graph is kept: pulling back twice gives the same answer
        dw, dx = pullback(u)
        np.testing.assert_allclose(dw.reshape(-1), u.reshape(-1) @ numeric_w, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(dx.reshape(-1), u.reshape(-1) @ numeric_x, rtol=1e-6, atol=1e-9)


def test_vjp_checks_the_cotangent_shape():
    """A cotangent of the wrong shape is a ValueError naming both shapes."""
    _, pullback = vjp(lambda t: t.exp(), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        pullback(np.ones((3, 2)))


def test_jvp_gives_j_v_in_one_forward_sweep():
    """jvp returns f(x) and J v from exactly one counted forward sweep, matching jacrev's J times v."""
    f = _layer_map(4, 3)
    rng = np.random.default_rng(6)
    x, v = rng.standard_normal(4), rng.standard_normal(4)
    with count() as counted:
        value, tangent = jvp(f, (x,), (v,))
    assert (counted.forward_sweeps, counted.reverse_sweeps, counted.vjp_calls) == (1, 0, 0)
    np.testing.assert_allclose(value, f(Tensor(x)).data, rtol=1e-15)
    np.testing.assert_allclose(tangent, jacrev(f)(x) @ v, rtol=1e-12, atol=1e-14)


def test_jvp_checks_tangents():
    """A tangent of the wrong shape or a missing one is a ValueError; arrays for tuples a TypeError."""
    with pytest.raises(ValueError, match=r"tangent 0 has shape \(2,\).*\(3,\)"):
        jvp(lambda t: t.exp(), (np.ones(3),), (np.ones(2),))
    with pytest.raises(ValueError, match="2 primals but 1 tangents"):
        jvp(lambda a, b: a * b, (np.ones(3), np.ones(3)), (np.ones(3),))
    with pytest.raises(TypeError, match="tuples"):
        jvp(lambda t: t.exp(), np.ones(3), np.ones(3))


# ---------------------------------------------------------------------------------------------
# Counters
# ---------------------------------------------------------------------------------------------


def test_counters_split_calls_by_phase_and_kind_with_flop_estimates():
    """One sweep of W @ x then exp counts a forward and a JVP call of each, matmul at 2·n·k·m flops."""
    rng = np.random.default_rng(7)
    w = rng.standard_normal((5, 4))
    x, v = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    with count() as counted:
        jvp(lambda t: (w @ t).exp(), (x,), (v,))
    assert counted.calls["forward", "matmul"] == counted.calls["jvp", "matmul"] == 1
    assert counted.calls["forward", "elementwise"] == counted.calls["jvp", "elementwise"] == 1
    assert counted.flops["forward", "matmul"] == counted.flops["jvp", "matmul"] == 2 * 5 * 4 * 3
    assert counted.flops["forward", "elementwise"] == 15
    with count() as counted:
        vjp(lambda t: (w @ t).exp(), x)[1](np.ones((5, 3)))
    assert counted.calls["vjp", "matmul"] == counted.calls["vjp", "elementwise"] == 1
    assert counted.flops["vjp", "matmul"] == 2 * 5 * 4 * 3
    assert counted.reverse_sweeps == 1


def test_forward_mode_calls_grow_with_n_and_reverse_calls_with_m():
    """Counted primitive calls: n sweeps cost n times one sweep; reverse pays f once plus m pullbacks."""
    f = _layer_map(6, 4)
    x = np.random.default_rng(8).standard_normal(6)
    with count() as one_sweep:
        jvp(f, (x,), (np.ones(6),))
    with count() as forward:
        jacfwd(f)(x)
    assert forward.primitive_calls == 6 * one_sweep.primitive_calls
    with count() as recording:
        _, pullback = vjp(f, x)
    with count() as one_pullback:
        pullback(np.ones(4))
    with count() as reverse:
        jacrev(f)(x)
    assert reverse.primitive_calls == recording.primitive_calls + 4 * one_pullback.primitive_calls
    assert one_pullback.forward_calls == 0 and one_pullback.reverse_sweeps == 1


def test_nested_counters_both_see_the_engine():
    """Two counters attached at once each count every event, and detach cleanly."""
    with count() as outer:
        jvp(lambda t: t.exp(), (np.ones(2),), (np.ones(2),))
        with count() as inner:
            jvp(lambda t: t.exp(), (np.ones(2),), (np.ones(2),))
    jvp(lambda t: t.exp(), (np.ones(2),), (np.ones(2),))  # after the blocks: counted by neither
    assert (outer.forward_sweeps, inner.forward_sweeps) == (2, 1)
    assert (outer.jvp_calls, inner.jvp_calls) == (2, 1)
