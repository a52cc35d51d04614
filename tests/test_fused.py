"""Fused primitives against the composed graphs they replace, in float64, both modes.

Referees: the composed graph of core primitives (its gradients and tangents), the closed forms of
docs/maths.md (``dZ[L] = (A - Y)/m``, ``db = Σ_axis1 dZ``), and float64 central differences.
"""

import numpy as np
import pytest

from autograd import Tensor, gradcheck
from autograd.fused import LINEAR, SOFTMAX_CROSS_ENTROPY, linear, softmax_cross_entropy

RNG_SEED = 7


def _composed_linear(w, x, b):
    return w @ x + b


def _composed_softmax_cross_entropy(z, y):
    shifted = z - z.data.max(axis=0, keepdims=True)  # a constant shift: softmax ignores it
    log_softmax = shifted - shifted.exp().sum(axis=0, keepdims=True).log()
    return -(y * log_softmax).sum() / z.shape[1]


def _arrays(shapes, seed=RNG_SEED):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


def _grads(f, arrays, seed):
    leaves = [Tensor(a, requires_grad=True) for a in arrays]
    out = f(*leaves)
    out.backward(seed)
    return out.data, [leaf.grad for leaf in leaves]


def _tangent(f, arrays, dots):
    leaves = []
    for a, d in zip(arrays, dots):
        leaf = Tensor(a)
        if d is not None:
            leaf._tangents = {0: d}
        leaves.append(leaf)
    out = f(*leaves)
    return out.data, out.tangent


LINEAR_SHAPES = [
    ((3, 4), (4, 5), (3, 1)),
    ((1, 2), (2, 1), (1, 1)),
    ((2, 3), (3, 4), (2, 4)),
    ((2, 3), (3, 4), (1, 4)),
    ((2, 3), (3, 4), ()),
]
CE_SHAPES = [(3, 4), (1, 2), (5, 1)]


class TestLinear:
    @pytest.mark.parametrize("shapes", LINEAR_SHAPES, ids=str)
    def test_gradients_equal_the_composed_graph(self, shapes):
        """linear's value and dW, dX, db equal those of W @ X + b recorded op by op."""
        arrays = _arrays(shapes)
        seed = np.random.default_rng(1).standard_normal((shapes[0][0], shapes[1][1]))
        value, grads = _grads(linear, arrays, seed)
        expected_value, expected = _grads(_composed_linear, arrays, seed)
        np.testing.assert_allclose(value, expected_value, rtol=1e-13, atol=1e-13)
        for got, want in zip(grads, expected):
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)

    @pytest.mark.parametrize("shapes", LINEAR_SHAPES, ids=str)
    @pytest.mark.parametrize("which", [(0,), (1,), (2,), (0, 1, 2)], ids=str)
    def test_tangents_equal_the_composed_graph(self, shapes, which):
        """linear's JVP with tangents on any subset of W, X, b equals the composed graph's."""
        arrays = _arrays(shapes)
        dots = [d if k in which else None for k, d in enumerate(_arrays(shapes, seed=2))]
        value, tangent = _tangent(linear, arrays, dots)
        expected_value, expected = _tangent(_composed_linear, arrays, dots)
        np.testing.assert_allclose(value, expected_value, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(tangent, expected, rtol=1e-13, atol=1e-13)

    def test_closed_form_of_math_md(self):
        """dW = G Xᵀ, dX = Wᵀ G and db = Σ_axis1 G, shaped like their inputs."""
        w, x, b = _arrays(((3, 4), (4, 6), (3, 1)))
        g = np.random.default_rng(3).standard_normal((3, 6))
        _, (dw, dx, db) = _grads(linear, [w, x, b], g)
        np.testing.assert_allclose(dw, g @ x.T, rtol=1e-14)
        np.testing.assert_allclose(dx, w.T @ g, rtol=1e-14)
        np.testing.assert_allclose(db, g.sum(axis=1, keepdims=True), rtol=1e-14)

    def test_gradcheck(self):
        """linear's reverse-mode Jacobians agree with float64 central differences."""
        assert gradcheck(linear, *_arrays(((2, 3), (3, 4), (2, 1))))

    def test_one_node_named_after_what_it_fuses(self):
        """The output is one node whose name and ``fuses`` say matmul + add."""
        w, x, b = (Tensor(a, requires_grad=True) for a in _arrays(((2, 3), (3, 4), (2, 1))))
        z = linear(w, x, b)
        assert z.op is LINEAR and z.parents == (w, x, b)
        assert "matmul+add" in z.op.label and LINEAR.fuses == ("matmul", "broadcast_to", "add")

    def test_float32_stays_float32(self):
        """float32 parameters and inputs give float32 values and gradients."""
        arrays = _arrays(((2, 3), (3, 4), (2, 1)))
        w, x, b = (Tensor(a.astype(np.float32), requires_grad=True) for a in arrays)
        z = linear(w, x, b)
        z.backward(np.ones((2, 4), dtype=np.float32))
        assert z.dtype == np.float32 and {w.grad.dtype, x.grad.dtype, b.grad.dtype} == {np.dtype(np.float32)}

    @pytest.mark.parametrize(
        "shapes, named",
        [
            (((2, 3), (4, 5), (2, 1)), "(2, 3)"),
            (((2, 3), (3, 5), (3, 1)), "(3, 1)"),
            (((2, 3, 1), (3, 5), (2, 1)), "(2, 3, 1)"),
        ],
        ids=str,
    )
    def test_shape_errors_name_the_shapes(self, shapes, named):
        """Misaligned operands or a bias that does not fit raise a ValueError naming the shapes."""
        with pytest.raises(ValueError, match="linear") as error:
            linear(*(Tensor(a) for a in _arrays(shapes)))
        assert named in str(error.value)


class TestSoftmaxCrossEntropy:
    @staticmethod
    def _one_hot(n, m, seed=4):
        y = np.zeros((n, m))
        y[np.random.default_rng(seed).integers(0, n, m), np.arange(m)] = 1
        return y

    @pytest.mark.parametrize("shape", CE_SHAPES, ids=str)
    @pytest.mark.parametrize("targets", ["one-hot", "any"])
    def test_gradients_equal_the_composed_graph(self, shape, targets):
        """Value, dZ and dY equal those of the composed log-softmax graph, for any targets Y."""
        (z,) = _arrays((shape,))
        y = self._one_hot(*shape) if targets == "one-hot" else _arrays((shape,), seed=5)[0]
        value, grads = _grads(softmax_cross_entropy, [z, y], np.array(1.7))
        expected_value, expected = _grads(_composed_softmax_cross_entropy, [z, y], np.array(1.7))
        np.testing.assert_allclose(value, expected_value, rtol=1e-13)
        for got, want in zip(grads, expected):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)

    @pytest.mark.parametrize("shape", CE_SHAPES, ids=str)
    @pytest.mark.parametrize("which", [(0,), (1,), (0, 1)], ids=str)
    def test_tangents_equal_the_composed_graph(self, shape, which):
        """The JVP with tangents on Z, Y or both equals the composed graph's."""
        z, y = _arrays((shape, shape))
        dots = [d if k in which else None for k, d in enumerate(_arrays((shape, shape), seed=6))]
        value, tangent = _tangent(softmax_cross_entropy, [z, y], dots)
        expected_value, expected = _tangent(_composed_softmax_cross_entropy, [z, y], dots)
        np.testing.assert_allclose(value, expected_value, rtol=1e-13)
        np.testing.assert_allclose(tangent, expected, rtol=1e-12, atol=1e-14)

    def test_closed_form_of_math_md(self):
        """With one-hot columns, dZ[L] = (softmax(Z) - Y)/m."""
        (z,) = _arrays(((4, 6),))
        y = self._one_hot(4, 6)
        _, (dz, _) = _grads(softmax_cross_entropy, [z, y], None)
        a = np.exp(z) / np.exp(z).sum(axis=0, keepdims=True)
        np.testing.assert_allclose(dz, (a - y) / 6, rtol=1e-12, atol=1e-15)

    def test_gradcheck(self):
        """Reverse-mode Jacobians for Z and Y agree with float64 central differences."""
        assert gradcheck(softmax_cross_entropy, *_arrays(((3, 4), (3, 4))))

    def test_extreme_logits_are_finite_and_exact(self):
        """Logits (1000, 0, -1000) with target class 2 cost exactly 2000, with finite gradients."""
        z = Tensor(np.array([[1000.0], [0.0], [-1000.0]]), requires_grad=True)
        y = np.array([[0.0], [0.0], [1.0]])
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            j = softmax_cross_entropy(z, y)
            j.backward()
        assert j.item() == 2000.0
        np.testing.assert_array_equal(z.grad, np.array([[1.0], [0.0], [-1.0]]))

    def test_one_node_named_after_what_it_fuses(self):
        """The loss is one node whose name says it fuses log-softmax, mul and sum."""
        j = softmax_cross_entropy(Tensor(np.zeros((3, 2)), requires_grad=True), np.eye(3)[:, :2])
        assert j.op is SOFTMAX_CROSS_ENTROPY and "log_softmax+mul+sum" in j.op.label
        assert j.shape == ()

    def test_float32_stays_float32(self):
        """float32 logits and targets give a float32 cost and gradient."""
        z = Tensor(np.ones((3, 2), dtype=np.float32), requires_grad=True)
        j = softmax_cross_entropy(z, np.eye(3, 2, dtype=np.float32))
        j.backward()
        assert j.dtype == np.float32 and z.grad.dtype == np.float32

    def test_shape_mismatch_names_the_shapes(self):
        """Targets of another shape raise a ValueError naming both shapes."""
        with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
            softmax_cross_entropy(Tensor(np.zeros((3, 2))), np.zeros((2, 3)))
