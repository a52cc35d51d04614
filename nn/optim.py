"""Optimizers: update parameters from their accumulated gradients.

A parameter's array is read-only (backward may have saved it), so each update builds a new
array and hands it over with ``p.assign(new, copy=False)``: the array is fresh, so no copy is
needed, and the parameter's mutation clock still tells older graphs that it changed.
Hyperparameters are Python floats, which NumPy treats as weakly typed: a float32 parameter, its
gradient and every state buffer stay float32.
Parameters whose ``grad`` is None (unused in the last forward pass) are skipped, state and all.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from autograd import Tensor
from autograd.compile import recording


class Optimizer:
    """Holds the parameters; ``step()`` updates them, ``zero_grad()`` forgets their gradients."""

    #: Bumped whenever the state arrays are replaced outside a compiled step, so that a compiled
    #: step recorded against the old arrays records anew (``autograd.compile``'s protocol).
    compile_version: int = 0

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        for p in self.params:
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(
                    f"{type(self).__name__}: every parameter must be a Tensor with requires_grad=True"
                )
        if not lr > 0:
            raise ValueError(f"{type(self).__name__}: the learning rate must be positive, got {lr!r}")
        self.lr = float(lr)

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to None."""
        recorder = recording()
        if recorder is not None:
            recorder.cleared(self.params)
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with (heavy-ball) momentum, as in PyTorch.

    ``v = μ v + dW`` (``v = dW`` on the first step), then ``W = W - lr v``; with ``μ = 0`` this is
    plain ``W = W - lr dW``.
    """

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0) -> None:
        super().__init__(params, lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self.velocity: dict[int, np.ndarray] = {}

    def step(self) -> None:
        recorder = recording()
        if recorder is not None:
            self._record_step(recorder)
            return
        self.compile_version += 1
        for p in self.params:
            g = p.grad
            if g is None:
                continue
            if self.momentum:
                v = self.velocity.get(id(p))
                v = g.copy() if v is None else self.momentum * v + g
                self.velocity[id(p)] = v
                g = v
            p.assign(p.data - self.lr * g, copy=False)

    # -- compiled steps (autograd.compile): the update above, reported as kernels ------------

    def _record_step(self, recorder) -> None:
        recorder.depends_on(self)
        rates: dict = {}
        for p in self.params:
            g = recorder.gradient(p)
            if g is None:
                continue
            buffer = recorder.parameter(p)
            if self.momentum:
                v = self.velocity.get(id(p))
                if v is None:
                    # The first step copies g; the replays run the later steps' kernels.
                    v = self.velocity[id(p)] = g.copy()
                    now = False
                else:
                    now = True
                recorder.kernel(np.multiply, v, _constant(self.momentum, v), v, now=now)
                recorder.kernel(np.add, v, g, v, now=now)
                g = v
            lr = rates.get(buffer.dtype)
            if lr is None:
                lr = rates[buffer.dtype] = np.empty((), dtype=buffer.dtype)
                recorder.kernel(_refresh_lr, lr, self)  # read per replay: schedulers change it
            step = np.empty_like(buffer)
            recorder.kernel(np.multiply, g, lr, step)
            recorder.kernel(np.subtract, buffer, step, buffer)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), as in PyTorch.

    ``m = β1 m + (1 - β1) g``, ``v = β2 v + (1 - β2) g ⊙ g``, with bias corrections
    ``m̂ = m / (1 - β1^t)``, ``v̂ = v / (1 - β2^t)``, then ``W = W - lr m̂ / (sqrt(v̂) + ε)``.
    ``t`` counts the steps in which the parameter had a gradient.
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(params, lr)
        beta1, beta2 = (float(b) for b in betas)
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
            raise ValueError(f"Adam: betas must be in [0, 1), got {betas!r}")
        self.beta1, self.beta2, self.eps = beta1, beta2, float(eps)
        self.state: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}

    def step(self) -> None:
        recorder = recording()
        if recorder is not None:
            self._record_step(recorder)
            return
        self.compile_version += 1
        beta1, beta2 = self.beta1, self.beta2
        for p in self.params:
            g = p.grad
            if g is None:
                continue
            t, m, v = self.state.get(id(p), (0, np.zeros_like(g), np.zeros_like(g)))
            t += 1
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * (g * g)
            self.state[id(p)] = (t, m, v)
            # Bias corrections are Python floats, so they never upcast float32 state.
            step_size = self.lr / (1 - beta1**t)
            denominator = np.sqrt(v * (1 / (1 - beta2**t))) + self.eps
            p.assign(p.data - step_size * (m / denominator), copy=False)

    # -- compiled steps (autograd.compile): the update above, reported as kernels ------------

    def _record_step(self, recorder) -> None:
        recorder.depends_on(self)
        beta1, beta2 = self.beta1, self.beta2
        for p in self.params:
            g = recorder.gradient(p)
            if g is None:
                continue
            buffer = recorder.parameter(p)
            # The optimizer's own arrays (eager steps make new ones), updated in place from now on
            # and shared by every recording of a step with this optimizer.
            t, m, v = self.state.get(id(p), (0, np.zeros_like(g), np.zeros_like(g)))
            self.state[id(p)] = (t, m, v)
            step_size = np.empty((), dtype=buffer.dtype)
            correction = np.empty((), dtype=buffer.dtype)
            scratch = np.empty_like(buffer)
            recorder.kernel(_adam_tick, self, p, step_size, correction)
            recorder.kernel(np.multiply, m, _constant(beta1, m), m)
            recorder.kernel(np.multiply, g, _constant(1 - beta1, m), scratch)
            recorder.kernel(np.add, m, scratch, m)
            recorder.kernel(np.multiply, v, _constant(beta2, v), v)
            recorder.kernel(np.multiply, g, g, scratch)
            recorder.kernel(np.multiply, scratch, _constant(1 - beta2, v), scratch)
            recorder.kernel(np.add, v, scratch, v)
            recorder.kernel(np.multiply, v, correction, scratch)
            recorder.kernel(np.sqrt, scratch, scratch)
            recorder.kernel(np.add, scratch, _constant(self.eps, v), scratch)
            recorder.kernel(np.divide, m, scratch, scratch)
            recorder.kernel(np.multiply, scratch, step_size, scratch)
            recorder.kernel(np.subtract, buffer, scratch, buffer)


def _constant(value: float, like: np.ndarray) -> np.ndarray:
    """A hyperparameter as a 0-d array of ``like``'s dtype: the value NumPy converts the Python
    float to in ``value * array``, without resolving the float's type on every call."""
    return np.array(value, dtype=like.dtype)


def _refresh_lr(out: np.ndarray, optimizer: Optimizer) -> None:
    """The learning rate as a 0-d array of the parameter's dtype: NumPy rounds the Python float
    to that dtype exactly as it does in ``lr * g``."""
    out[...] = optimizer.lr


def _adam_tick(adam: Adam, p: Tensor, step_size: np.ndarray, correction: np.ndarray) -> None:
    """One more step for ``p``: its count and the bias corrections of the eager update."""
    t, m, v = adam.state[id(p)]
    t += 1
    adam.state[id(p)] = (t, m, v)
    step_size[...] = adam.lr / (1 - adam.beta1**t)
    correction[...] = 1 / (1 - adam.beta2**t)
