"""nn.Module, Sequential, Linear and MLP: parameters, names, scopes, initialisation, saving."""

import copy
import pickle
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

    def test_scope_is_restored_when_a_nested_forward_raises(self):
        """A layer that raises deep inside a model leaves the thread's scope as it was: the
        next node recorded outside any module carries no scope, and the next model call
        records under its own paths, not under the failed call's."""
        model = nn.MLP([4, 3, 2])
        with pytest.raises(ValueError, match="Linear"):
            model(np.ones((5, 2), dtype=np.float32))  # 5 rows for a layer of 4 inputs
        assert (Tensor(np.ones(2), requires_grad=True) * 2).scope is None
        out = model(np.ones((4, 2), dtype=np.float32))
        assert out.scope == "layers.2"
        assert {node.scope for node in recorded_nodes(out)} == {"layers.0", "layers.1", "layers.2"}


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


class Stack(nn.Module):
    """A network keeping its layers in a ModuleList, filled after assignment (the usual pattern)."""

    def __init__(self, sizes, rng=0):
        super().__init__()
        generator = np.random.default_rng(rng)
        self.layers = nn.ModuleList()
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            self.layers.append(nn.Linear(n_in, n_out, dtype=np.float64, rng=generator))

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = nn.relu(layer(x))
        return self.layers[-1](x)


class TestPlainContainersAreRejected:
    def test_plain_list_of_modules_raises_at_assignment(self):
        """self.layers = [Linear, ...] raises a TypeError naming the attribute and nn.ModuleList."""

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = [nn.Linear(2, 2), nn.Linear(2, 2)]

        with pytest.raises(TypeError, match=r"Net\.layers: a plain list of modules.*nn\.ModuleList"):
            Net()

    def test_plain_dict_and_tuple_raise_too(self):
        """A dict points at nn.ModuleDict; a tuple or a nested list at nn.ModuleList."""
        model = nn.Sequential()
        with pytest.raises(TypeError, match=r"nn\.ModuleDict"):
            model.heads = {"a": nn.Linear(2, 2)}
        with pytest.raises(TypeError, match=r"nn\.ModuleList"):
            model.blocks = (nn.Linear(2, 2),)
        with pytest.raises(TypeError, match=r"nn\.ModuleList"):
            model.blocks = [[nn.Linear(2, 2)]]

    def test_plain_list_of_parameters_raises(self):
        """A list of parameters would not be trained either; the message says how to register them."""
        model = nn.Sequential()
        with pytest.raises(TypeError, match="plain list of parameters.*one attribute per parameter"):
            model.weights = [Tensor(np.ones(2), requires_grad=True)]

    def test_list_filled_after_assignment_raises_in_parameters(self):
        """self.layers = [] then append(...) cannot be caught at assignment: parameters() raises."""

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = []
                self.layers.append(nn.Linear(2, 2))

        with pytest.raises(TypeError, match=r"Net\.layers.*nn\.ModuleList"):
            Net().parameters()

    def test_lists_of_registered_modules_and_plain_data_are_fine(self):
        """Shortcuts to registered layers, and lists of numbers or constants, are allowed."""
        model = Stack([3, 4, 2])
        model.first_and_last = [model.layers[0], model.layers[-1]]
        model.sizes = [3, 4, 2]
        model.constants = {"scale": Tensor(np.ones(2))}
        assert len(model.parameters()) == 4


class TestModuleList:
    def test_parameters_are_found_and_named_by_path(self):
        """ModuleList children's parameters are in parameters(), state_dict() and Tensor.name."""
        model = Stack([3, 4, 4, 2])
        names = [name for name, _ in model.named_parameters()]
        assert names == ["layers.0.W", "layers.0.b", "layers.1.W", "layers.1.b", "layers.2.W", "layers.2.b"]
        assert [p.name for p in model.parameters()] == names
        assert list(model.state_dict()) == names
        assert model.parameters()[4] is model.layers[2].W

    def test_an_optimizer_trains_every_layer(self):
        """One SGD step through the ModuleList changes every layer's weights."""
        model = Stack([3, 4, 2])
        before = [p.data.copy() for p in model.parameters()]
        optimizer = nn.optim.SGD(model.parameters(), lr=0.1)
        x = np.random.default_rng(0).normal(size=(3, 5))
        nn.softmax_cross_entropy(model(x), np.eye(2)[:, [0, 1, 1, 0, 1]]).backward()
        optimizer.step()
        assert all(not np.array_equal(p.data, q) for p, q in zip(model.parameters(), before))

    def test_nodes_are_recorded_under_the_list_path(self):
        """self.layers[i](x) records its nodes under the scope layers.i (the list is never called)."""
        model = Stack([3, 4, 2])
        out = model(np.ones((3, 2)))
        linear_scopes = {node.scope for node in recorded_nodes(out) if node.op.name == "linear"}
        assert linear_scopes == {"layers.0", "layers.1"}
        relu_scopes = {node.scope for node in recorded_nodes(out) if node.op.name == "relu"}
        assert relu_scopes == {None}

    def test_rendered_graph_draws_one_cluster_per_listed_layer(self):
        """The DOT source of y.draw() has a cluster layers.i per layer, holding its W and b."""
        model = Stack([3, 4, 4, 2])
        source = model(np.ones((3, 2))).sum().draw().source
        for index in range(3):
            assert f'subgraph "cluster_layers.{index}"' in source
            cluster = source.split(f'subgraph "cluster_layers.{index}"')[1].split("subgraph")[0]
            assert f"layers.{index}.W" in cluster and f"layers.{index}.b" in cluster

    def test_nested_containers_and_sequentials_get_full_paths(self):
        """A Sequential inside a ModuleList inside a ModuleDict is named and scoped heads.a.0.1..."""
        model = nn.Sequential()
        model.heads = nn.ModuleDict({"a": nn.ModuleList([nn.Sequential(nn.ReLU(), nn.Linear(2, 2))])})
        assert [name for name, _ in model.named_parameters()] == ["heads.a.0.1.W", "heads.a.0.1.b"]
        out = model.heads["a"][0](np.ones((2, 3), dtype=np.float32))
        assert out.scope == "heads.a.0.1"

    def test_list_operations_renumber_children(self):
        """Deletion, insertion and assignment renumber the children; names and scopes follow."""
        model = Stack([2, 2, 2, 2])
        first, second, third = list(model.layers)
        del model.layers[0]
        assert list(model.layers) == [second, third]
        assert second.W.name == "layers.0.W" and third.W.name == "layers.1.W"
        assert first.W.name == "W"  # a removed layer's names are its own again
        new = nn.Linear(2, 2, dtype=np.float64)
        model.layers.insert(1, new)
        assert [name for name, _ in model.named_parameters()][2:4] == ["layers.1.W", "layers.1.b"]
        assert third.W.name == "layers.2.W" and third(np.ones((2, 1))).scope == "layers.2"
        model.layers[0] = first
        assert first.W.name == "layers.0.W" and second.W.name == "W"
        assert len(model.layers) == 3 and model.layers[-1] is third and model.layers[1:] == [new, third]
        with pytest.raises(IndexError, match="out of range"):
            model.layers[3]
        with pytest.raises(TypeError):
            model.layers.append(np.ones(2))

    def test_a_container_is_not_called(self):
        """Calling a ModuleList is an error pointing at its modules (or Sequential)."""
        with pytest.raises(NotImplementedError, match="Sequential"):
            nn.ModuleList([nn.ReLU()])(np.ones(2))


class TestModuleDict:
    def test_modules_by_key(self):
        """A ModuleDict names its children by key, keeps their order and acts as a mapping."""
        model = nn.Sequential()
        model.heads = nn.ModuleDict({"digit": nn.Linear(4, 10), "parity": nn.Linear(4, 1)})
        model.heads["extra"] = nn.Linear(4, 2)
        assert [name for name, _ in model.named_parameters()] == [
            "heads.digit.W",
            "heads.digit.b",
            "heads.parity.W",
            "heads.parity.b",
            "heads.extra.W",
            "heads.extra.b",
        ]
        assert list(model.heads) == ["digit", "parity", "extra"] and "parity" in model.heads
        assert model.heads["digit"](np.ones((4, 1), dtype=np.float32)).scope == "heads.digit"
        removed = model.heads.pop("parity")
        assert removed.W.name == "W" and len(model.heads) == 2
        with pytest.raises(KeyError, match="digit"):
            model.heads["parity"]

    def test_keys_that_are_method_names_do_not_shadow_methods(self):
        """Keys such as 'train' or 'training' are stored as children, not as attributes."""
        heads = nn.ModuleDict({"train": nn.ReLU(), "training": nn.Tanh()})
        assert heads.training is True and heads.train() is heads
        assert isinstance(heads["training"], nn.Tanh)


class TestModes:
    def test_train_and_eval_propagate_and_return_self(self):
        """eval()/train() set training on every module below, containers included, and return self."""
        model = nn.Sequential()
        model.blocks = nn.ModuleList([nn.MLP([2, 3, 2], dropout=0.5), nn.Dropout(0.1)])
        assert all(module.training for module in model.modules())
        assert model.eval() is model
        assert len(model.modules()) == 9 and not any(module.training for module in model.modules())
        assert model.train() is model and all(module.training for module in model.modules())
        model.blocks.train(False)
        assert model.training and not model.blocks[0].layers[2].training
        with pytest.raises(TypeError):
            model.train("no")


class TestLoadStateDictChecks:
    def test_complex_array_is_rejected(self):
        """A complex array is a TypeError naming the key: the imaginary part is never dropped."""
        model = nn.MLP([3, 2])
        state = model.state_dict()
        state["layers.0.b"] = state["layers.0.b"] + 1j
        before = model.layers[0].b.data.copy()
        with pytest.raises(TypeError, match=r"layers\.0\.b.*complex"):
            model.load_state_dict(state)
        np.testing.assert_array_equal(model.layers[0].b.data, before)

    def test_missing_and_unexpected_keys_are_named(self):
        """The KeyError lists each missing and each unexpected key."""
        model = nn.MLP([3, 2])
        state = model.state_dict()
        state["layers.1.W"] = state.pop("layers.0.W")
        with pytest.raises(
            KeyError, match=r"missing keys \['layers\.0\.W'\].*unexpected keys \['layers\.1\.W'\]"
        ):
            model.load_state_dict(state)

    def test_values_beyond_float32_are_rejected(self):
        """float64 values that would overflow a float32 parameter are an error, not infinities."""
        model = nn.MLP([3, 2])
        state = {k: v.astype(np.float64) for k, v in model.state_dict().items()}
        state["layers.0.W"][0, 0] = 1e300
        with pytest.raises(ValueError, match=r"layers\.0\.W.*float32"):
            model.load_state_dict(state)

    def test_strings_are_rejected(self):
        """Non-numeric arrays name the key and the dtype."""
        model = nn.MLP([1, 1])
        with pytest.raises(TypeError, match=r"layers\.0\.b"):
            model.load_state_dict({"layers.0.W": np.ones((1, 1)), "layers.0.b": np.array([["x"]])})


class TestCopies:
    def test_deepcopy_and_pickle_keep_the_tree(self):
        """A copied network is independent, computes the same, and its containers still rename paths."""
        model = Stack([3, 4, 2])
        x = np.ones((3, 2))
        for copied in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
            np.testing.assert_array_equal(copied(x).data, model(x).data)
            assert all(p is not q for p, q in zip(copied.parameters(), model.parameters()))
            copied.layers.append(nn.Linear(2, 2, dtype=np.float64))
            assert copied.layers[2].W.name == "layers.2.W" and len(model.layers) == 2

    def test_copying_a_layer_leaves_its_network_behind(self):
        """copy.deepcopy(model.layers[0]) copies that layer only, and it is a network of its own."""
        model = Stack([3, 4, 2])
        layer = copy.deepcopy(model.layers[0])
        assert layer.W is not model.layers[0].W
        wrapper = nn.Sequential(layer)
        assert layer.W.name == "0.W" and model.layers[0].W.name == "layers.0.W"
        assert len(pickle.dumps(model.layers[0])) < len(pickle.dumps(model))
        assert wrapper[0] is layer
