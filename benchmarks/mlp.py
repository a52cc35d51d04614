"""Benchmarks 1 and 3: the MLP training step, and the cheap-gradient ratio.

Every contender implements the same step on the same data from the same initial parameters:
``Z[l] = W[l] A[l-1] + b[l]``, ReLU hidden, softmax cross-entropy from the logits (max-shifted),
backward, then ``W <- W - lr dW``. Examples are columns and everything is float32. Before any
timing, each contender takes one step from the common start and its parameters are compared
with the hand-written NumPy step's, so a contender that computes something else cannot win.

The engine contender is built from engine operations directly (``Tensor``, ``@``, ``+``,
``relu``, ``exp``, ``log``, ``sum``), the way a user of ``autograd`` alone writes it; a second
engine contender uses ``nn`` when ``nn.Linear``, ``nn.softmax_cross_entropy`` and
``nn.optim.SGD`` exist.
"""

from __future__ import annotations

import importlib
import math

import numpy as np

from . import handwritten as hand
from .timing import interleave, median, paired_ratio

BASELINE = "NumPy by hand"


class Unavailable(Exception):
    """A contender that cannot run here (peer not installed, feature missing)."""


# ---------------------------------------------------------------------------------------------
# Contenders: .step(), .forward() (loss only), .forward_backward() (loss and grads), .parameters()
# ---------------------------------------------------------------------------------------------


class HandNumPy:
    name = BASELINE

    def __init__(self, params, X, Y, lr):
        self.params = [p.copy() for p in params]
        self.X, self.Y, self.lr = X, Y, lr

    def step(self):
        hand.mlp_step(self.params, self.X, self.Y, self.lr)

    def forward(self):
        return hand.mlp_loss(self.params, self.X, self.Y)

    def forward_backward(self):
        return hand.mlp_grads(self.params, self.X, self.Y)

    def parameters(self):
        return self.params


class Vecgrad:
    """The step written with engine operations, as a user of ``autograd`` alone would."""

    name = "vecgrad primitives"

    def __init__(self, params, X, Y, lr):
        from autograd import Tensor

        self.params = [Tensor(p, requires_grad=True) for p in params]
        self.X, self.Y = Tensor(X), Tensor(Y)
        self.lr = lr

    def loss(self):
        A = self.X
        n_layers = len(self.params) // 2
        for l in range(n_layers):
            Z = self.params[2 * l] @ A + self.params[2 * l + 1]
            A = Z.relu() if l < n_layers - 1 else Z
        # Softmax is unchanged by a per-column shift, so the max is subtracted as a constant.
        S = Z - Z.data.max(axis=0, keepdims=True)
        log_total = S.exp().sum(axis=0, keepdims=True).log()
        return -(self.Y * (S - log_total)).sum() / S.shape[1]

    def step(self):
        self.loss().backward()
        lr = self.lr
        for p in self.params:
            p.data = p.data - lr * p.grad
            p.grad = None

    def forward(self):
        return self.loss()

    def forward_backward(self):
        self.loss().backward()
        for p in self.params:
            p.grad = None

    def parameters(self):
        return [p.data for p in self.params]


class VecgradFused(Vecgrad):
    """The same step with the fused primitives ``autograd.linear`` and ``softmax_cross_entropy``."""

    name = "vecgrad fused"

    def __init__(self, params, X, Y, lr):
        try:
            from autograd import linear, softmax_cross_entropy
        except ImportError as error:
            raise Unavailable(f"autograd has no fused primitives ({error})") from None
        self._linear, self._cost = linear, softmax_cross_entropy
        super().__init__(params, X, Y, lr)

    def loss(self):
        A = self.X
        n_layers = len(self.params) // 2
        for l in range(n_layers):
            Z = self._linear(self.params[2 * l], A, self.params[2 * l + 1])
            A = Z.relu() if l < n_layers - 1 else Z
        return self._cost(Z, self.Y)


class VecgradNN:
    """The step with ``nn``: Sequential of Linear/ReLU, softmax_cross_entropy, optim.SGD."""

    name = "vecgrad nn"

    def __init__(self, params, X, Y, lr):
        try:
            nn = importlib.import_module("nn")
            layers = []
            for l in range(len(params) // 2):
                W = params[2 * l]
                if l:
                    layers.append(nn.ReLU())
                layers.append(nn.Linear(W.shape[1], W.shape[0], dtype=np.float32))
            self.model = nn.Sequential(*layers)
            linears = [m for m in layers if isinstance(m, nn.Linear)]
            for layer, W, b in zip(linears, params[0::2], params[1::2]):
                layer.W.data = W
                layer.b.data = b
            self.loss_fn = nn.softmax_cross_entropy
            self.optimizer = nn.optim.SGD(self.model.parameters(), lr)
            from autograd import Tensor
        except (ImportError, AttributeError, TypeError) as error:
            raise Unavailable(f"nn is not complete yet ({error})") from None
        self.linears = linears
        self.X, self.Y = Tensor(X), Tensor(Y)

    def step(self):
        self.optimizer.zero_grad()
        self.loss_fn(self.model(self.X), self.Y).backward()
        self.optimizer.step()

    def forward(self):
        return self.loss_fn(self.model(self.X), self.Y)

    def forward_backward(self):
        self.optimizer.zero_grad()
        self.loss_fn(self.model(self.X), self.Y).backward()

    def parameters(self):
        out = []
        for layer in self.linears:
            out += [layer.W.data, layer.b.data]
        return out


class VecgradCompiled(VecgradFused):
    """The fused step (``autograd.linear``, ``softmax_cross_entropy``) and ``nn.optim.SGD`` under
    ``autograd.compile``: recorded on the first call, replayed as NumPy kernels after."""

    name = "vecgrad compiled"

    def __init__(self, params, X, Y, lr):
        super().__init__(params, X, Y, lr)
        try:
            from autograd import compile
            from nn.optim import SGD
        except ImportError as error:
            raise Unavailable(f"no autograd.compile ({error})") from None
        self.optimizer = SGD(self.params, lr)

        def step(X, Y):
            self.optimizer.zero_grad()
            loss = self.loss_of(X, Y)
            loss.backward()
            self.optimizer.step()
            return loss

        def forward_backward(X, Y):
            self.optimizer.zero_grad()
            loss = self.loss_of(X, Y)
            loss.backward()
            return loss

        self._step = compile(step)
        self._forward = compile(self.loss_of)
        self._forward_backward = compile(forward_backward)

    def loss_of(self, X, Y):
        A = X
        n_layers = len(self.params) // 2
        for l in range(n_layers):
            Z = self._linear(self.params[2 * l], A, self.params[2 * l + 1])
            A = Z.relu() if l < n_layers - 1 else Z
        return self._cost(Z, Y)

    def step(self):
        self._step(self.X, self.Y)

    def forward(self):
        return self._forward(self.X, self.Y)

    def forward_backward(self):
        return self._forward_backward(self.X, self.Y)


class VecgradNNCompiled(VecgradNN):
    """The ``nn`` step under ``autograd.compile``."""

    name = "vecgrad nn compiled"

    def __init__(self, params, X, Y, lr):
        super().__init__(params, X, Y, lr)
        try:
            from autograd import compile
        except ImportError as error:
            raise Unavailable(f"no autograd.compile ({error})") from None
        eager_step = super().step
        eager_forward = super().forward
        eager_forward_backward = super().forward_backward
        self._step = compile(lambda X, Y: self._run(eager_step, X, Y))
        self._forward = compile(lambda X, Y: self._run(eager_forward, X, Y))
        self._forward_backward = compile(lambda X, Y: self._run(eager_forward_backward, X, Y))

    def _run(self, eager, X, Y):
        saved = self.X, self.Y
        self.X, self.Y = X, Y
        try:
            return eager()
        finally:
            self.X, self.Y = saved

    def step(self):
        self._step(self.X, self.Y)

    def forward(self):
        return self._forward(self.X, self.Y)

    def forward_backward(self):
        return self._forward_backward(self.X, self.Y)


class Torch:
    """PyTorch eager on CPU, one thread, written the way its users write it."""

    name = "PyTorch eager"

    def __init__(self, params, X, Y, lr):
        try:
            import torch
        except ImportError:
            raise Unavailable("torch is not installed (pip install -e '.[bench]')") from None
        torch.set_num_threads(1)
        self.torch = torch
        self.params = [torch.tensor(p, requires_grad=True) for p in params]
        self.X, self.Y = torch.from_numpy(X), torch.from_numpy(Y)
        self.lr = lr

    def loss(self):
        torch = self.torch
        A = self.X
        n_layers = len(self.params) // 2
        for l in range(n_layers):
            Z = self.params[2 * l] @ A + self.params[2 * l + 1]
            A = torch.relu(Z) if l < n_layers - 1 else Z
        return -(self.Y * torch.log_softmax(Z, dim=0)).sum() / Z.shape[1]

    def step(self):
        self.loss().backward()
        with self.torch.no_grad():
            for p in self.params:
                p -= self.lr * p.grad
                p.grad = None

    def forward(self):
        return self.loss()

    def forward_backward(self):
        self.loss().backward()
        for p in self.params:
            p.grad = None

    def parameters(self):
        return [p.detach().numpy() for p in self.params]


class TorchCompile(Torch):
    """PyTorch with the cost compiled by ``torch.compile`` (backward through its compiled graph)."""

    name = "torch.compile"

    def __init__(self, params, X, Y, lr):
        super().__init__(params, X, Y, lr)
        try:
            self._compiled = self.torch.compile(super().loss)
            self._compiled()
        except Exception as error:  # no C++ compiler, unsupported platform...
            raise Unavailable(f"torch.compile does not run here ({type(error).__name__}: {error})") from None

    def loss(self):
        return self._compiled()


class Jax:
    """JAX with the whole step under ``jax.jit`` (one compiled XLA program per step)."""

    name = "JAX jit"

    def __init__(self, params, X, Y, lr):
        try:
            import jax
            import jax.numpy as jnp
        except ImportError:
            raise Unavailable("jax is not installed (pip install -e '.[bench]')") from None

        def loss(params, X, Y):
            A = X
            n_layers = len(params) // 2
            for l in range(n_layers):
                Z = params[2 * l] @ A + params[2 * l + 1]
                A = jax.nn.relu(Z) if l < n_layers - 1 else Z
            return -(Y * jax.nn.log_softmax(Z, axis=0)).sum() / Z.shape[1]

        def step(params, X, Y):
            grads = jax.grad(loss)(params, X, Y)
            return [p - lr * g for p, g in zip(params, grads)]

        self.jax = jax
        self._loss = jax.jit(loss)
        self._value_and_grad = jax.jit(jax.value_and_grad(loss))
        self._step = jax.jit(step)
        self.params = [jnp.asarray(p) for p in params]
        self.X, self.Y = jnp.asarray(X), jnp.asarray(Y)

    def step(self):
        self.params = self._step(self.params, self.X, self.Y)
        self.jax.block_until_ready(self.params)

    def forward(self):
        return self._loss(self.params, self.X, self.Y).block_until_ready()

    def forward_backward(self):
        return self.jax.block_until_ready(self._value_and_grad(self.params, self.X, self.Y))

    def parameters(self):
        return [np.asarray(p) for p in self.params]


class Micrograd:
    """Karpathy's micrograd (scalar ``Value`` nodes), on a few columns of the batch.

    micrograd has no exp or log; the two nodes are added here in micrograd's own style (data,
    children, a ``_backward`` closure). Its cost is linear in the number of columns (each
    column is an independent scalar graph), so the step time for the whole batch is the time
    for ``columns`` columns times ``m / columns``, and is reported as extrapolated.
    """

    name = "micrograd"
    columns = 2

    def __init__(self, params, X, Y, lr):
        try:
            from micrograd.engine import Value
        except ImportError:
            raise Unavailable("micrograd is not installed (pip install -e '.[bench]')") from None
        self.Value = Value
        self.scale = X.shape[1] / self.columns
        self.m = X.shape[1]
        self.X = X[:, : self.columns].astype(float).tolist()
        self.Y = Y[:, : self.columns].astype(float).tolist()
        self.weights = [[[Value(float(w)) for w in row] for row in W] for W in params[0::2]]
        self.biases = [[Value(float(b)) for b in B[:, 0]] for B in params[1::2]]
        self.lr = lr

    def _exp(self, v):
        out = self.Value(math.exp(v.data), (v,), "exp")

        def _backward():
            v.grad += out.data * out.grad

        out._backward = _backward
        return out

    def _log(self, v):
        out = self.Value(math.log(v.data), (v,), "log")

        def _backward():
            v.grad += out.grad / v.data

        out._backward = _backward
        return out

    def loss(self):
        total = 0.0
        n_layers = len(self.weights)
        for j in range(self.columns):
            a = [row[j] for row in self.X]
            for l, (W, B) in enumerate(zip(self.weights, self.biases)):
                z = [sum((w * x for w, x in zip(row, a)), b) for row, b in zip(W, B)]
                a = [v.relu() for v in z] if l < n_layers - 1 else z
            shift = max(v.data for v in a)
            s = [v - shift for v in a]
            log_total = self._log(sum(self._exp(v) for v in s))
            total = total + sum(y[j] * (v - log_total) for y, v in zip(self.Y, s))
        # The mean over the whole batch of m columns, as in every other contender.
        return total * (-1.0 / self.m)

    def step(self):
        self.loss().backward()
        for p in self._all():
            p.data -= self.lr * p.grad
            p.grad = 0

    def _all(self):
        for W, B in zip(self.weights, self.biases):
            for row in W:
                yield from row
            yield from B

    def parameters(self):
        out = []
        for W, B in zip(self.weights, self.biases):
            out.append(np.array([[v.data for v in row] for row in W], dtype=np.float32))
            out.append(np.array([[v.data] for v in B], dtype=np.float32))
        return out


CONTENDERS = (
    HandNumPy,
    Vecgrad,
    VecgradFused,
    VecgradNN,
    VecgradCompiled,
    VecgradNNCompiled,
    Torch,
    TorchCompile,
    Jax,
    Micrograd,
)


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


def _check_same_step(contender, params, X, Y, lr, partial_batch: int | None = None) -> float:
    """One step from the common start; the largest relative difference from the hand step."""
    if partial_batch is None:
        reference = HandNumPy(params, X, Y, lr)
    else:
        # micrograd sees only the first columns but still divides by m: so must the reference.
        Xp, Yp = X[:, :partial_batch], Y[:, :partial_batch]
        reference = HandNumPy(params, Xp, Yp, lr * partial_batch / X.shape[1])
    reference.step()
    contender.step()
    worst = 0.0
    for ours, theirs in zip(reference.parameters(), contender.parameters()):
        theirs = np.asarray(theirs, dtype=np.float64)
        scale = max(np.abs(ours).max(), 1e-3)
        worst = max(worst, float(np.abs(theirs - ours).max() / scale))
    return worst


def build(size: str, contenders=CONTENDERS, notes: list | None = None) -> dict:
    """The contenders for one MLP size, each checked against the hand step; skipped ones noted."""
    sizes, m = hand.MLP_SIZES[size]
    params = hand.init_mlp(sizes)
    X, Y = hand.make_batch(sizes[0], sizes[-1], m)
    built = {}
    for cls in contenders:
        if cls is Micrograd and size != "small":
            continue
        try:
            probe = cls(params, X, Y, hand.LEARNING_RATE)
            partial = cls.columns if cls is Micrograd else None
            error = _check_same_step(probe, params, X, Y, hand.LEARNING_RATE, partial)
            if not error < 1e-3:
                raise Unavailable(f"its step differs from the hand-written one (relative error {error:.2g})")
            built[cls.name] = cls(params, X, Y, hand.LEARNING_RATE)
        except Unavailable as why:
            if notes is not None:
                notes.append(f"{cls.name} skipped ({size} MLP): {why}")
    return built


def run_steps(size: str, rounds: int, target_seconds: float, notes: list) -> dict:
    """Benchmark 1: seconds per training step of every contender, and ratios to the hand step."""
    built = build(size, notes=notes)
    scale = {}
    if "micrograd" in built:
        scale["micrograd"] = built["micrograd"].scale
        notes.append(
            f"micrograd: timed on {Micrograd.columns} of the {size} batch's columns and scaled by "
            f"{built['micrograd'].scale:g} (extrapolated: its cost is linear in the columns)"
        )
    slow = {name: c.step for name, c in built.items() if name == "micrograd"}
    fast = {name: c.step for name, c in built.items() if name != "micrograd"}
    times = interleave(fast, rounds, target_seconds)
    result = {
        "workload": f"{size} MLP step",
        "baseline": BASELINE,
        "seconds": {},
        "ratio": {},
        "extrapolated": [],
    }
    for name in fast:
        result["seconds"][name] = median(times[name])
        result["ratio"][name] = paired_ratio(times, name, BASELINE)
    if slow:
        # micrograd takes seconds per step: a few interleaved rounds against the baseline.
        times = interleave(
            {BASELINE: built[BASELINE].step, **slow}, max(3, rounds // 5), target_seconds, warmup=1
        )
        for name in slow:
            times[name] = [t * scale[name] for t in times[name]]
            result["seconds"][name] = median(times[name])
            result["ratio"][name] = paired_ratio(times, name, BASELINE)
            result["extrapolated"].append(name)
    return result


def run_cheap_gradient(size: str, rounds: int, target_seconds: float, notes: list) -> dict:
    """Benchmark 3: time(forward + backward) / time(forward), each contender on its own."""
    built = build(
        size,
        contenders=(HandNumPy, Vecgrad, VecgradFused, VecgradNN, VecgradCompiled, Torch, Jax),
        notes=None,
    )
    contenders = {}
    for name, c in built.items():
        contenders[f"{name}|fwd"] = c.forward
        contenders[f"{name}|fwd+bwd"] = c.forward_backward
    times = interleave(contenders, rounds, target_seconds)
    result = {"workload": f"(fwd+bwd)/fwd, {size} MLP", "forward": {}, "forward_backward": {}, "ratio": {}}
    for name in built:
        f, fb = times[f"{name}|fwd"], times[f"{name}|fwd+bwd"]
        result["forward"][name] = median(f)
        result["forward_backward"][name] = median(fb)
        result["ratio"][name] = median([b / a for a, b in zip(f, fb)])
    return result
