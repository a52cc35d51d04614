"""The main job and training loops: accuracy, reproducibility, outputs, memory, float32 throughout."""

import json
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import nn
from autograd import state
from autograd.backward import toposort
from nn import train

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture(scope="module")
def digits():
    return nn.data.load_digits()


@pytest.fixture(scope="module")
def default_runs(digits):
    """The default configuration trained twice from the same seed."""
    return [train.train(train.Config(), digits) for _ in range(2)]


class TestDigitsTraining:
    def test_default_network_reaches_97_percent(self, default_runs):
        """The default MLP classifies at least 97% of the held-out digits correctly."""
        metrics = default_runs[0].metrics
        assert metrics["test_accuracy"] >= 0.97
        assert metrics["n_test"] == 359
        assert metrics["losses"]["per_epoch"][-1] < 0.1 * metrics["losses"]["per_epoch"][0]

    def test_training_is_reproducible_from_the_seed(self, default_runs):
        """Two runs from the same seed give the same losses, weights and accuracy."""
        first, second = default_runs
        assert first.metrics["losses"] == second.metrics["losses"]
        assert first.metrics["test_accuracy"] == second.metrics["test_accuracy"]
        for p, q in zip(first.model.parameters(), second.model.parameters()):
            np.testing.assert_array_equal(p.data, q.data)

    def test_another_seed_gives_another_run(self, digits):
        """The seed matters: a different one changes the initial weights and the losses."""
        config = train.Config(epochs=1)
        a = train.train(config, digits).metrics["losses"]["per_step"]
        b = train.train(train.Config(epochs=1, seed=1), digits).metrics["losses"]["per_step"]
        assert a != b

    def test_sgd_with_momentum_and_tanh_also_learn(self, digits):
        """The other optimizer and activations train too (a short run gets well above chance)."""
        config = train.Config(hidden=(32,), activation="tanh", optimizer="sgd", lr=0.1, epochs=3)
        assert train.train(config, digits).metrics["test_accuracy"] > 0.85

    def test_dropout_and_weight_decay_train_and_evaluate_in_eval_mode(self, digits):
        """With dropout the network still learns; evaluation runs in eval mode (deterministic), and
        training leaves the model in training mode."""
        config = train.Config(hidden=(64,), epochs=3, dropout=0.3, weight_decay=1e-4, lr=3e-3)
        result = train.train(config, digits)
        assert result.metrics["test_accuracy"] > 0.85
        assert result.model.training and result.model.layers[2].p == 0.3
        x_test, y_test = digits[2], digits[3]
        assert train.evaluate(result.model, x_test, y_test) == train.evaluate(result.model, x_test, y_test)
        assert result.model.training

    def test_weight_decay_shrinks_the_weights(self, digits):
        """The same run with strong decoupled weight decay ends with smaller weights."""
        norms = []
        for decay in (0.0, 0.5):
            config = train.Config(hidden=(32,), epochs=2, optimizer="adamw", weight_decay=decay, lr=3e-3)
            model = train.train(config, digits).model
            norms.append(
                sum(float(np.sum(p.data**2)) for name, p in model.named_parameters() if name.endswith("W"))
            )
        assert norms[1] < 0.9 * norms[0]

    def test_binary_problem_uses_logit_cost(self):
        """On two moons a single-logit network reaches high accuracy."""
        config = train.Config(dataset="moons", hidden=(16, 16), lr=0.01, epochs=15)
        result = train.train(config)
        assert result.model.sizes == [2, 16, 16, 1]
        assert result.metrics["test_accuracy"] >= 0.95


class TestOutputs:
    def test_main_writes_metrics_graph_and_loss_curve(self, tmp_path, capsys):
        """main() prints the test accuracy and writes metrics.json, graph.svg and loss.png."""
        out = tmp_path / "run"
        metrics = train.main(["--out", str(out), "--epochs", "2", "--hidden", "16", "--no-progress"])
        printed = capsys.readouterr().out
        assert f"test accuracy: {metrics['test_accuracy']:.4f}" in printed
        saved = json.loads((out / "metrics.json").read_text())
        assert saved["test_accuracy"] == metrics["test_accuracy"]
        assert 0 <= saved["test_accuracy"] <= 1
        assert len(saved["losses"]["per_step"]) == 2 * 45 and len(saved["losses"]["per_epoch"]) == 2
        assert saved["timings"]["training_seconds"] > 0 and saved["timings"]["total_seconds"] > 0
        assert saved["config"]["hidden"] == [16]
        svg = (out / "graph.svg").read_text()
        assert svg.lstrip().startswith("<?xml") or "<svg" in svg[:500]
        for cluster in ("layers.0", "layers.1", "layers.2", "cost"):
            assert f"cluster_{cluster}" in svg
        for name in ("layers.0.W", "layers.0.b", "layers.2.W", "layers.2.b"):
            assert name in svg
        assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    def test_command_line_entry_point(self, tmp_path):
        """`python -m nn.train` runs as a module with its flags and prints the test accuracy."""
        out = tmp_path / "cli"
        completed = subprocess.run(
            [
                sys.executable,
                "-W",
                "error::RuntimeWarning",
                "-m",
                "nn.train",
                "--out",
                str(out),
                "--epochs",
                "1",
                "--hidden",
                "8",
                "--optimizer",
                "sgd",
                "--lr",
                "0.1",
                "--batch-size",
                "64",
                "--seed",
                "3",
                "--no-progress",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        assert "test accuracy:" in completed.stdout
        saved = json.loads((out / "metrics.json").read_text())
        assert saved["config"] == {
            "dataset": "digits",
            "hidden": [8],
            "activation": "relu",
            "optimizer": "sgd",
            "lr": 0.1,
            "momentum": 0.9,
            "epochs": 1,
            "batch_size": 64,
            "seed": 3,
            "weight_decay": 0.0,
            "schedule": "constant",
            "dropout": 0.0,
            "compile": True,
        }
        assert len(saved["losses"]["per_step"]) == 23  # ceil(1438 / 64)

    def test_regularisation_flags_are_recorded(self, tmp_path):
        """--weight-decay, --schedule cosine and --dropout reach the run and metrics.json records them."""
        out = tmp_path / "regularised"
        flags = ["--epochs", "3", "--hidden", "16", "--no-progress", "--optimizer", "adamw"]
        flags += ["--weight-decay", "0.05", "--schedule", "cosine", "--dropout", "0.2", "--lr", "0.01"]
        metrics = train.main(["--out", str(out), *flags])
        saved = json.loads((out / "metrics.json").read_text())
        assert saved["config"]["weight_decay"] == 0.05
        assert saved["config"]["schedule"] == "cosine" and saved["config"]["dropout"] == 0.2
        assert saved["config"]["optimizer"] == "adamw"
        # Cosine annealing over the 3 epochs, stepped once per epoch: lr_e = lr (1 + cos(π e / 3)) / 2.
        expected = [0.01 * (1 + np.cos(np.pi * e / 3)) / 2 for e in range(3)]
        np.testing.assert_allclose(saved["learning_rate_per_epoch"], expected, rtol=1e-12)
        assert saved["sizes"] == [64, 16, 10] and metrics["test_accuracy"] > 0.5
        assert "cluster_layers.2" in (out / "graph.svg").read_text()  # the dropout layer

    def test_default_output_folder_is_fresh(self, tmp_path):
        """Each run gets a new folder under runs/, even within the same second."""
        first = train.fresh_run_dir(tmp_path / "runs", "digits")
        second = train.fresh_run_dir(tmp_path / "runs", "digits")
        assert first != second and first.is_dir() and second.is_dir()
        assert first.parent == tmp_path / "runs" and first.name.startswith("digits-")


def tiny_problem(m=32):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, m)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[:, rng.integers(0, 3, m)]
    return x, y


def test_memory_stays_flat_over_a_long_training_loop():
    """2,000 steps of a tiny MLP: traced memory grows by less than 1 MB after warm-up."""
    x, y = tiny_problem()
    model = nn.MLP([4, 8, 3], rng=0)
    optimizer = nn.optim.Adam(model.parameters(), lr=1e-2)
    batches = nn.data.Batches(x, y, batch_size=8, seed=0)

    def steps(n):
        done = 0
        while done < n:
            for xb, yb in batches:
                optimizer.zero_grad()
                cost = nn.softmax_cross_entropy(model(xb), yb)
                cost.backward()
                optimizer.step()
                cost.item()
                done += 1

    tracemalloc.start()
    try:
        steps(100)
        early, _ = tracemalloc.get_traced_memory()
        steps(1900)
        late, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert late - early < 1_000_000


class DtypeWatcher:
    """An engine observer that records the dtype of every forward output, tangent and gradient."""

    def __init__(self):
        self.dtypes = []

    def on_apply(self, prim, inputs, out):
        self.dtypes.append((f"forward {prim.name}", out.data.dtype))

    def on_backward(self, root):
        pass

    def on_vjp(self, node, index, g):
        self.dtypes.append((f"vjp {node.op.name}", g.dtype))


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_float32_network_never_creates_float64(activation, optimizer):
    """Forward, backward and the optimizer step of a float32 network make float32 arrays only."""
    x, y = tiny_problem(8)
    model = nn.MLP([4, 5, 3], activation=activation, rng=0)
    config = train.Config(optimizer=optimizer, lr=0.01, weight_decay=1e-3)
    opt = train.make_optimizer(config, model.parameters())
    watcher = DtypeWatcher()
    with state.observing(watcher):
        for _ in range(2):
            opt.zero_grad()
            z = model(x)
            cost = nn.softmax_cross_entropy(z, y)
            # Each VJP rule's raw output, before backward casts it to the input's dtype.
            for node in toposort(cost):
                args = tuple(p.data for p in node.parents) + node.static
                for i, parent in enumerate(node.parents):
                    if parent.requires_grad:
                        g = node.op.vjps[i](np.ones_like(node.data), node.data, *args)
                        watcher.dtypes.append((f"raw vjp {node.op.name}", np.asarray(g).dtype))
            cost.backward()
            opt.step()
    wrong = sorted({where for where, dtype in watcher.dtypes if dtype != np.float32})
    assert not wrong, f"float64 arrays from: {wrong}"
    assert len(watcher.dtypes) > 30  # the fused layers and cost keep the graph small
    for p in model.parameters():
        assert p.dtype == np.float32 and p.grad.dtype == np.float32
    buffers = [
        value for entry in opt.state.values() for value in entry.values() if isinstance(value, np.ndarray)
    ]
    assert len(buffers) >= len(model.parameters())
    assert all(array.dtype == np.float32 for array in buffers)


def test_binary_cost_float32_never_creates_float64():
    """The logit binary cross-entropy of a float32 network stays float32 too."""
    x, _ = tiny_problem(8)
    y = (x[:1] > 0).astype(np.float32)
    model = nn.MLP([4, 5, 1], rng=0)
    watcher = DtypeWatcher()
    with state.observing(watcher):
        nn.binary_cross_entropy_with_logits(model(x), y).backward()
        nn.binary_cross_entropy(nn.sigmoid(model(x)), y).backward()
    assert {dtype for _, dtype in watcher.dtypes} == {np.dtype(np.float32)}
