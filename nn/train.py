"""Train a multilayer perceptron: ``python -m nn.train [--out DIR] [options]``.

By default it trains a ReLU network 64-128-64-10 with Adam on the embedded digits data, shows a
progress bar, prints the test accuracy, and writes into ``--out`` (default: a fresh folder under
``runs/``):

* ``metrics.json``: ``test_accuracy``, ``train_accuracy``, the loss of every step and the mean
  loss of every epoch, timings, and the configuration;
* ``graph.svg``: the computation graph of the network and its cost, one cluster per layer;
* ``loss.png``: the training loss curve.

Regularisation and schedules: ``--weight-decay`` (L2 added to the gradient for ``sgd`` and
``adam``, decoupled for ``adamw``, as in PyTorch), ``--dropout p`` (a Dropout layer after each
hidden activation, active while training only) and ``--schedule cosine`` (the learning rate
annealed along half a cosine, stepped once per epoch, from ``--lr`` towards 0 at the end).

The run is reproducible from ``--seed``, which sets the initial weights, the dropout masks and the
order of the mini-batches (the train/test split of each dataset is fixed).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

import autograd
from autograd import Tensor, name_scope, no_grad

from . import data, optim
from .layers import ACTIVATION_MODULES, MLP
from .losses import binary_cross_entropy_with_logits, softmax_cross_entropy

DATASETS = ("digits", "moons", "spirals", "mnist")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine")


@dataclasses.dataclass
class Config:
    """Everything that determines a training run."""

    dataset: str = "digits"
    hidden: tuple[int, ...] = (128, 64)
    activation: str = "relu"
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    epochs: int = 40
    batch_size: int = 32
    seed: int = 0
    weight_decay: float = 0.0
    schedule: str = "constant"
    dropout: float = 0.0
    #: Record the training step once and replay it (autograd.compile): same numbers, faster.
    compile: bool = True


@dataclasses.dataclass
class Result:
    """A trained network and what was measured while training it."""

    model: MLP
    metrics: dict[str, Any]
    sample: tuple[np.ndarray, np.ndarray]  # a few training columns, to draw the graph with


def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train, Y_train, X_test, Y_test)`` for a dataset name, float32, examples as columns."""
    if name == "digits":
        return data.load_digits()
    if name == "moons":
        return data.load_moons()
    if name == "spirals":
        return data.load_spirals()
    if name == "mnist":
        return data.load_mnist()
    raise ValueError(f"unknown dataset {name!r}; choose one of {DATASETS}")


def cost(z: Tensor, y: np.ndarray) -> Tensor:
    """The cost from the logits: softmax cross-entropy for several classes, else binary.

    Its nodes are recorded under the scope ``cost``, so the graph picture groups them.
    """
    with name_scope("cost"):
        return softmax_cross_entropy(z, y) if y.shape[0] > 1 else binary_cross_entropy_with_logits(z, y)


def accuracy(z: np.ndarray, y: np.ndarray) -> float:
    """The fraction of columns whose predicted class (argmax, or logit >= 0 for one output) is right."""
    if y.shape[0] > 1:
        return float(np.mean(z.argmax(axis=0) == y.argmax(axis=0)))
    return float(np.mean((z >= 0) == (y >= 0.5)))


def evaluate(model: MLP, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``(cost, accuracy)`` of ``model`` on ``(x, y)`` in evaluation mode, without recording a graph."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            z = model(x)
            return cost(z, y).item(), accuracy(z.data, y)
    finally:
        model.train(was_training)


def make_optimizer(config: Config, parameters: list[Tensor]) -> optim.Optimizer:
    if config.optimizer == "adam":
        return optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return optim.SGD(parameters, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    raise ValueError(f"unknown optimizer {config.optimizer!r}; choose one of {OPTIMIZERS}")


def make_schedule(config: Config, optimizer: optim.Optimizer) -> optim.lr_scheduler.LRScheduler | None:
    """The learning-rate schedule, stepped once per epoch (None for a constant rate)."""
    if config.schedule == "constant":
        return None
    if config.schedule == "cosine":
        return optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    raise ValueError(f"unknown schedule {config.schedule!r}; choose one of {SCHEDULES}")


def train(config: Config, dataset: tuple | None = None, progress: bool = False) -> Result:
    """Train an MLP as ``config`` says, on ``dataset`` if given (else the one it names)."""
    started = time.perf_counter()
    x_train, y_train, x_test, y_test = dataset if dataset is not None else load_dataset(config.dataset)
    data_seconds = time.perf_counter() - started

    # Independent streams for the initial weights and the batch order, both from the one seed.
    init_seed, order_seed = np.random.SeedSequence(config.seed).spawn(2)
    sizes = [x_train.shape[0], *config.hidden, y_train.shape[0]]
    model = MLP(sizes, config.activation, rng=np.random.default_rng(init_seed), dropout=config.dropout)
    optimizer = make_optimizer(config, model.parameters())
    schedule = make_schedule(config, optimizer)
    batches = data.Batches(x_train, y_train, config.batch_size, shuffle=True, seed=order_seed)

    def train_step(x: Any, y: Any) -> Tensor:
        optimizer.zero_grad()
        loss = cost(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    step = autograd.compile(train_step) if config.compile else train_step

    step_losses: list[float] = []
    epoch_losses: list[float] = []
    epoch_seconds: list[float] = []
    epoch_learning_rates: list[float] = []
    bar = _progress_bar(config.epochs * len(batches), progress)
    training_started = time.perf_counter()
    model.train()
    for epoch in range(config.epochs):
        epoch_started = time.perf_counter()
        first = len(step_losses)
        epoch_learning_rates.append(float(optimizer.param_groups[0]["lr"]))
        for x, y in batches:
            loss = step(x, y)
            step_losses.append(loss.item())
            bar.update()
        epoch_losses.append(float(np.mean(step_losses[first:])))
        epoch_seconds.append(time.perf_counter() - epoch_started)
        if schedule is not None:
            schedule.step()
        bar.set_postfix(epoch=epoch + 1, loss=f"{epoch_losses[-1]:.4f}")
    bar.close()
    training_seconds = time.perf_counter() - training_started

    evaluation_started = time.perf_counter()
    train_loss, train_accuracy = evaluate(model, x_train, y_train)
    test_loss, test_accuracy = evaluate(model, x_test, y_test)
    evaluation_seconds = time.perf_counter() - evaluation_started

    metrics = {
        "test_accuracy": test_accuracy,
        "train_accuracy": train_accuracy,
        "test_loss": test_loss,
        "train_loss": train_loss,
        "losses": {"per_step": step_losses, "per_epoch": epoch_losses},
        "learning_rate_per_epoch": epoch_learning_rates,
        "timings": {
            "data_seconds": data_seconds,
            "training_seconds": training_seconds,
            "evaluation_seconds": evaluation_seconds,
            "per_epoch_seconds": epoch_seconds,
            "seconds_per_step": training_seconds / max(len(step_losses), 1),
        },
        "config": dataclasses.asdict(config),
        "sizes": sizes,
        "n_parameters": int(sum(p.size for p in model.parameters())),
        "n_train": int(x_train.shape[1]),
        "n_test": int(x_test.shape[1]),
    }
    return Result(model, metrics, (x_train[:, :4], y_train[:, :4]))


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="training", unit="step", disable=not enabled, file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------------------------


def fresh_run_dir(root: str | Path = "runs", dataset: str = "digits") -> Path:
    """A new, empty folder ``root/<dataset>-<date>-<time>`` (with a suffix if that one exists)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{dataset}-{stamp}"
    path, n = base, 1
    while True:
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")


def write_graph(result: Result, out: Path) -> Path:
    """Draw the graph of the cost of the network on a few training columns, as SVG."""
    from autograd import viz

    x, y = result.sample
    loss = cost(result.model(x), y)
    return Path(viz.render(loss, str(out / "graph"), format="svg"))


def write_loss_curve(metrics: dict[str, Any], path: Path) -> Path:
    """Plot the loss of every step and the mean loss of every epoch into a PNG file."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    step_losses = metrics["losses"]["per_step"]
    epoch_losses = metrics["losses"]["per_epoch"]
    steps_per_epoch = len(step_losses) / max(len(epoch_losses), 1)
    figure = Figure(figsize=(7, 4.2), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(np.arange(1, len(step_losses) + 1), step_losses, lw=0.6, alpha=0.5, label="mini-batch")
    axes.plot(
        np.arange(1, len(epoch_losses) + 1) * steps_per_epoch,
        epoch_losses,
        marker="o",
        ms=3,
        label="epoch mean",
    )
    axes.set_yscale("log")
    axes.set_xlabel("step")
    axes.set_ylabel("training cost J")
    config = metrics["config"]
    network = "-".join(map(str, metrics["sizes"]))
    axes.set_title(
        f"{config['dataset']}: {network} {config['activation']}, {config['optimizer']}"
        f" — test accuracy {metrics['test_accuracy']:.2%}"
    )
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    return path


def write_outputs(result: Result, out: Path) -> dict[str, str | None]:
    """Write ``loss.png``, ``graph.svg`` and ``metrics.json`` into ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    metrics = result.metrics
    started = time.perf_counter()
    files: dict[str, str | None] = {"loss_curve": str(write_loss_curve(metrics, out / "loss.png"))}
    try:
        files["graph"] = str(write_graph(result, out))
    except ImportError as error:  # the graph renderer is optional at run time
        print(f"warning: the computation graph was not drawn ({error})", file=sys.stderr)
        files["graph"] = None
    timings = metrics["timings"]
    timings["output_seconds"] = time.perf_counter() - started
    timings["total_seconds"] = sum(
        timings[key] for key in ("data_seconds", "training_seconds", "evaluation_seconds", "output_seconds")
    )
    metrics["files"] = {key: value and Path(value).name for key, value in files.items()}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return files


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> tuple[Config, argparse.Namespace]:
    defaults = Config()
    parser = argparse.ArgumentParser(prog="python -m nn.train", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: a fresh folder under runs/)"
    )
    parser.add_argument("--dataset", choices=DATASETS, default=defaults.dataset)
    parser.add_argument(
        "--hidden",
        type=int,
        nargs="*",
        default=list(defaults.hidden),
        metavar="N",
        help=f"hidden layer sizes (default: {' '.join(map(str, defaults.hidden))})",
    )
    parser.add_argument("--activation", choices=sorted(ACTIVATION_MODULES), default=defaults.activation)
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default=defaults.optimizer)
    parser.add_argument("--lr", type=float, default=defaults.lr, help="learning rate")
    parser.add_argument("--momentum", type=float, default=defaults.momentum, help="SGD momentum")
    parser.add_argument(
        "--weight-decay",
        type=float,
        default=defaults.weight_decay,
        help="weight decay λ (L2 for sgd and adam, decoupled for adamw)",
    )
    parser.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default=defaults.schedule,
        help="learning-rate schedule, stepped per epoch (cosine: annealed towards 0)",
    )
    parser.add_argument(
        "--dropout",
        type=float,
        default=defaults.dropout,
        metavar="P",
        help="dropout probability after each hidden activation (training only)",
    )
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--no-compile", action="store_true", help="run every step eagerly instead of replaying a recording"
    )
    args = parser.parse_args(argv)
    config = Config(
        dataset=args.dataset,
        hidden=tuple(args.hidden),
        activation=args.activation,
        optimizer=args.optimizer,
        lr=args.lr,
        momentum=args.momentum,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        weight_decay=args.weight_decay,
        schedule=args.schedule,
        dropout=args.dropout,
        compile=not args.no_compile,
    )
    return config, args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    config, args = parse_args(argv)
    result = train(config, progress=not args.no_progress)
    out = args.out if args.out is not None else fresh_run_dir("runs", config.dataset)
    files = write_outputs(result, out)
    metrics = result.metrics
    print(f"test accuracy: {metrics['test_accuracy']:.4f} ({metrics['n_test']} test examples)")
    written = ", ".join(
        str(path) for path in (out / "metrics.json", files["loss_curve"], files["graph"]) if path
    )
    print(f"wrote {written} ({metrics['timings']['total_seconds']:.1f} s in all)")
    return metrics


if __name__ == "__main__":
    main()
