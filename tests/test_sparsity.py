"""Sparse Jacobians: dependency patterns per primitive, column colouring, one sweep per colour.

Referees: each primitive's dense Jacobian (autograd.checks.dense_jacobian, built from docs/maths.md's
pattern column), the dense forward-mode Jacobian, reverse mode and finite differences.
"""

import numpy as np
import pytest

import nn
from autograd import PRIMITIVES, Primitive, Tensor, apply, jacfwd, jacrev
from autograd.checks import dense_jacobian, numerical_jacobian
from autograd.counters import count
from autograd.sparsity import colour_columns, jacobian_pattern
from tests.primitive_cases import table_params


@pytest.mark.parametrize("case", table_params())
def test_pattern_rule_matches_the_dense_jacobian(case):
    """Each primitive's pattern rule gives exactly the nonzeros of its dense Jacobian at positive inputs."""
    if isinstance(case, str):
        pytest.fail(f"primitive {case!r} has no case in the shape table")
    # Positive inputs: no derivative vanishes by accident (relu' = 1, no product is 0).
    xs = [np.abs(x) + 0.5 for x in case.inputs(seed=31)]
    f = lambda *ts: apply(PRIMITIVES[case.name], ts, case.static)  # noqa: E731
    pattern = jacobian_pattern(f, *xs, argnums=tuple(range(len(xs))))
    expected = np.concatenate(dense_jacobian(case.name, *xs, *case.static), axis=1) != 0
    np.testing.assert_array_equal(pattern, expected)


@pytest.mark.parametrize("name", ["mul", "matmul"])
def test_constant_zeros_cut_dependencies(name):
    """A constant factor's zeros remove dependencies: the pattern is the dense Jacobian's nonzeros."""
    rng = np.random.default_rng(32)
    x = rng.standard_normal((3, 3)) + 5
    constant = rng.standard_normal((3, 3)) * (rng.random((3, 3)) > 0.5)
    f = (lambda t: t * constant) if name == "mul" else (lambda t: constant @ t)
    pattern = jacobian_pattern(f, x)
    j = dense_jacobian(name, x, constant)[0] if name == "mul" else dense_jacobian(name, constant, x)[1]
    np.testing.assert_array_equal(pattern, j != 0)


def test_a_primitive_without_a_pattern_rule_fails_loudly():
    """A primitive with no rule (and not elementwise) raises, naming the primitive."""
    # Built directly, not registered: the table of primitives stays as it is.
    mystery = Primitive("mystery", "linear", 1, lambda x: 2 * x, (lambda g, ans, x: 2 * g,),
                        lambda x_dots, ans, x: 2 * x_dots[0], "2I")
    f = lambda t: apply(mystery, (t.exp(),))  # noqa: E731
    with pytest.raises(NotImplementedError, match="mystery"):
        jacobian_pattern(f, np.ones(3))
    with pytest.raises(NotImplementedError, match="mystery"):
        jacfwd(f, sparse=True)(np.ones(3))


# ---------------------------------------------------------------------------------------------
# Colouring
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_colouring_never_puts_two_columns_sharing_a_row_together(seed):
    """On random patterns, no two columns of one colour share a row, and colours never exceed n."""
    rng = np.random.default_rng(seed)
    rows, columns = rng.integers(1, 40, size=2)
    pattern = rng.random((rows, columns)) < rng.uniform(0.02, 0.5)
    colours = colour_columns(pattern)
    assert colours.shape == (columns,) and colours.max() < columns
    for colour in np.unique(colours):
        assert pattern[:, colours == colour].sum(axis=1).max() <= 1


def test_colouring_of_diagonal_banded_and_dense_patterns():
    """A diagonal needs 1 colour, a band of half-width k needs 2k + 1, a dense row needs n."""
    n = 20
    band = lambda k: np.abs(np.subtract.outer(np.arange(n), np.arange(n))) <= k  # noqa: E731
    assert colour_columns(band(0)).max() + 1 == 1
    assert colour_columns(band(1)).max() + 1 == 3
    assert colour_columns(band(2)).max() + 1 == 5
    assert colour_columns(np.ones((1, n), dtype=bool)).max() + 1 == n


# ---------------------------------------------------------------------------------------------
# Sparse forward mode
# ---------------------------------------------------------------------------------------------


def _banded(n: int, half_width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    band = np.abs(np.subtract.outer(np.arange(n), np.arange(n))) <= half_width
    matrix = rng.standard_normal((n, n)) * band
    matrix.flags.writeable = False
    return matrix


def _check_sparse(f, x, sweeps: int) -> None:
    """jacfwd(sparse=True) equals dense jacfwd, jacrev and finite differences, in one sweep per
    colour, and the pattern has ``sweeps`` colours."""
    assert colour_columns(jacobian_pattern(f, x)).max() + 1 == sweeps
    with count() as sparse:
        j_sparse = jacfwd(f, sparse=True)(x)
    with count() as dense:
        j_dense = jacfwd(f)(x)
    assert sparse.forward_sweeps == sweeps
    assert dense.forward_sweeps == x.size
    np.testing.assert_allclose(j_sparse, j_dense, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(j_sparse, jacrev(f)(x), rtol=1e-12, atol=1e-14)
    (numeric,) = numerical_jacobian(f, x)
    np.testing.assert_allclose(j_sparse.reshape(numeric.shape), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("shape", [(12,), (3, 4)])
def test_elementwise_map_takes_one_sweep(shape):
    """An elementwise map Rⁿ → Rⁿ built from nn activations takes 1 sweep, not n."""
    x = np.random.default_rng(33).standard_normal(shape)
    f = lambda t: nn.sigmoid(t) * t + nn.tanh(t) * nn.relu(t) - t.exp()  # noqa: E731
    assert colour_columns(jacobian_pattern(f, x)).max() + 1 == 1
    _check_sparse(f, x, sweeps=1)


def test_tridiagonal_map_takes_three_sweeps():
    """tanh(T x) ⊙ x with a tridiagonal constant T takes 3 sweeps (its number of colours)."""
    t = _banded(15, 1, seed=34)
    f = lambda x: nn.tanh(t @ x) * x  # noqa: E731
    x = np.random.default_rng(35).standard_normal(15)
    _check_sparse(f, x, sweeps=3)


def test_banded_map_takes_its_bandwidth_in_sweeps():
    """A pentadiagonal map (bandwidth 5) takes 5 sweeps."""
    t = _banded(16, 2, seed=36)
    f = lambda x: nn.sigmoid(t @ x)  # noqa: E731
    _check_sparse(f, np.random.default_rng(37).standard_normal(16), sweeps=5)


def test_dense_map_takes_n_sweeps_and_agrees():
    """A dense Jacobian has nothing to share: n colours, the same Jacobian."""
    rng = np.random.default_rng(38)
    w = rng.standard_normal((4, 6))
    _check_sparse(lambda x: nn.softmax((w @ x).reshape(4, 1)), rng.standard_normal(6), sweeps=6)


def test_sparse_jacobian_of_several_arguments():
    """Colours span arguments: output i of tanh(x ⊙ y) touches x_i and y_i, so 2 sweeps, not 14."""
    rng = np.random.default_rng(39)
    x, y = rng.standard_normal(7), rng.standard_normal(7)
    f = lambda a, b: nn.tanh(a * b)  # noqa: E731
    with count() as counted:
        jx, jy = jacfwd(f, argnums=(0, 1), sparse=True)(x, y)
    assert counted.forward_sweeps == 2
    jx_r, jy_r = jacrev(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(jx, jx_r, rtol=1e-13)
    np.testing.assert_allclose(jy, jy_r, rtol=1e-13)


def test_sparse_path_is_exact_where_relu_is_off():
    """Structural patterns over-approximate (relu' = 0 where x < 0) yet the Jacobian stays exact."""
    x = np.array([-1.0, 2.0, -3.0, 4.0])
    f = lambda t: nn.relu(t) * Tensor(np.arange(1.0, 5.0))  # noqa: E731
    pattern = jacobian_pattern(f, x)
    np.testing.assert_array_equal(pattern, np.eye(4, dtype=bool))
    np.testing.assert_array_equal(jacfwd(f, sparse=True)(x), np.diag([0.0, 2.0, 0.0, 4.0]))
