"""dtype rules: float32 stays float32, Python numbers never upcast, gradients take the leaf's dtype."""

import numpy as np
import pytest

from autograd import Tensor, state


class DtypeRecorder:
    """Records the dtype of every array the engine produces, forward and backward."""

    def __init__(self):
        self.dtypes = set()

    def on_apply(self, prim, inputs, out):
        self.dtypes.add(out.data.dtype)

    def on_backward(self, root):
        pass

    def on_vjp(self, node, index, gradient):
        self.dtypes.add(np.asarray(gradient).dtype)


def _mlp_loss(x, w1, b1, w2, b2, y):
    h = (w1 @ x + b1).relu()
    z = w2 @ h + b2
    p = (-z).exp().__add__(1.0).reciprocal()  # sigmoid from primitives
    cost = -(y * p.log() + (1.0 - y) * (1.0 - p).log()).mean()
    return cost ** 2 / 2 + (z * 0.5).sum() / 10


def test_float32_forward_and_backward_never_make_a_float64_array():
    """An MLP cost in float32, with Python numbers mixed in, stays float32 end to end."""
    rng = np.random.default_rng(0)
    f32 = np.float32
    params = [
        Tensor(rng.standard_normal(s).astype(f32) * 0.3, requires_grad=True)
        for s in [(4, 3), (4, 1), (1, 4), (1, 1)]
    ]
    x = rng.standard_normal((3, 5)).astype(f32)
    y = (rng.random((1, 5)) > 0.5).astype(f32)
    recorder = DtypeRecorder()
    with state.observing(recorder):
        loss = _mlp_loss(x, params[0], params[1], params[2], params[3], y)
        loss.backward()
    assert recorder.dtypes == {np.dtype(f32)}
    assert loss.dtype == f32
    for p in params:
        assert p.grad.dtype == f32


@pytest.mark.parametrize("scalar", [2, 2.5, True, -1e-3])
@pytest.mark.parametrize("op", ["+", "-", "*", "/", "r+", "r-", "r*", "r/", "**"])
def test_python_numbers_never_upcast(scalar, op):
    """float32 (op) Python number and Python number (op) float32 both stay float32."""
    x = Tensor(np.array([1.5, 2.0], dtype=np.float32), requires_grad=True)
    if op == "**":
        out = x ** 2
    elif op.startswith("r"):
        out = eval(f"scalar {op[1]} x")
    else:
        out = eval(f"x {op} scalar")
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32


def test_mixed_float_arrays_promote_as_numpy_and_gradients_keep_the_leaf_dtype():
    """float32 tensor times float64 array gives float64; the leaf's gradient stays float32."""
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = Tensor(np.ones(3, dtype=np.float64), requires_grad=True)
    out = x * y * np.full(3, 2.0)
    assert out.dtype == np.float64
    out.sum().backward()
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float64


def test_integer_arrays_take_the_float_tensors_dtype():
    """An integer or boolean array operand does not upcast a float32 tensor (labels stay cheap)."""
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    assert (x * np.array([1, 0, 1])).dtype == np.float32
    assert (x + np.array([True, False, True])).dtype == np.float32


def test_python_lists_and_numbers_become_float64():
    """Tensor([1, 2]) and Tensor(3) are float64; arrays keep their dtype."""
    assert Tensor([1, 2]).dtype == np.float64
    assert Tensor(3).dtype == np.float64
    assert Tensor(np.arange(3)).dtype == np.int64
    assert Tensor(np.zeros(2, dtype=np.float32)).dtype == np.float32


def test_seed_is_cast_to_the_outputs_dtype():
    """A float64 seed for a float32 output gives float32 gradients."""
    x = Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    (x * 3.0).backward(np.ones((2, 2)))
    assert x.grad.dtype == np.float32
