"""nn.Module, Sequential, Linear and MLP: parameters, names, scopes, initialisation, saving."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nn
from autograd import Tensor
from autograd.backward import toposort

pytestmark = pytest.mark.filterwarnings("error")


def recorded_nodes(root):
    """Every recorded node that ``root`` depends on, root included."""
    return toposort(root)


class TestLinear:
    def test_shapes_and_default_dtype(self):
        """W is (n_out, n_in), b is (n_out, 1), both float32 by default and zero bias."""
        layer = nn.Linear(5, 3)
        assert layer.W.shape == (3, 5) and layer.b.shape == (3, 1)
        assert layer.W.dtype == np.float32 and layer.b.dtype == np.float32
        assert layer.W.requires_grad and layer.b.requires_grad
        np.testing.assert_array_equal(layer.b.data, np.zeros((3, 1)))

    def test_dtype_argument(self):
        """Linear(..., dtype=np.float64) makes float64 parameters."""
        layer = nn.Linear(5, 3, dtype=np.float64)
        assert layer.W.dtype == np.float64 and layer.b.dtype == np.float64

    def test_computes_w_a_plus_b_over_columns(self):
        """Linear(A) = W @ A + b with b added to every column."""
        rng = np.random.default_rng(0)
        layer = nn.Linear(4, 3, dtype=np.float64, rng=rng)
        layer.b.data = rng.normal(size=(3, 1))
        a = rng.normal(size=(4, 7))
        z = layer(a)
        np.testing.assert_allclose(z.data, layer.W.data @ a + layer.b.data, rtol=1e-14)
        assert z.shape == (3, 7)

    def test_layer_is_one_fused_node_of_weights_input_and_bias(self):
        """The layer records one fused linear (matmul+add) node on (W, A, b), b kept at (n_out, 1)."""
        layer = nn.Linear(4, 3)
        z = layer(np.ones((4, 6), dtype=np.float32))
        assert z.op.name == "linear" and z.op.label == "linear (matmul+add)"
        assert z.op.fuses == ("matmul", "broadcast_to", "add")
        assert z.parents[0] is layer.W and z.parents[2] is layer.b and z.parents[1].shape == (4, 6)

    def test_bias_gradient_sums_over_columns(self):
        """db = Σ_axis1 dZ, of shape (n_out, 1)."""
        layer = nn.Linear(2, 3, dtype=np.float64)
        seed = np.arange(12.0).reshape(3, 4)
        layer(np.ones((2, 4))).backward(seed)
        np.testing.assert_array_equal(layer.b.grad, seed.sum(axis=1, keepdims=True))

    @settings(max_examples=40, deadline=None)
    @given(n_in=st.integers(1, 5), n_out=st.integers(1, 5), m=st.integers(1, 5), seed=st.integers(0, 1000))
    def test_gradients_for_any_shape(self, n_in, n_out, m, seed):
        """For any (n_in, n_out, m): dW = dZ Aᵀ, db = Σ_axis1 dZ, dA = Wᵀ dZ."""
        rng = np.random.default_rng(seed)
        layer = nn.Linear(n_in, n_out, dtype=np.float64, rng=rng)
        a = Tensor(rng.normal(size=(n_in, m)), requires_grad=True)
        dz = rng.normal(size=(n_out, m))
        layer(a).backward(dz)
        np.testing.assert_allclose(layer.W.grad, dz @ a.data.T, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(layer.b.grad, dz.sum(axis=1, keepdims=True), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(a.grad, layer.W.data.T @ dz, rtol=1e-12, atol=1e-15)

    @pytest.mark.parametrize("shape", [(3, 5), (4,), (4, 5, 1), (5, 4)])
    def test_wrong_input_shape_names_the_layer_and_the_shapes(self, shape):
        """A ValueError names the layer path, the expected (n_in, m) and the offending shape."""
        model = nn.Sequential(nn.Linear(4, 2))
        with pytest.raises(ValueError) as error:
            model(np.ones(shape, dtype=np.float32))
        message = str(error.value)
        assert "Linear(4, 2)" in message and "'0'" in message
        assert "(4, m)" in message and str(shape) in message

    def test_input_validation_inside_an_mlp_names_the_module_path(self):
        """Inside an MLP, the error names the full path, e.g. 'layers.0'."""
        model = nn.MLP([4, 3, 2])
        with pytest.raises(ValueError, match=re.escape("'layers.0'")):
            model(np.ones((3, 5), dtype=np.float32))

    def test_rejects_bad_sizes_and_dtypes(self):
        """Sizes must be positive integers, the dtype floating-point, the init known."""
        with pytest.raises(ValueError):
            nn.Linear(0, 3)
        with pytest.raises(TypeError):
            nn.Linear(2, 3, dtype=np.int32)
        with pytest.raises(ValueError):
            nn.Linear(2, 3, init="orthogonal")


class TestInitialisation:
    def test_he_variance_is_two_over_n_in(self):
        """He initialisation: the entries of W have variance 2/n_in (within sampling error)."""
        layer = nn.Linear(400, 300, rng=0)
        assert layer.W.data.var() == pytest.approx(2 / 400, rel=0.02)
        assert abs(layer.W.data.mean()) < 3 * np.sqrt(2 / 400 / layer.W.size)

    def test_xavier_is_uniform_with_variance_two_over_fan_sum(self):
        """Xavier initialisation: U(-a, a), a = sqrt(6/(n_in + n_out)), variance 2/(n_in + n_out)."""
        layer = nn.Linear(400, 200, init="xavier", rng=0)
        limit = np.sqrt(6 / 600)
        assert np.abs(layer.W.data).max() <= limit
        assert np.abs(layer.W.data).max() > 0.99 * limit
        assert layer.W.data.var() == pytest.approx(2 / 600, rel=0.02)

    def test_same_seed_same_weights(self):
        """A seed (or a fresh generator with that seed) reproduces the weights exactly."""
        np.testing.assert_array_equal(nn.Linear(6, 4, rng=3).W.data, nn.Linear(6, 4, rng=3).W.data)
        a = nn.MLP([6, 5, 4], rng=np.random.default_rng(3))
        b = nn.MLP([6, 5, 4], rng=np.random.default_rng(3))
        for p, q in zip(a.parameters(), b.parameters()):
            np.testing.assert_array_equal(p.data, q.data)
        assert not np.array_equal(nn.Linear(6, 4, rng=3).W.data, nn.Linear(6, 4, rng=4).W.data)

    def test_layers_of_one_network_differ(self):
        """Layers drawn from one generator get different weights."""
        model = nn.MLP([4, 4, 4, 4], rng=0)
        weights = [p.data for name, p in model.named_parameters() if name.endswith("W")]
        assert not np.array_equal(weights[0], weights[1])

    def test_manual_seed_resets_the_default_generator(self):
        """Layers built without a generator are reproducible after nn.init.manual_seed."""
        try:
            nn.init.manual_seed(123)
            first = nn.Linear(3, 2).W.data
            nn.init.manual_seed(123)
            np.testing.assert_array_equal(nn.Linear(3, 2).W.data, first)
        finally:
            nn.init.manual_seed(0)


class TestNamesAndScopes:
    def test_parameter_names_are_module_paths(self):
        """MLP parameters are named layers.0.W, layers.0.b, layers.2.W... in Tensor.name too."""
        model = nn.MLP([4, 3, 3, 2])
        names = [name for name, _ in model.named_parameters()]
        assert names == ["layers.0.W", "layers.0.b", "layers.2.W", "layers.2.b", "layers.4.W", "layers.4.b"]
        assert [p.name for p in model.parameters()] == names

    def test_names_follow_the_outermost_module(self):
        """Attaching a module under a new parent renames its parameters by their new path."""
        inner = nn.Sequential(nn.Linear(2, 2))
        assert inner[0].W.name == "0.W"

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = inner

        Net()
        assert inner[0].W.name == "encoder.0.W"

    def test_nodes_are_recorded_under_their_module_path(self):
        """Each node of a layer's forward carries t.scope == the layer's path."""
        model = nn.MLP([4, 3, 2])
        out = model(np.ones((4, 5), dtype=np.float32))
        scopes = {node.op.name: set() for node in recorded_nodes(out)}
        for node in recorded_nodes(out):
            scopes[node.op.name].add(node.scope)
        assert scopes["linear"] == {"layers.0", "layers.2"}
        assert scopes["relu"] == {"layers.1"}
        assert out.scope == "layers.2"

    def test_scope_is_restored_after_forward(self):
        """Nodes recorded after a module call (the cost) carry no module scope."""
        model = nn.MLP([4, 2])
        cost = nn.softmax_cross_entropy(model(np.ones((4, 3), dtype=np.float32)), np.eye(2)[:, [0, 1, 0]])
        assert cost.scope is None


class TestModule:
    def test_parameters_are_registered_in_order_once(self):
        """parameters() lists each parameter once, in registration order, children included."""
        shared = nn.Linear(2, 2)
        model = nn.Sequential(shared, nn.ReLU(), shared)
        assert model.parameters() == [shared.W, shared.b]

    def test_custom_module(self):
        """A subclass registers Tensor attributes that require grad, and child modules."""

        class Affine(nn.Module):
            def __init__(self):
                super().__init__()
                self.scale = Tensor(np.ones((2, 1)), requires_grad=True)
                self.constant = Tensor(np.zeros((2, 1)))  # not a parameter
                self.inner = nn.Linear(2, 2, dtype=np.float64)

            def forward(self, x):
                return self.inner(x) * self.scale

        model = Affine()
        assert [name for name, _ in model.named_parameters()] == ["scale", "inner.W", "inner.b"]
        assert model(np.ones((2, 3))).shape == (2, 3)

    def test_zero_grad(self):
        """zero_grad() sets every parameter's grad to None."""
        model = nn.MLP([3, 2, 2])
        nn.softmax_cross_entropy(model(np.ones((3, 2), dtype=np.float32)), np.eye(2)).backward()
        assert all(p.grad is not None for p in model.parameters())
        model.zero_grad()
        assert all(p.grad is None for p in model.parameters())

    def test_sequential_indexing(self):
        """Sequential supports len, indexing and iteration over its modules."""
        a, b = nn.Linear(2, 3), nn.Tanh()
        model = nn.Sequential(a, b)
        assert len(model) == 2 and model[0] is a and model[-1] is b and list(model) == [a, b]

    def test_repr_lists_children(self):
        """repr shows the module tree."""
        text = repr(nn.MLP([3, 4, 2]))
        assert "(layers): Sequential" in text and "(0): Linear(3, 4" in text and "(1): ReLU()" in text


class TestStateDict:
    def test_round_trip(self):
        """load_state_dict(state_dict()) of another network makes the two compute the same thing."""
        a, b = nn.MLP([3, 4, 2], rng=0), nn.MLP([3, 4, 2], rng=1)
        x = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
        assert not np.array_equal(a(x).data, b(x).data)
        b.load_state_dict(a.state_dict())
        np.testing.assert_array_equal(a(x).data, b(x).data)

    def test_state_dict_is_a_copy(self):
        """Changing the model after state_dict() does not change the saved arrays."""
        model = nn.MLP([3, 2])
        state = model.state_dict()
        before = state["layers.0.W"].copy()
        model.layers[0].W.data = np.zeros((2, 3), dtype=np.float32)
        np.testing.assert_array_equal(state["layers.0.W"], before)

    def test_strict_keys_and_shapes(self):
        """Missing or unexpected keys (strict) and wrong shapes are errors that change nothing."""
        model = nn.MLP([3, 2])
        state = model.state_dict()
        with pytest.raises(KeyError, match="missing"):
            model.load_state_dict({"layers.0.W": state["layers.0.W"]})
        with pytest.raises(KeyError, match="unexpected"):
            model.load_state_dict({**state, "extra": np.zeros(1)})
        before = model.layers[0].b.data.copy()
        with pytest.raises(ValueError, match=re.escape("(3, 2)")):
            model.load_state_dict({"layers.0.b": np.ones((2, 1)), "layers.0.W": np.zeros((3, 2))})
        np.testing.assert_array_equal(model.layers[0].b.data, before)

    def test_loading_keeps_the_parameter_dtype(self):
        """float64 arrays loaded into a float32 model are stored as float32."""
        model = nn.MLP([3, 2])
        model.load_state_dict({k: v.astype(np.float64) for k, v in model.state_dict().items()})
        assert all(p.dtype == np.float32 for p in model.parameters())

    def test_save_and_load_npz(self, tmp_path):
        """save() writes an .npz of the state dict and load() restores it."""
        a, b = nn.MLP([3, 4, 2], rng=0), nn.MLP([3, 4, 2], rng=1)
        path = tmp_path / "model.npz"
        a.save(path)
        with np.load(path) as archive:
            assert sorted(archive.files) == sorted(name for name, _ in a.named_parameters())
        b.load(path)
        for p, q in zip(a.parameters(), b.parameters()):
            np.testing.assert_array_equal(p.data, q.data)
