"""Layers: ``Linear`` (``Z = W A + b``), the activation modules, and the multilayer perceptron."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from autograd import Tensor, state
from autograd.fused import linear

from . import activations
from . import init as initialization
from .dropout import Dropout
from .module import Module, Sequential


def _fmt(shape: tuple) -> str:
    return str(tuple(shape))


class Linear(Module):
    """``Z = W @ A + b`` on a batch ``A`` of shape ``(n_in, m)`` (examples are columns).

    ``W`` is ``(n_out, n_in)``, drawn by He (``init="he"``, for ReLU networks) or Xavier
    (``init="xavier"``, for tanh/sigmoid) initialisation from ``rng`` (a Generator, a seed, or
    None for :mod:`nn.init`'s default generator); ``b`` is ``(n_out, 1)``, zero, broadcast over
    the ``m`` columns. The layer records one fused ``linear (matmul+add)`` node whose backward
    gives ``dW = dZ Aᵀ``, ``dA = Wᵀ dZ`` and ``db = Σ_axis1 dZ``, as the composed
    ``matmul``, ``broadcast_to`` and ``add`` would.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        dtype: Any = np.float32,
        *,
        init: str = "he",
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        for label, n in (("n_in", n_in), ("n_out", n_out)):
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
                raise ValueError(f"Linear: {label} must be a positive integer, got {n!r}")
        if init not in initialization.INITIALIZERS:
            raise ValueError(
                f"Linear: unknown init {init!r}; choose one of {sorted(initialization.INITIALIZERS)}"
            )
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"Linear: parameters need a floating-point dtype, got {dtype}")
        self.n_in, self.n_out, self.init = int(n_in), int(n_out), init
        draw = initialization.INITIALIZERS[init]
        weights = draw(self.n_out, self.n_in, initialization.generator(rng), dtype)
        self.W = Tensor(weights, requires_grad=True)
        self.b = Tensor(np.zeros((self.n_out, 1), dtype=dtype), requires_grad=True)

    def forward(self, a: Any) -> Tensor:
        shape = a.shape if isinstance(a, Tensor) else np.shape(a)
        if len(shape) != 2 or shape[0] != self.n_in:
            where = f" at {state.scope!r}" if state.scope else ""
            raise ValueError(
                f"Linear({self.n_in}, {self.n_out}){where}: expected an input of shape (n_in, m) = "
                f"({self.n_in}, m), one column per example, but got shape {_fmt(shape)} "
                f"(W has shape {_fmt(self.W.shape)})"
            )
        return linear(self.W, a, self.b)  # one fused node: W @ a + b

    def extra_repr(self) -> str:
        return f"{self.n_in}, {self.n_out}, dtype={self.W.dtype}, init={self.init!r}"


class ReLU(Module):
    """``A = max(0, Z)``."""

    def forward(self, z: Any) -> Tensor:
        return activations.relu(z)


class Sigmoid(Module):
    """``A = 1 / (1 + exp(-Z))``, finite for any finite ``Z``."""

    def forward(self, z: Any) -> Tensor:
        return activations.sigmoid(z)


class Tanh(Module):
    """``A = tanh(Z)``, finite for any finite ``Z``."""

    def forward(self, z: Any) -> Tensor:
        return activations.tanh(z)


class Softmax(Module):
    """``A = softmax(Z)`` over each column (axis 0: classes are rows)."""

    def forward(self, z: Any) -> Tensor:
        return activations.softmax(z)


#: Activation modules by name, for command lines.
ACTIVATION_MODULES = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}


class MLP(Module):
    """A feedforward network ``sizes[0] -> ... -> sizes[-1]``: Linear layers with an activation between.

    The last layer has no activation: the network outputs logits ``Z[L]``, to be fed to
    :func:`nn.softmax_cross_entropy` or :func:`nn.binary_cross_entropy_with_logits`, which are
    stable where a softmax or sigmoid followed by a log is not. Its layers live in
    ``self.layers`` (a :class:`Sequential`), so parameters are named ``layers.0.W``, ``layers.0.b``,
    ``layers.2.W``... and each layer's nodes are recorded under the scope ``layers.<index>``.
    ReLU networks start from He initialisation, tanh and sigmoid ones from Xavier's. With
    ``dropout > 0``, a :class:`Dropout` follows each hidden activation (its masks drawn from a
    child of ``rng``), which shifts the indices: ``layers.0``, ``layers.1`` (activation),
    ``layers.2`` (dropout), ``layers.3``...
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "relu",
        dtype: Any = np.float32,
        *,
        rng: np.random.Generator | int | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        sizes = [int(n) for n in sizes]
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes must list at least an input and an output size, got {sizes}")
        if activation not in ACTIVATION_MODULES:
            raise ValueError(
                f"MLP: unknown activation {activation!r}; choose one of {sorted(ACTIVATION_MODULES)}"
            )
        if dropout and len(sizes) < 3:
            raise ValueError(
                f"MLP: dropout={dropout!r} needs a hidden layer to follow, but sizes are {sizes}"
            )
        generator = initialization.generator(rng)
        scheme = "he" if activation == "relu" else "xavier"
        modules: list[Module] = []
        for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            if index:
                modules.append(ACTIVATION_MODULES[activation]())
                if dropout:
                    modules.append(Dropout(dropout, rng=generator.spawn(1)[0]))
            modules.append(Linear(n_in, n_out, dtype, init=scheme, rng=generator))
        self.sizes, self.activation, self.dropout = sizes, activation, float(dropout)
        self.layers = Sequential(*modules)

    def forward(self, x: Any) -> Tensor:
        return self.layers(x)

    def extra_repr(self) -> str:
        extra = f", dropout={self.dropout}" if self.dropout else ""
        return f"sizes={self.sizes}, activation={self.activation!r}{extra}"
