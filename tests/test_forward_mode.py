"""Forward mode: tangents pushed through the choke point, against reverse mode and finite differences.

Referees: the dot-product test ``<u, J v> = <Jᵀu, v>`` (JVP against VJP, both exact, so to 1e-12
relative in float64) and float64 central differences ``(f(x + εv) - f(x - εv)) / 2ε``.
"""

import numpy as np
import pytest

import nn
from autograd import PRIMITIVES, Tensor, apply, jvp, vjp
from autograd.counters import count
from tests.primitive_cases import BROADCAST_PAIRS, TABLE, Case, table_params

#: The broadcasting pairs every mode must get right (the shared table may list more).
REQUIRED_PAIRS = [
    ((1,), ()),
    ((2, 1), (2,)),
    ((3, 1, 2), (1, 3, 2)),
    ((1, 3, 2), (3, 2)),
    ((0, 1, 3), (0, 10, 3)),
]
PAIRS = list(dict.fromkeys(REQUIRED_PAIRS + list(BROADCAST_PAIRS)))


def _case(case_or_name) -> Case:
    if isinstance(case_or_name, str):
        pytest.fail(f"primitive {case_or_name!r} has no case in the forward-mode shape table")
    return case_or_name


def _push(case: Case, xs: list, dots: list):
    """Apply the primitive to inputs carrying ``dots`` (None: no tangent) through ``apply``."""
    leaves = []
    for x, dot in zip(xs, dots):
        leaf = Tensor(x)
        if dot is not None:
            leaf._tangents = {0: dot}
        leaves.append(leaf)
    return apply(PRIMITIVES[case.name], tuple(leaves), case.static)


def _pull(case: Case, xs: list, u: np.ndarray) -> list:
    """``Jᵢᵀ u`` for each input, from one backward through the primitive."""
    leaves = [Tensor(x, requires_grad=True) for x in xs]
    out = apply(PRIMITIVES[case.name], tuple(leaves), case.static)
    out.backward(u)
    return [np.zeros(x.shape) if leaf.grad is None else leaf.grad for x, leaf in zip(xs, leaves)]


def _value(case: Case, xs: list) -> np.ndarray:
    return apply(PRIMITIVES[case.name], tuple(Tensor(x) for x in xs), case.static).data


def _assert_dot_products(u, jv, jtus: list, vs: list) -> None:
    """``<u, J v> == Σᵢ <Jᵢᵀ u, vᵢ>`` to 1e-12 relative to the magnitudes of the terms summed."""
    lhs = float(np.sum(u * jv))
    rhs = float(sum(np.sum(g * v) for g, v in zip(jtus, vs)))
    scale = float(np.sum(np.abs(u * jv)) + sum(np.sum(np.abs(g * v)) for g, v in zip(jtus, vs)))
    assert abs(lhs - rhs) <= 1e-12 * scale, f"<u, Jv> = {lhs!r} but <Jᵀu, v> = {rhs!r}"


def _tangent_subsets(n_inputs: int) -> list[tuple[int, ...]]:
    """All inputs carrying tangents at once, then each one alone (the others have none)."""
    subsets = [tuple(range(n_inputs))]
    if n_inputs > 1:
        subsets += [(i,) for i in range(n_inputs)]
    return subsets


def test_the_shape_table_has_the_required_shapes():
    """The table includes 0-d inputs, empty axes, the broadcasting pairs and the three matmul forms."""
    shapes = [s for case in TABLE for s in case.shapes]
    assert () in shapes and any(0 in s for s in shapes)
    broadcasts = {(case.shapes[0], case.static[0]) for case in TABLE if case.name == "broadcast_to"}
    for a, b in REQUIRED_PAIRS:
        shape = np.broadcast_shapes(a, b)
        assert all((s, shape) in broadcasts for s in (a, b) if s != shape)
    matmul_ranks = {tuple(len(s) for s in case.shapes) for case in TABLE if case.name == "matmul"}
    assert {(2, 2), (2, 1), (1, 2)} <= matmul_ranks


@pytest.mark.parametrize("case", table_params())
def test_jvp_is_the_adjoint_of_the_vjp(case):
    """<u, J v> from the JVP rule equals <Jᵀu, v> from the VJP rules, through the choke point."""
    case = _case(case)
    xs = case.inputs(seed=11)
    rng = np.random.default_rng(12)
    vs = [rng.standard_normal(x.shape) for x in xs]
    ans = _value(case, xs)
    u = rng.standard_normal(ans.shape)
    pulled = _pull(case, xs, u)
    for subset in _tangent_subsets(len(xs)):
        out = _push(case, xs, [v if i in subset else None for i, v in enumerate(vs)])
        assert out.tangent.shape == ans.shape and out.tangent.dtype == np.float64
        _assert_dot_products(u, out.tangent, [pulled[i] for i in subset], [vs[i] for i in subset])


@pytest.mark.parametrize("case", table_params())
def test_jvp_matches_central_differences(case):
    """J v from the JVP rule equals (f(x + εv) - f(x - εv)) / 2ε in float64."""
    case = _case(case)
    xs = case.inputs(seed=13)
    rng = np.random.default_rng(14)
    vs = [rng.standard_normal(x.shape) for x in xs]
    eps = 1e-6
    plus = _value(case, [x + eps * v for x, v in zip(xs, vs)])
    minus = _value(case, [x - eps * v for x, v in zip(xs, vs)])
    numeric = (plus - minus) / (2 * eps)
    tangent = _push(case, xs, vs).tangent
    np.testing.assert_allclose(tangent, numeric, rtol=1e-6, atol=1e-8)


BINARY_OPERATORS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}


@pytest.mark.parametrize("op", BINARY_OPERATORS)
@pytest.mark.parametrize("shapes", PAIRS + [pair[::-1] for pair in PAIRS], ids=str)
def test_broadcasting_operators_pass_the_dot_product_test(op, shapes):
    """x op y on each broadcasting pair (explicit broadcast_to nodes) passes <u, Jv> = <Jᵀu, v>."""
    rng = np.random.default_rng(15)
    xs = [np.sign(z) * (np.abs(z) + 0.5) for z in (rng.standard_normal(s) for s in shapes)]
    vs = [rng.standard_normal(s) for s in shapes]
    value, tangent = jvp(BINARY_OPERATORS[op], tuple(xs), tuple(vs))
    u = rng.standard_normal(value.shape)
    _, pullback = vjp(BINARY_OPERATORS[op], *xs)
    pulled = pullback(u)
    assert [g.shape for g in pulled] == [x.shape for x in xs]
    _assert_dot_products(u, tangent, pulled, vs)
    eps = 1e-6
    plus = BINARY_OPERATORS[op](Tensor(xs[0] + eps * vs[0]), Tensor(xs[1] + eps * vs[1])).data
    minus = BINARY_OPERATORS[op](Tensor(xs[0] - eps * vs[0]), Tensor(xs[1] - eps * vs[1])).data
    np.testing.assert_allclose(tangent, (plus - minus) / (2 * eps), rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------------------------------------
# Functions written once with engine operations run in forward mode unchanged
# ---------------------------------------------------------------------------------------------

_Y = np.eye(4)[:, [0, 2, 1, 3, 3]]  # one-hot columns, 4 classes, 5 examples
_Y_BINARY = (np.arange(20).reshape(4, 5) % 3 == 0).astype(float)
_PROBABILITIES = 1 / (1 + np.exp(-np.random.default_rng(16).standard_normal((4, 5))))

NN_FUNCTIONS = {
    "relu": (nn.relu, "away_from_zero"),
    "sigmoid": (nn.sigmoid, "any"),
    "tanh": (nn.tanh, "any"),
    "softmax": (nn.softmax, "any"),
    "log_softmax": (nn.log_softmax, "any"),
    "softmax_cross_entropy": (lambda z: nn.softmax_cross_entropy(z, _Y), "any"),
    "binary_cross_entropy_with_logits": (lambda z: nn.binary_cross_entropy_with_logits(z, _Y_BINARY), "any"),
    "binary_cross_entropy": (lambda a: nn.binary_cross_entropy(a, _Y_BINARY), "probabilities"),
    "categorical_cross_entropy": (lambda a: nn.categorical_cross_entropy(a, _Y), "probabilities"),
}


def _nn_input(domain: str, seed: int) -> np.ndarray:
    if domain == "probabilities":
        return _PROBABILITIES
    return Case("nn", ((4, 5),), (), domain).inputs(seed=seed)[0]


@pytest.mark.parametrize("name", NN_FUNCTIONS)
def test_nn_functions_run_in_forward_mode(name):
    """Every nn activation and loss gives J v equal to central differences and adjoint to its VJP."""
    f, domain = NN_FUNCTIONS[name]
    z = _nn_input(domain, seed=17)
    rng = np.random.default_rng(18)
    v = rng.standard_normal(z.shape) * (0.1 if domain == "probabilities" else 1.0)
    value, tangent = jvp(f, (z,), (v,))
    eps = 1e-6
    numeric = (f(Tensor(z + eps * v)).data - f(Tensor(z - eps * v)).data) / (2 * eps)
    np.testing.assert_allclose(tangent, numeric, rtol=1e-6, atol=1e-8)
    u = rng.standard_normal(value.shape)
    (pulled,) = vjp(f, z)[1](u)
    _assert_dot_products(u, tangent, [pulled], [v])


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softmax", "softmax_cross_entropy"])
def test_forward_mode_stays_finite_at_extreme_logits(name):
    """Logits of ±1000 give finite tangents equal to the closed forms, without overflow warnings."""
    f, _ = NN_FUNCTIONS[name]
    z = np.array([[1000.0, -1000.0, 0.0, 3.0, -2.0]] * 4) * np.array([[1.0], [-1.0], [0.5], [2.0]])
    v = np.random.default_rng(19).standard_normal(z.shape)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value, tangent = jvp(f, (z,), (v,))
    assert np.all(np.isfinite(tangent))
    a = nn.softmax(z).data
    expected = {
        "sigmoid": v * value * (1 - value),  # dA = dZ ⊙ A ⊙ (1 - A)
        "tanh": v * (1 - value * value),  # dA = dZ ⊙ (1 - A ⊙ A)
        "softmax": value * (v - np.sum(v * value, axis=0, keepdims=True)),  # A ⊙ (v - Σ v ⊙ A)
        "softmax_cross_entropy": np.sum((a - _Y) / z.shape[1] * v),  # dZ = (A - Y)/m
    }[name]
    # The closed forms lose digits as A saturates (1 - A ⊙ A cancels; at Z = 500, A rounds to 1
    # where the true derivative is about e^-500), so they referee to 1e-9 only.
    np.testing.assert_allclose(tangent, expected, rtol=1e-9, atol=1e-200)


def test_forward_mode_records_no_graph():
    """A forward sweep through parameters that require grad records no node and leaves .grad alone."""
    rng = np.random.default_rng(20)
    w = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = Tensor(rng.standard_normal((3, 1)), requires_grad=True)
    seen = []

    def layer(x):
        z = w @ x + b
        seen.append(z)
        a = nn.tanh(z)
        seen.append(a)
        return a

    x, v = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    with count() as counted:
        _, tangent = jvp(layer, (x,), (v,))
    assert all(t.op is None and t.parents == () and not t.requires_grad for t in seen)
    assert w.grad is None and b.grad is None
    assert counted.vjp_calls == 0 and counted.reverse_sweeps == 0
    # The tangent is the reverse-mode Jacobian applied to v (W and b held constant).
    x_leaf = Tensor(x, requires_grad=True)
    out = nn.tanh(w.data @ x_leaf + b.data)
    u = rng.standard_normal(out.shape)
    out.backward(u)
    _assert_dot_products(u, tangent, [x_leaf.grad], [v])


def test_float32_tangents_stay_float32():
    """A float32 input and tangent give a float32 output tangent, close to the float64 one."""
    rng = np.random.default_rng(21)
    z, v = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    value, tangent = jvp(nn.softmax, (z.astype(np.float32),), (v.astype(np.float32),))
    assert value.dtype == np.float32 and tangent.dtype == np.float32
    np.testing.assert_allclose(tangent, jvp(nn.softmax, (z,), (v,))[1], rtol=1e-4, atol=1e-6)


def test_one_jvp_rule_call_per_primitive_on_a_tangent_path():
    """A forward sweep runs the JVP rule exactly for the primitives that receive a tangent."""
    rng = np.random.default_rng(22)
    x, c = rng.standard_normal(5), rng.standard_normal(5)

    def f(x):
        constant_branch = Tensor(c).exp()  # no tangent reaches it: no JVP rule
        return (x.exp() * x).sum() + constant_branch.sum()

    with count() as counted:
        jvp(f, (x,), (np.ones(5),))
    # exp(x), mul, sum, add carry tangents; exp(c) and sum(exp(c)) do not.
    assert counted.forward_calls == 6
    assert counted.jvp_calls == 4
    assert counted.by_primitive["jvp", "exp"] == 1 and counted.by_primitive["forward", "exp"] == 2
