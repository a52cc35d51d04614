"""Jacobians whose sweeps are replayed on a tape (autograd.sweep_tape).

Referees: the eager path (every sweep through the engine, ``sweep_tape.disabled()``), which a
replay must equal to the last bit; the dense Jacobian chained through the recorded graph from
each primitive's own dense Jacobian (``autograd.checks.dense_jacobian``, written from the
maths, not from the rules); float64 central differences. Whether a tape was used is seen from
outside: how often ``f`` is evaluated (a forward replay does not evaluate it) and how often the
engine's reverse sweep (``gradients``) is entered.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import autograd.functional as functional
import nn
from autograd import (
    Tensor,
    detect_anomaly,
    grad,
    hessian,
    is_grad_enabled,
    jacfwd,
    jacrev,
    no_grad,
    sweep_tape,
)
from autograd.backward import walk
from autograd.checks import dense_jacobian, numerical_jacobian
from autograd.counters import count
from tests.test_properties import SUBJECTS, _spec

# ---------------------------------------------------------------------------------------------
# Referees and probes
# ---------------------------------------------------------------------------------------------


def chained_dense_jacobian(f, *arrays) -> list[np.ndarray]:
    """``d f / d x_k`` for each input, shape ``(out.size, x_k.size)``: the primitives' dense
    Jacobians multiplied along the recorded graph (the chain rule, no VJP or JVP rule)."""
    leaves = [Tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = f(*leaves)
    total = sum(leaf.size for leaf in leaves)
    jacobians = {}
    start = 0
    for leaf in leaves:
        block = np.zeros((leaf.size, total))
        block[:, start:start + leaf.size] = np.eye(leaf.size)
        jacobians[id(leaf)] = block
        start += leaf.size
    for node in walk(out):
        if node.op is None:
            continue
        parents = [p.data for p in node.parents]
        if node.op.kind in ("binary", "bilinear") and node.op.name != "matmul":
            # A constant operand of an elementwise op is broadcast by NumPy, not by a node.
            parents = [np.broadcast_to(p, node.shape) for p in parents]
        local = dense_jacobian(node.op.name, *parents, *node.static)
        j = np.zeros((node.size, total))
        for parent, d in zip(node.parents, local):
            if id(parent) in jacobians:
                j += d @ jacobians[id(parent)]
        jacobians[id(node)] = j
    full = jacobians.get(id(out), np.zeros((out.size, total)))
    bounds = np.cumsum([0] + [leaf.size for leaf in leaves])
    return [full[:, a:b] for a, b in zip(bounds[:-1], bounds[1:])]


class Probe:
    """Counts the evaluations of ``f`` and the engine's reverse sweeps while it is active."""

    def __init__(self, f, monkeypatch):
        self.f_calls = 0
        self.sweeps = 0
        original = functional.gradients

        def counted(*args, **kwargs):
            self.sweeps += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(functional, "gradients", counted)

        def wrapped(*args):
            self.f_calls += 1
            return f(*args)

        self.f = wrapped


def both(transform, f, *args, **options):
    """The Jacobian with replay, and the same Jacobian with every sweep through the engine.

    Every tape built on the way must have reproduced its first sweep exactly (a tape that does
    not is dropped for the eager path, which would hide its fault from the comparison)."""
    mismatches = sweep_tape.mismatches
    replayed = transform(f, **options)(*args)
    assert sweep_tape.mismatches == mismatches, "a tape did not reproduce its first sweep"
    with sweep_tape.disabled():
        eager = transform(f, **options)(*args)
    return replayed, eager


def assert_identical(a, b) -> None:
    """Two pytrees of arrays equal to the last bit, with the same shapes and dtypes."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_identical(a[k], b[k])
    elif isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_identical(x, y)
    else:
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------------------------

RNG = np.random.default_rng(7)
W1 = RNG.standard_normal((6, 5)) / 2
B1 = RNG.standard_normal((6, 1))
W2 = RNG.standard_normal((4, 6)) / 2


def mlp(x):
    """R⁵ → R⁴: a hidden layer with a broadcast bias column, tanh, softmax, a gate."""
    hidden = nn.tanh(W1 @ x.reshape(5, 1) + B1)
    return (nn.softmax(W2 @ hidden) * nn.sigmoid(W2 @ nn.relu(hidden))).reshape(4)


def chain(x):
    """Forty elementwise ops that map x to itself (Jacobian: the identity)."""
    steps = (lambda y: y * 2, lambda y: y + 0.25, lambda y: y.exp(), lambda y: y.log(),
             lambda y: y - 0.25, lambda y: y * 0.5)
    y = x
    for k in range(40):
        y = steps[k % 6](y)
    return y


def broadcasting(x, y):
    """x (3,) and y (4,) broadcast against each other and against a constant: out (3, 4)."""
    return (x.reshape(3, 1) * y + np.linspace(0, 1, 4)).sin() * x.reshape(3, 1) + y * y


def shared(x):
    """One input reaching the output along many paths (gradients summed at every fan-in)."""
    a = x * x
    b = a.exp() + a
    return (b * x + a.sum() * b).reshape(2, 3)


def fan_in(x):
    """x feeding eight terms summed at the end: the order in which the sweep adds their
    contributions into x's gradient shows in the last bits."""
    total = None
    for k in range(1, 9):
        term = (x * (0.3 * k)).sin() * x.exp()
        total = term if total is None else total + term
    return total


def mixed_precision(x):
    """A float32 input against float64 constants: float64 output, gradients cast back."""
    return (x * np.linspace(0.5, 1.5, x.size)).exp() @ np.ones((x.size, 3)) + x[:3]


POINTS = {
    "fan_in": (fan_in, (RNG.standard_normal(5),)),
    "mixed_precision": (mixed_precision, (RNG.standard_normal(4).astype(np.float32),)),
    "mlp": (mlp, (RNG.standard_normal(5),)),
    "chain": (chain, (np.abs(RNG.standard_normal(6)) + 0.5,)),
    "broadcasting": (broadcasting, (RNG.standard_normal(3), RNG.standard_normal(4))),
    "shared": (shared, (RNG.standard_normal(6) / 2,)),
}


# ---------------------------------------------------------------------------------------------
# Replay equals the eager path and the referees
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(POINTS))
@pytest.mark.parametrize("transform", [jacfwd, jacrev])
def test_replay_equals_eager_and_the_referees(name, transform):
    """Bitwise the eager Jacobian, close to the chained dense one and to central differences."""
    f, args = POINTS[name]
    argnums = tuple(range(len(args)))
    replayed, eager = both(transform, f, *args, argnums=argnums)
    assert_identical(replayed, eager)
    dense = chained_dense_jacobian(f, *args)
    numeric = numerical_jacobian(f, *args)
    single = any(a.dtype == np.float32 for a in args)  # float32 gradients: 1e-7 relative error
    for j, d, n in zip(replayed, dense, numeric):
        np.testing.assert_allclose(j.reshape(d.shape), d, rtol=1e-5 if single else 1e-10, atol=1e-12)
        np.testing.assert_allclose(j.reshape(d.shape), n, rtol=1e-5 if single else 1e-6, atol=1e-8)


@pytest.mark.parametrize("name", sorted(POINTS))
def test_a_forward_replay_evaluates_f_once_per_input(name, monkeypatch):
    """jacfwd evaluates f once per input leaf (its first sweep) instead of once per element."""
    f, args = POINTS[name]
    probe = Probe(f, monkeypatch)
    jacfwd(probe.f, argnums=tuple(range(len(args))))(*args)
    assert probe.f_calls == len(args)
    with sweep_tape.disabled():
        jacfwd(probe.f, argnums=tuple(range(len(args))))(*args)
    assert probe.f_calls == len(args) + sum(a.size for a in args)


@pytest.mark.parametrize("name", sorted(POINTS))
def test_a_reverse_replay_enters_the_engine_once_per_output(name, monkeypatch):
    """jacrev runs its first reverse sweep through the engine and replays the others."""
    f, args = POINTS[name]
    probe = Probe(f, monkeypatch)
    out_size = np.asarray(f(*[Tensor(a) for a in args]).data).size
    jacrev(probe.f, argnums=tuple(range(len(args))))(*args)
    assert (probe.f_calls, probe.sweeps) == (1, 1)
    with sweep_tape.disabled():
        jacrev(probe.f, argnums=tuple(range(len(args))))(*args)
    assert (probe.f_calls, probe.sweeps) == (2, 1 + out_size)


@settings(max_examples=8, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@pytest.mark.parametrize("subject", SUBJECTS)
@given(data=st.data())
def test_every_primitive_and_nn_function_replays_bitwise(subject, data):
    """On every subject of the property suite (each primitive, each nn function, broadcasting
    shapes, empty and 0-d arrays), both transforms replay to the eager Jacobians exactly."""
    example = data.draw(_spec(subject))
    argnums = tuple(range(len(example.arrays)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some subjects do not depend on every input
        for transform in (jacfwd, jacrev):
            replayed, eager = both(transform, example.f, *example.arrays, argnums=argnums)
            assert_identical(replayed, eager)


# ---------------------------------------------------------------------------------------------
# Structure: pytrees, several outputs, dtypes, unused inputs, sparse
# ---------------------------------------------------------------------------------------------


def test_pytree_inputs_and_outputs():
    """A dict of parameters in, a tuple of outputs out: every block equals the eager one."""
    params = {"w": RNG.standard_normal((3, 2)), "b": RNG.standard_normal((3, 1))}
    x = RNG.standard_normal((2, 4))

    def f(p, x):
        z = p["w"] @ x + p["b"]
        return z.tanh().sum(axis=1), {"peak": (z * z).sum()}

    for transform in (jacfwd, jacrev):
        replayed, eager = both(transform, f, params, x, argnums=(0, 1))
        assert_identical(replayed, eager)
    (dw,) = numerical_jacobian(lambda w: f({"w": w, "b": params["b"]}, x)[0], params["w"])
    np.testing.assert_allclose(replayed[0][0]["w"].reshape(3, 6), dw, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes_are_kept(dtype):
    """float32 inputs give float32 Jacobians, bitwise those of the eager path."""
    x = (np.abs(RNG.standard_normal(5)) + 0.5).astype(dtype)
    for transform in (jacfwd, jacrev):
        replayed, eager = both(transform, chain, x)
        assert replayed.dtype == dtype
        assert_identical(replayed, eager)


def test_an_unused_input_gives_zeros_and_one_warning():
    """The input f ignores gets a zero block and the warning, as on the eager path."""

    def f(x, y):
        return x * x

    x, y = RNG.standard_normal(4), RNG.standard_normal(3)
    for transform in (jacfwd, jacrev):
        with pytest.warns(UserWarning, match="does not depend"):
            jx, jy = transform(f, argnums=(0, 1))(x, y)
        np.testing.assert_array_equal(jy, np.zeros((4, 3)))
        np.testing.assert_allclose(jx, np.diag(2 * x), rtol=1e-15)


def test_sparse_jacfwd_replays_its_colours(monkeypatch):
    """jacfwd(sparse=True) on a tridiagonal Jacobian: three colours, f evaluated for the pattern
    and the first colour only, the result bitwise the eager one and the dense referee's."""

    def f(x):
        return x[1:-1] * x[:-2] - x[2:].sin() * x[1:-1]

    x = RNG.standard_normal(9)
    probe = Probe(f, monkeypatch)
    replayed = jacfwd(probe.f, sparse=True)(x)
    assert probe.f_calls == 2
    with sweep_tape.disabled():
        eager = jacfwd(f, sparse=True)(x)
    assert_identical(replayed, eager)
    (dense,) = chained_dense_jacobian(f, x)
    np.testing.assert_allclose(replayed, dense, rtol=1e-12, atol=1e-14)


def test_sparse_jacfwd_of_several_inputs_builds_a_tape_per_seeded_set():
    """Colours seeding different inputs use different tapes; every column is still right."""

    def f(x, y):
        return (x * y).exp() + x[::-1] * y

    x, y = RNG.standard_normal(5), RNG.standard_normal(5)
    replayed, eager = both(jacfwd, f, x, y, argnums=(0, 1), sparse=True)
    assert_identical(replayed, eager)
    for j, d in zip(replayed, chained_dense_jacobian(f, x, y)):
        np.testing.assert_allclose(j, d, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------------------------
# Counting: observers see every sweep and every call
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(POINTS))
def test_counters_see_n_forward_and_m_reverse_sweeps_and_every_call(name):
    """With counters attached the sweeps go through the engine: n forward and m reverse sweeps,
    and the same primitive calls and flops as with replay off."""
    f, args = POINTS[name]
    argnums = tuple(range(len(args)))
    n = sum(a.size for a in args)
    m = np.asarray(f(*[Tensor(a) for a in args]).data).size
    tallies = []
    for replay in (True, False):
        sweep_tape.enabled = replay
        try:
            with count() as forward:
                jacfwd(f, argnums=argnums)(*args)
            with count() as reverse:
                jacrev(f, argnums=argnums)(*args)
        finally:
            sweep_tape.enabled = True
        assert (forward.forward_sweeps, forward.reverse_sweeps) == (n, 0)
        assert (reverse.forward_sweeps, reverse.reverse_sweeps) == (0, m)
        tallies.append((forward.calls, forward.flops, reverse.calls, reverse.flops))
    assert tallies[0] == tallies[1]


def test_anomaly_mode_sees_every_sweep(monkeypatch):
    """Anomaly mode watches every operation, so every forward sweep evaluates f."""
    probe = Probe(mlp, monkeypatch)
    x = RNG.standard_normal(5)
    with detect_anomaly():
        jacfwd(probe.f)(x)
    assert probe.f_calls == x.size


def test_one_sweep_needs_no_tape(monkeypatch):
    """A Jacobian of a single column (or row) runs its one sweep eagerly."""
    probe = Probe(lambda x: (x * x).sum(), monkeypatch)
    jacrev(probe.f)(RNG.standard_normal(4))
    assert probe.sweeps == 1
    jacfwd(probe.f)(np.array([0.5]))
    assert probe.f_calls == 2


# ---------------------------------------------------------------------------------------------
# Where a tape can not follow f: the eager path, the right numbers
# ---------------------------------------------------------------------------------------------


def test_nested_transforms_are_right():
    """hessian = jacfwd(jacrev(f)), jacrev(jacrev(f)), jacfwd(jacfwd(f)) and jacfwd(grad(f))
    give the closed-form Hessian of f(x) = Σ exp(x) x² ... with replay on and off."""

    def f(x):
        return (x.exp() * x * x).sum()

    x = RNG.standard_normal(4)
    e = np.exp(x)
    closed = np.diag(e * (x * x + 4 * x + 2))
    routes = {
        "hessian": hessian(f),
        "jacrev(jacrev)": jacrev(jacrev(f)),
        "jacfwd(jacfwd)": jacfwd(jacfwd(f)),
        "jacfwd(grad)": jacfwd(grad(f)),
        "jacrev(grad)": jacrev(grad(f)),
    }
    for name, route in routes.items():
        replayed = route(x)
        with sweep_tape.disabled():
            eager = route(x)
        np.testing.assert_allclose(replayed, closed, rtol=1e-12, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(replayed, eager, rtol=1e-14, atol=1e-14, err_msg=name)


def test_a_grad_inside_f_is_taped_with_the_rest_of_f(monkeypatch):
    """jacfwd of a function that calls grad: the recorded sweep holds the inner reverse
    sweep's operations too (they carry the tangents), so the tape replays them: f is evaluated
    once, and every column equals the eager one to the last bit and the closed form."""

    def f(x):
        return grad(lambda y: (y.sin() * y).sum())(x) * x

    probe = Probe(f, monkeypatch)
    x = RNG.standard_normal(4)
    j = jacfwd(probe.f)(x)
    assert probe.f_calls == 1
    g, dg = np.sin(x) + x * np.cos(x), 2 * np.cos(x) - x * np.sin(x)  # d/dx (x sin x), and its derivative
    np.testing.assert_allclose(j, np.diag(g + x * dg), rtol=1e-12, atol=1e-12)
    with sweep_tape.disabled():
        eager = jacfwd(f)(x)
    assert_identical(j, eager)
    (numeric,) = numerical_jacobian(f, x)
    np.testing.assert_allclose(j, numeric, rtol=1e-6, atol=1e-8)


def test_a_no_grad_block_inside_f_is_taped_as_forward_mode_sees_it(monkeypatch):
    """Tangents go through a no_grad block (forward mode does not stop there), and the recorded
    sweep records the block too: one evaluation of f, and the Jacobian 3 I, as eager."""

    def f(x):
        with no_grad():
            doubled = x * 2
        return doubled + x

    probe = Probe(f, monkeypatch)
    x = RNG.standard_normal(5)
    j = jacfwd(probe.f)(x)
    assert probe.f_calls == 1
    with sweep_tape.disabled():
        eager = jacfwd(f)(x)
    assert_identical(j, eager)
    np.testing.assert_array_equal(j, 3 * np.eye(5))


def test_retained_gradients_take_the_eager_path(monkeypatch):
    """A tensor that retains its gradient gets .grad written by every reverse sweep, which only
    the engine does: jacrev sweeps eagerly, with the eager path's .grad."""
    kept = []

    def f(x):
        hidden = (x * x).retain_grad()
        kept.append(hidden)
        return hidden.exp()

    probe = Probe(f, monkeypatch)
    x = RNG.standard_normal(3)
    j = jacrev(probe.f)(x)
    assert probe.sweeps == 3
    with sweep_tape.disabled():
        eager = jacrev(f)(x)
    assert_identical(j, eager)
    np.testing.assert_array_equal(kept[0].grad, kept[1].grad)
    np.testing.assert_allclose(kept[0].grad, np.exp(x * x), rtol=1e-15)


def test_the_recorded_forward_sweep_runs_f_under_no_grad_as_every_other_sweep(monkeypatch):
    """The sweep a tape is read from records its operations without turning grad mode on: f
    sees ``is_grad_enabled()`` False in every sweep, and the tape is still taken."""
    modes = []

    def f(x):
        modes.append(is_grad_enabled())
        return (x * x).exp()

    x = RNG.standard_normal(5)
    probe = Probe(f, monkeypatch)
    jacobian = jacfwd(probe.f)(x)
    assert probe.f_calls == 1 and modes == [False]  # one recorded sweep, replayed for the rest
    np.testing.assert_allclose(jacobian, np.diag(2 * x * np.exp(x * x)), rtol=1e-12)
    with sweep_tape.disabled():
        jacfwd(f)(x)
    assert modes == [False] * (1 + x.size)
