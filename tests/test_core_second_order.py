"""Every primitive's rules are differentiable again: second derivatives against float64 central
differences of first derivatives, for every case of the shape table.

For a case ``f`` and a fixed cotangent ``u``, the first derivative is ``d(u) = uᵀ J``, one
gradient per input. Its Jacobian, the second derivative, is computed three ways:

* by the engine: ``gradients(f, xs, u, create_graph=True)`` runs the VJP rules on tensors, then
  one reverse sweep per element of ``d`` differentiates that recorded graph;
* by the nested transforms ``jacfwd(jacrev(h))``, ``jacrev(jacrev(h))`` and
  ``jacfwd(jacfwd(h))`` of ``h(x) = <u, f(x, ...)>`` in the first input;
* by the referee: central differences of ``d`` computed on arrays (first-order rules only).

Ties of max/min and maximum/minimum are left out: there the first derivative jumps.
"""

import numpy as np
import pytest

from autograd import PRIMITIVES, Tensor, apply, concatenate, gradients, jacfwd, jacrev
from autograd.primitives import evaluate
from autograd.state import enable_grad
from tests.primitive_cases import CASES

SMOOTH_CASES = [case for case in CASES if case.domain != "ties"]
EPS = 1e-6


def _first_derivative(case, arrays, u, create_graph):
    """``uᵀ J`` for every input, flattened end to end (a tensor when ``create_graph``)."""
    with enable_grad():
        leaves = [a if isinstance(a, Tensor) else Tensor(a, requires_grad=True) for a in arrays]
        out = apply(PRIMITIVES[case.name], tuple(leaves), case.static)
        seed = Tensor(u) if create_graph else u
        grads = gradients(out, leaves, seed, create_graph=create_graph, allow_unused=True)
    parts = [
        (g if g is not None else Tensor(np.zeros(leaf.shape))).reshape(-1) for g, leaf in zip(grads, leaves)
    ]
    return leaves, (concatenate(parts) if create_graph else np.concatenate([p.data for p in parts]))


def _numeric_second(case, xs, u):
    """Central differences of the first derivative, one input element at a time."""
    arrays = [np.array(x, dtype=np.float64) for x in xs]
    columns = []
    for a in arrays:
        flat = a.reshape(-1)
        for j in range(a.size):
            original = flat[j]
            flat[j] = original + EPS
            plus = _first_derivative(case, arrays, u, False)[1]
            flat[j] = original - EPS
            minus = _first_derivative(case, arrays, u, False)[1]
            flat[j] = original
            columns.append((plus - minus) / (2 * EPS))
    size = sum(x.size for x in xs)
    return np.stack(columns, axis=1) if columns else np.zeros((size, 0))


def _engine_second(case, xs, u):
    """The Jacobian of the recorded first derivative, one reverse sweep per row."""
    leaves, first = _first_derivative(case, xs, u, True)
    rows = []
    for row in range(first.size):
        seed = np.zeros(first.size)
        seed[row] = 1.0
        if first.requires_grad:
            grads = gradients(first, leaves, seed, allow_unused=True, retain_graph=True)
        else:  # a linear op: the first derivative is a constant
            grads = [None] * len(leaves)
        rows.append(
            np.concatenate(
                [(np.zeros(x.size) if g is None else g.data.reshape(-1)) for g, x in zip(grads, xs)]
            )
        )
    size = sum(x.size for x in xs)
    return np.stack(rows) if rows else np.zeros((0, size))


def _tolerance(numeric):
    return 1e-6 * (1.0 + np.abs(numeric).max(initial=0.0))


@pytest.mark.parametrize("case", SMOOTH_CASES, ids=lambda c: c.id)
def test_second_derivative_matches_differences_of_the_first(case):
    """Differentiating the recorded VJP (create_graph=True) gives the second derivative."""
    xs = case.inputs(seed=11)
    ans, _ = evaluate(PRIMITIVES[case.name], xs, case.static)
    u = np.random.default_rng(12).standard_normal(ans.shape)
    numeric = _numeric_second(case, xs, u)
    engine = _engine_second(case, xs, u)
    np.testing.assert_allclose(engine, numeric, rtol=1e-5, atol=_tolerance(numeric))


# A linear op's first derivative does not depend on its input: the transforms rightly warn so.
@pytest.mark.filterwarnings("ignore:jac.*does not depend on:UserWarning")
@pytest.mark.parametrize("case", SMOOTH_CASES, ids=lambda c: c.id)
def test_nested_transforms_give_the_same_hessian(case):
    """jacfwd(jacrev(h)), jacrev(jacrev(h)) and jacfwd(jacfwd(h)) of h(x) = <u, f(x, ...)>
    equal the differences of the first derivative in the first input."""
    xs = case.inputs(seed=13)
    ans, _ = evaluate(PRIMITIVES[case.name], xs, case.static)
    u = np.random.default_rng(14).standard_normal(ans.shape)
    rest = [Tensor(x) for x in xs[1:]]

    def h(x):
        return (apply(PRIMITIVES[case.name], (x, *rest), case.static) * u).sum()

    n = xs[0].size
    numeric = _numeric_second(case, xs, u)[:n, :n].reshape(xs[0].shape * 2)
    for transform in (jacfwd(jacrev(h)), jacrev(jacrev(h)), jacfwd(jacfwd(h))):
        hessian = transform(xs[0])
        assert hessian.shape == xs[0].shape * 2
        np.testing.assert_allclose(hessian, numeric, rtol=1e-5, atol=_tolerance(numeric))
