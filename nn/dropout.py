"""``Dropout``: inverted dropout, the first layer whose behaviour depends on ``module.training``.

In training mode each entry of the input is kept with probability ``1 - p`` and scaled by
``1 / (1 - p)``, otherwise zeroed: ``A = X ⊙ M`` with ``M = D / (1 - p)``, ``D ~ Bernoulli(1 - p)``
entrywise, so ``E[A] = X``. ``M`` is a constant of the graph: the layer records one ``mul`` by
it, whose gradient ``dX = dA ⊙ M`` is masked exactly like the forward, and which the engine
differentiates to any order. In evaluation mode (``module.eval()``) the layer is the identity.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd import Tensor
from autograd.compile import host, recording

from . import init as initialization
from .module import Module


def dropout_mask(shape: tuple[int, ...], p: float, rng: np.random.Generator, dtype: Any) -> np.ndarray:
    """``M = D / (1 - p)`` with ``D`` entrywise Bernoulli(``1 - p``), in ``dtype``."""
    keep = rng.random(shape) >= p
    return keep.astype(dtype) * np.asarray(1.0 / (1.0 - p), dtype=dtype)


def _own_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A generator for one layer's masks: ``rng`` itself, a new one from a seed, or (None) a child
    of :mod:`nn.init`'s default generator, so ``nn.init.manual_seed`` makes the masks repeat too."""
    if rng is None:
        return initialization.generator(None).spawn(1)[0]
    return initialization.generator(rng)


class Dropout(Module):
    """Zero each entry with probability ``p`` in training mode, scaling the rest by ``1/(1 - p)``.

    ``rng`` (a Generator, a seed, or None) is the layer's own source of masks, so a seeded run
    repeats: ``Dropout(0.5, rng=0)`` draws the same masks every time it is built.
    """

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.integer, np.floating)):
            raise TypeError(f"Dropout: p must be a number in [0, 1), got {p!r}")
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p (the probability of zeroing an entry) must be in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = _own_generator(rng)

    def forward(self, x: Any) -> Any:
        recorder = recording()
        if recorder is not None:
            recorder.depends_on(self)  # a compiled step records anew when the mode changes
        if not self.training or self.p == 0.0:
            return x
        x = x if isinstance(x, Tensor) else Tensor(x)
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        # Drawn through host(): a compiled step draws a new mask from the layer's generator on
        # every replay, as the eager step does, instead of freezing the first one.
        mask = host(lambda values: dropout_mask(values.shape, self.p, self.rng, dtype), x)
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"
