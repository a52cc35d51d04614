"""Derivatives of derivatives: every rule differentiable, every transform composable.

Referees: closed forms, float64 central differences of the engine's first derivatives
(``gradcheck(order=2)``), the second-order dot-product test, and the agreement of every way of
composing the transforms.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import autograd
import nn
from autograd import (
    PRIMITIVES,
    Tensor,
    apply,
    grad,
    gradcheck,
    gradients,
    hessian,
    hvp,
    jacfwd,
    jacrev,
    jvp,
    value_and_grad,
    vjp,
)
from autograd.counters import count
from autograd.functional import HVP_MODES
from tests.test_properties import SUBJECTS, _spec

# ---------------------------------------------------------------------------------------------
# The compositions that used to return zeros
# ---------------------------------------------------------------------------------------------


def cube(x):
    return x * x * x


def test_grad_of_grad_is_the_second_derivative():
    """d²/dx² x³ = 6x, d³/dx³ x³ = 6 (these were 0.0 with no error)."""
    assert grad(grad(cube))(2.0) == pytest.approx(12.0, rel=1e-15)
    assert grad(grad(grad(cube)))(2.0) == pytest.approx(6.0, rel=1e-15)
    with pytest.warns(UserWarning, match="grad: the output does not depend on the inputs"):
        assert grad(grad(grad(grad(cube))))(2.0) == 0.0  # the third derivative is a constant


def test_an_inner_grad_may_close_over_an_outer_variable():
    """d/dx [x · d/dy (x y)] at y = 2 is d/dx x² = 2x."""
    assert grad(lambda x: x * grad(lambda y: x * y)(2.0))(1.0) == pytest.approx(2.0)
    assert grad(lambda x: x * grad(lambda y: x * y)(2.0))(3.0) == pytest.approx(6.0)


@pytest.mark.parametrize("outer", ["jvp", "grad"])
@pytest.mark.parametrize("inner", ["jvp", "grad"])
def test_perturbations_of_different_levels_are_not_confused(outer, inner):
    """Siskind and Pearlmutter's test: d/dx [x · d/dy (x + y)] = 1, not 2, in every pairing."""

    def d(f, mode):
        if mode == "grad":
            return lambda z: grad(f)(z)
        return lambda z: jvp(f, (z,), (1.0,))[1]

    inner_derivative = lambda x: d(lambda y: x + y, inner)(1.0)  # noqa: E731
    assert d(lambda x: x * inner_derivative(x), outer)(1.0) == pytest.approx(1.0)


def test_an_inner_reverse_sweep_writes_no_outer_gradient():
    """The inner grad returns its gradient and leaves every .grad alone."""
    w = Tensor([1.5, -0.5], requires_grad=True)
    seen = []

    def loss(x):
        inner = grad(lambda y: (w * y * x).sum())(np.ones(2))
        seen.append(w.grad)
        return (inner * inner).sum()

    g = grad(loss)(np.array([2.0, 3.0]))
    np.testing.assert_allclose(g, 2 * w.data**2 * np.array([2.0, 3.0]))
    assert seen == [None] and w.grad is None


def smooth(x):
    """A smooth R³ → R composite with a dense Hessian."""
    return (x.exp() * x).sum() + (x.sum() * x.sum()).log() + (x @ np.array([[1.0, 2.0, 0.5]]).T).sum() ** 3


X0 = np.array([0.3, -0.2, 0.7])


def smooth_hessian_by_differences(x, eps=1e-5):
    """Central differences of the engine's gradient (an outside referee for the Hessian)."""
    columns = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = eps
        columns.append((grad(smooth)(x + e) - grad(smooth)(x - e)) / (2 * eps))
    return np.stack(columns, axis=1)


@pytest.mark.parametrize(
    "name, transform",
    [
        ("hessian", hessian(smooth)),
        ("jacfwd(jacrev)", jacfwd(jacrev(smooth))),
        ("jacrev(jacfwd)", jacrev(jacfwd(smooth))),
        ("jacrev(jacrev)", jacrev(jacrev(smooth))),
        ("jacfwd(jacfwd)", jacfwd(jacfwd(smooth))),
        ("jacfwd(grad)", jacfwd(grad(smooth))),
        ("jacrev(grad)", jacrev(grad(smooth))),
    ],
)
def test_every_composition_gives_the_hessian(name, transform):
    """All the ways to compose the first-order transforms agree with differences of the gradient."""
    h = transform(X0)
    assert h.shape == (3, 3)
    np.testing.assert_allclose(h, smooth_hessian_by_differences(X0), rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(h, h.T, rtol=1e-12, atol=1e-12)


def test_third_derivatives_of_a_smooth_composite():
    """d³/dx³ of Σ x e^x is diag(e^x (x + 3)), by three nested transforms in each order."""
    f = lambda x: (x.exp() * x).sum()  # noqa: E731
    expected = np.zeros((3, 3, 3))
    for i in range(3):
        expected[i, i, i] = np.exp(X0[i]) * (X0[i] + 3)
    for transform in (jacfwd(jacfwd(jacrev(f))), jacrev(jacfwd(jacrev(f))), jacrev(jacrev(jacrev(f)))):
        np.testing.assert_allclose(transform(X0), expected, rtol=1e-12, atol=1e-14)


def test_jvp_of_grad_is_a_hessian_vector_product():
    """Forward over reverse: (∇f(x), H v) in one forward sweep over one reverse sweep."""
    v = np.array([1.0, -2.0, 0.5])
    value, tangent = jvp(grad(smooth), (X0,), (v,))
    np.testing.assert_allclose(value, grad(smooth)(X0), rtol=1e-14)
    np.testing.assert_allclose(tangent, smooth_hessian_by_differences(X0) @ v, rtol=1e-7)


@pytest.mark.parametrize("mode", HVP_MODES)
def test_hvp_modes_agree_with_the_hessian(mode):
    v = np.array([0.5, 1.0, -1.5])
    np.testing.assert_allclose(hvp(smooth, X0, v, mode=mode), hessian(smooth)(X0) @ v, rtol=1e-12)


def test_hvp_validates_its_arguments():
    with pytest.raises(ValueError, match="hvp: mode must be one of"):
        hvp(smooth, X0, X0, mode="sideways")
    with pytest.raises(ValueError, match=r"hvp: v has shape \(2,\) but x has shape \(3,\)"):
        hvp(smooth, X0, np.ones(2))


def test_hvp_costs_do_not_grow_with_n_except_forward_over_forward():
    """Counted sweeps: fwd-over-fwd takes n forward sweeps; the others a constant number."""
    def quartic(x):
        return (x * x * x * x).sum()

    sweeps = {}
    for n in (4, 16):
        x, v = np.linspace(-1, 1, n), np.ones(n)
        for mode in HVP_MODES:
            with count() as c:
                hvp(quartic, x, v, mode=mode)
            sweeps[mode, n] = (c.forward_sweeps, c.reverse_sweeps)
    assert sweeps["fwd-over-fwd", 4] == (4, 0) and sweeps["fwd-over-fwd", 16] == (16, 0)
    for mode in ("fwd-over-rev", "rev-over-fwd", "rev-over-rev"):
        assert sweeps[mode, 4] == sweeps[mode, 16]
    assert sweeps["fwd-over-rev", 4] == (1, 1)
    assert sweeps["rev-over-fwd", 4] == (1, 1)
    assert sweeps["rev-over-rev", 4] == (0, 2)


def test_a_tridiagonal_hessian_by_colouring_takes_three_sweeps():
    """jacfwd(grad(f), sparse=True): the Hessian of a chain is tridiagonal, coloured in 3 sweeps."""
    def chain_t(x):
        n = x.shape[0]
        right = apply(PRIMITIVES["getitem"], (x,), ((slice(1, n),),))
        left = apply(PRIMITIVES["getitem"], (x,), ((slice(0, n - 1),),))
        d = right - left
        return (d * d * d * d).sum() + (x * x).sum()

    x = np.linspace(-1, 1, 12) ** 3
    with count() as c:
        h = jacfwd(grad(chain_t), sparse=True)(x)
    assert c.forward_sweeps == 3
    np.testing.assert_allclose(h, hessian(chain_t)(x), rtol=1e-12, atol=1e-12)
    assert np.count_nonzero(np.triu(h, 2)) == 0 and np.count_nonzero(np.diag(h, 1)) == 11


# ---------------------------------------------------------------------------------------------
# Every primitive and every nn function, twice differentiable, in both modes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("subject", SUBJECTS)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_second_derivatives_match_finite_differences(subject, data):
    """Reverse over reverse and forward over forward against central differences of the engine's
    own first derivatives (gradcheck order=2), on inputs hypothesis draws."""
    example = data.draw(_spec(subject), label="example")
    if sum(a.size for a in example.arrays) > 24:
        example = data.draw(_spec(subject), label="smaller example")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert gradcheck(example.f, *example.arrays, order=2, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("subject", SUBJECTS)
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_the_second_order_dot_product_test(subject, data):
    """With p(x) = uᵀJ(x) (a reverse sweep, recorded): <w, ∂p v> by forward over reverse equals
    <∂pᵀ w, v> by reverse over reverse."""
    example = data.draw(_spec(subject), label="example")
    arrays = list(example.arrays)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out_shape = np.shape(example.f(*[Tensor(a) for a in arrays]).data)
        u = rng.uniform(-1, 1, out_shape)
        vs = [rng.uniform(-1, 1, a.shape) for a in arrays]
        ws = [rng.uniform(-1, 1, a.shape) for a in arrays]

        def pulled(*xs):
            return vjp(example.f, *xs)[1](u)

        _, forward = jvp(pulled, tuple(arrays), tuple(vs))
        _, pullback = vjp(pulled, *arrays)
        reverse = pullback(tuple(ws))
    lhs = sum(np.vdot(w, f) for w, f in zip(ws, forward))
    rhs = sum(np.vdot(r, v) for r, v in zip(reverse, vs))
    scale = max(1.0, sum(np.abs(w).sum() * np.abs(f).max(initial=0) for w, f in zip(ws, forward)))
    assert abs(lhs - rhs) <= 1e-11 * scale


# ---------------------------------------------------------------------------------------------
# An MLP cost: every second-order route agrees
# ---------------------------------------------------------------------------------------------

SIZES = [3, 4, 3]
M = 5
RNG = np.random.default_rng(11)
X_DATA = RNG.standard_normal((SIZES[0], M))
Y_DATA = np.eye(SIZES[-1])[:, RNG.integers(0, SIZES[-1], M)]
N_PARAMS = sum(o * i + o for i, o in zip(SIZES, SIZES[1:]))
THETA = RNG.standard_normal(N_PARAMS) * 0.5


def _take(theta, start, shape):
    size = int(np.prod(shape))
    piece = apply(PRIMITIVES["getitem"], (theta,), ((slice(start, start + size),),))
    return piece.reshape(shape), start + size


def mlp_cost(theta, activation):
    """Two layers (fused linear), ``activation`` hidden, softmax cross-entropy (fused) on top."""
    theta = theta if isinstance(theta, Tensor) else Tensor(theta)
    a, start = X_DATA, 0
    for k, (n_in, n_out) in enumerate(zip(SIZES, SIZES[1:])):
        w, start = _take(theta, start, (n_out, n_in))
        b, start = _take(theta, start, (n_out, 1))
        z = autograd.linear(w, a, b)
        a = activation(z) if k < len(SIZES) - 2 else z
    return nn.softmax_cross_entropy(a, Y_DATA) + 0.5 * nn.sigmoid(a).sum() / M


@pytest.mark.parametrize("activation", [nn.tanh, nn.sigmoid, nn.relu], ids=["tanh", "sigmoid", "relu"])
def test_every_second_order_route_agrees_on_an_mlp_cost(activation):
    """hessian, the four hvp modes, the four jac compositions and gradients(create_graph=True)
    agree to 1e-10, and the Hessian matches central differences of the gradient."""
    f = lambda theta: mlp_cost(theta, activation)  # noqa: E731
    h = hessian(f)(THETA)
    assert h.shape == (N_PARAMS, N_PARAMS)
    np.testing.assert_allclose(h, h.T, atol=1e-12)
    for transform in (jacfwd(jacrev(f)), jacrev(jacfwd(f)), jacrev(jacrev(f)), jacfwd(jacfwd(f))):
        np.testing.assert_allclose(transform(THETA), h, atol=1e-10)
    v = np.random.default_rng(3).standard_normal(N_PARAMS)
    for mode in HVP_MODES:
        np.testing.assert_allclose(hvp(f, THETA, v, mode=mode), h @ v, atol=1e-10)
    theta = Tensor(THETA, requires_grad=True)
    (g,) = gradients(f(theta), theta, create_graph=True)
    (hv,) = gradients(g, theta, Tensor(v))
    np.testing.assert_allclose(hv.data, h @ v, atol=1e-10)
    eps = 1e-6
    numeric = np.stack(
        [(grad(f)(THETA + eps * e) - grad(f)(THETA - eps * e)) / (2 * eps) for e in np.eye(N_PARAMS)], axis=1
    )
    np.testing.assert_allclose(h, numeric, atol=2e-6)


# ---------------------------------------------------------------------------------------------
# gradients(): torch.autograd.grad's semantics
# ---------------------------------------------------------------------------------------------


class TestGradients:
    def test_returns_tensors_and_writes_no_grad(self):
        x = Tensor([1.0, 2.0], requires_grad=True)
        y = (x * x).sum()
        (g,) = gradients(y, x)
        assert isinstance(g, Tensor) and x.grad is None
        np.testing.assert_array_equal(g.data, [2.0, 4.0])
        assert not g.requires_grad

    def test_create_graph_records_the_result(self):
        """d/dx of <∇(x³), 1> is 6x; the second gradients() may run again (retain by default)."""
        x = Tensor([1.0, -2.0], requires_grad=True)
        (g,) = gradients((x * x * x).sum(), x, create_graph=True)
        assert g.requires_grad
        np.testing.assert_allclose(g.data, 3 * x.data**2)
        (h,) = gradients(g.sum(), x)
        np.testing.assert_allclose(h.data, 6 * x.data)

    def test_intermediate_inputs_and_several_outputs(self):
        x = Tensor([0.5, 1.5], requires_grad=True)
        z = x.exp()
        y1, y2 = (z * 2).sum(), (z * z).sum()
        gz, gx = gradients([y1, y2], [z, x])
        np.testing.assert_allclose(gz.data, 2 + 2 * z.data)
        np.testing.assert_allclose(gx.data, (2 + 2 * z.data) * z.data)

    def test_seeds_and_unused_inputs(self):
        x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
        unused = Tensor([1.0], requires_grad=True)
        y = x * 3
        (g,) = gradients(y, x, np.array([1.0, 0.0, 2.0]))
        np.testing.assert_array_equal(g.data, [3.0, 0.0, 6.0])
        with pytest.raises(ValueError, match="implicit gradient needs a scalar output"):
            gradients(x * 3, x)
        with pytest.raises(RuntimeError, match="input 1 .* was not used.*allow_unused=True"):
            gradients((x * 3).sum(), [x, unused])
        g, none = gradients((x * 3).sum(), [x, unused], allow_unused=True)
        assert none is None

    def test_retain_graph_follows_create_graph(self):
        x = Tensor([1.0], requires_grad=True)
        y = (x.exp() * 2).sum()
        gradients(y, x)
        with pytest.raises(RuntimeError, match="already used by a backward pass"):
            gradients(y, x)
        y = (x.exp() * 2).sum()
        gradients(y, x, retain_graph=True)
        np.testing.assert_allclose(gradients(y, x)[0].data, 2 * np.e)

    def test_bad_arguments(self):
        x = Tensor([1.0], requires_grad=True)
        with pytest.raises(TypeError, match=r"inputs\[0\] is a ndarray, not a Tensor"):
            gradients(x.sum(), [np.ones(1)])
        with pytest.raises(RuntimeError, match="input 0 .* does not require grad"):
            gradients(x.sum(), Tensor([1.0]))
        with pytest.raises(TypeError, match="create_graph must be True or False"):
            gradients(x.sum(), x, create_graph="yes")
        with pytest.raises(TypeError, match="retain_graph must be True or False"):
            x.sum().backward(retain_graph="no")


def test_a_failed_backward_can_be_retried():
    """A sweep that raised part-way leaves nothing marked used: after the fix, the retry works."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    w = Tensor([3.0, 4.0], requires_grad=True)
    y = (x * w).exp().sum()
    w.data = np.array([5.0, 6.0])  # changes an input of the recorded mul: backward must refuse
    with pytest.raises(RuntimeError, match="was modified after this node was recorded"):
        y.backward()
    w.data = np.array([3.0, 4.0])
    y = (x * w).exp().sum()
    y.backward()
    np.testing.assert_allclose(x.grad, w.data * np.exp(x.data * w.data))


# ---------------------------------------------------------------------------------------------
# Pytrees, auxiliary outputs, no silent zeros
# ---------------------------------------------------------------------------------------------


def dict_loss(params, x):
    z = params["W"] @ x + params["b"]
    return (z * z).sum() * 0.5


class TestPytrees:
    W = np.array([[1.0, -1.0], [0.5, 2.0]])
    B = np.array([[0.1], [-0.3]])
    X = np.array([[1.0, 2.0, 0.0], [-1.0, 0.5, 1.0]])

    def closed_form(self):
        z = self.W @ self.X + self.B
        return z @ self.X.T, z.sum(axis=1, keepdims=True)

    def test_grad_of_a_dict_is_a_dict(self):
        g = grad(dict_loss)({"W": self.W, "b": self.B}, self.X)
        dw, db = self.closed_form()
        assert set(g) == {"W", "b"}
        np.testing.assert_allclose(g["W"], dw)
        np.testing.assert_allclose(g["b"], db)

    def test_nested_structures_and_several_argnums(self):
        def f(pair, scale):
            (a, (b,)) = pair
            return (a * b).sum() * scale

        (ga, (gb,)), gs = grad(f, argnums=(0, 1))((np.array([1.0, 2.0]), [np.array([3.0, 4.0])]), 2.0)
        np.testing.assert_allclose(ga, [6.0, 8.0])
        np.testing.assert_allclose(gb, [2.0, 4.0])
        assert gs == pytest.approx(11.0)

    def test_has_aux(self):
        def f(params, x):
            loss = dict_loss(params, x)
            return loss, {"loss_twice": loss * 2, "note": "kept"}

        params = {"W": self.W, "b": self.B}
        g, aux = grad(f, has_aux=True)(params, self.X)
        np.testing.assert_allclose(g["W"], self.closed_form()[0])
        assert aux["note"] == "kept"
        np.testing.assert_allclose(aux["loss_twice"], 2 * value_and_grad(dict_loss)(params, self.X)[0])
        (value, aux2), g2 = value_and_grad(f, has_aux=True)(params, self.X)
        assert isinstance(aux2["loss_twice"], np.ndarray)
        np.testing.assert_allclose(g2["b"], self.closed_form()[1])
        out, pullback, aux3 = vjp(f, params, self.X, has_aux=True)
        (gp, gx) = pullback(np.ones(()))
        np.testing.assert_allclose(gp["W"], self.closed_form()[0])
        assert aux3["note"] == "kept"

    def test_jvp_and_jacobians_of_pytrees(self):
        def f(p):
            return {"sum": (p["a"] * p["b"]).sum(), "a2": p["a"] * p["a"]}

        p = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, -1.0])}
        t = {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0])}
        out, dot = jvp(f, (p,), (t,))
        assert dot["sum"] == pytest.approx(3.0 + 2.0)
        np.testing.assert_allclose(dot["a2"], [2.0, 0.0])
        for jac in (jacfwd(f)(p), jacrev(f)(p)):
            np.testing.assert_allclose(jac["sum"]["a"], p["b"])
            np.testing.assert_allclose(jac["a2"]["a"], np.diag(2 * p["a"]))
            np.testing.assert_allclose(jac["a2"]["b"], np.zeros((2, 2)))

    def test_hessian_of_a_pytree_argument(self):
        point = {"x": np.array([1.0, 2.0]), "y": np.array([3.0, 4.0])}
        h = hessian(lambda p: (p["x"] * p["x"] * p["y"]).sum())(point)
        np.testing.assert_allclose(h["x"]["x"], np.diag([6.0, 8.0]))
        np.testing.assert_allclose(h["x"]["y"], np.diag([2.0, 4.0]))


@pytest.mark.parametrize(
    "cut, cause",
    [
        (lambda x: Tensor(x.data) * 2, "data"),
        (lambda x: Tensor(x.numpy()).exp(), "numpy"),
        (lambda x: x.detach() * x.detach(), "detach"),
        (lambda x: np.sin(x.data), "ndarray"),
    ],
)
@pytest.mark.parametrize("transform", ["grad", "jacfwd", "jacrev", "jvp"])
def test_a_cut_graph_warns_instead_of_returning_silent_zeros(cut, cause, transform):
    x = np.array([0.5, 1.0])
    f = (lambda x: cut(x).sum()) if transform == "grad" else cut
    with pytest.warns(UserWarning, match=r"does not depend on .*\.data, \.numpy\(\).*detach\(\)"):
        if transform == "jvp":
            result = jvp(f, (x,), (np.ones(2),))[1]
        else:
            result = {"grad": grad, "jacfwd": jacfwd, "jacrev": jacrev}[transform](f)(x)
    assert not np.any(result)


def test_sparse_jacfwd_inside_another_transform_raises():
    with pytest.raises(NotImplementedError, match="jacfwd\\(sparse=True\\) inside another transform"):
        grad(lambda x: jacfwd(lambda y: y * y, sparse=True)(x).sum())(np.ones(3))


def test_a_rule_that_returns_a_raw_array_on_tensors_raises():
    """A VJP that cuts the graph under create_graph is an error, not a silent zero."""
    prim = PRIMITIVES["exp"]
    saved = prim.vjps
    cut = lambda g, ans, x: np.asarray(g.data if isinstance(g, Tensor) else g) * 1.0  # noqa: E731
    object.__setattr__(prim, "vjps", (cut,))
    try:
        x = Tensor([1.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="exp backward: the VJP rule for input 0 returned a ndarray"):
            gradients(x.exp().sum(), x, create_graph=True)
    finally:
        object.__setattr__(prim, "vjps", saved)
