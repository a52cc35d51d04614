"""Every primitive's rules against two outside referees: its dense Jacobian and finite differences."""

import numpy as np
import pytest

from autograd import PRIMITIVES, Tensor, apply
from autograd.checks import dense_jacobian, gradcheck
from autograd.primitives import evaluate
from tests.primitive_cases import BINARY_DOMAINS, CASES, UNARY_DOMAINS

CORE_PRIMITIVES = set(UNARY_DOMAINS) | set(BINARY_DOMAINS)
CORE_PRIMITIVES |= {"matmul", "broadcast_to", "sum", "transpose", "reshape"}


def _ans(case, xs):
    """The output and the static arguments the rules get (a fused forward's residual included)."""
    return evaluate(PRIMITIVES[case.name], xs, case.static)


def test_the_table_covers_every_core_primitive():
    """Each primitive of the engine's table has at least one case in the shape table."""
    assert CORE_PRIMITIVES <= set(PRIMITIVES)
    assert {case.name for case in CASES} >= CORE_PRIMITIVES


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_vjp_equals_transposed_dense_jacobian(case):
    """Each VJP rule returns Jᵀg, with J the primitive's full Jacobian built from its pattern."""
    prim = PRIMITIVES[case.name]
    xs = case.inputs(seed=1)
    ans, static = _ans(case, xs)
    g = np.random.default_rng(2).standard_normal(ans.shape)
    jacobians = dense_jacobian(case.name, *xs, *case.static)
    for i, (x, jacobian) in enumerate(zip(xs, jacobians)):
        dx = np.asarray(prim.vjps[i](g, ans, *xs, *static))
        assert dx.shape == x.shape
        np.testing.assert_allclose(dx.reshape(-1), jacobian.T @ g.reshape(-1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_jvp_equals_dense_jacobian_times_tangent(case):
    """The JVP rule returns J ẋ, for all tangents at once and for each input's tangent alone."""
    prim = PRIMITIVES[case.name]
    xs = case.inputs(seed=3)
    ans, static = _ans(case, xs)
    rng = np.random.default_rng(4)
    x_dots = [rng.standard_normal(x.shape) for x in xs]
    jacobians = dense_jacobian(case.name, *xs, *case.static)
    expected = sum(j @ d.reshape(-1) for j, d in zip(jacobians, x_dots))
    out = np.asarray(prim.jvp(x_dots, ans, *xs, *static))
    assert out.shape == ans.shape
    np.testing.assert_allclose(out.reshape(-1), expected, rtol=1e-12, atol=1e-12)
    for i in range(len(xs)):
        alone = [d if k == i else None for k, d in enumerate(x_dots)]
        out = np.asarray(prim.jvp(alone, ans, *xs, *static))
        expected_alone = jacobians[i] @ x_dots[i].reshape(-1)
        np.testing.assert_allclose(out.reshape(-1), expected_alone, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_reverse_mode_matches_finite_differences(case):
    """Backward through the choke point agrees with float64 central differences."""
    xs = case.inputs(seed=5)
    assert gradcheck(lambda *ts: apply(PRIMITIVES[case.name], ts, case.static), *xs)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_gradients_have_the_shape_and_dtype_of_their_inputs(case):
    """Backward through a float32 primitive gives float32 gradients of each input's shape."""
    leaves = [Tensor(x, requires_grad=True) for x in case.inputs(seed=6, dtype=np.float32)]
    out = apply(PRIMITIVES[case.name], tuple(leaves), case.static)
    out.backward(np.ones(out.shape, dtype=np.float32))
    for leaf in leaves:
        assert leaf.grad.shape == leaf.shape
        assert leaf.grad.dtype == np.float32
