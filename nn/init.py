"""Weight initialisation from a seeded generator.

Layers draw from the generator they are given, or from this module's default generator, which
starts from seed 0 (so a script that builds the same network twice gets the same weights) and
can be reseeded with :func:`manual_seed`.
"""

from __future__ import annotations

import numpy as np

_default_rng = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Reseed the generator used by layers created without one."""
    global _default_rng
    _default_rng = np.random.default_rng(seed)


def generator(rng: np.random.Generator | int | None = None) -> np.random.Generator:
    """``rng`` itself, a new generator seeded with it (an int), or the default generator (None)."""
    if rng is None:
        return _default_rng
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def he_normal(n_out: int, n_in: int, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """He (Kaiming) initialisation for ReLU layers: ``W ~ N(0, 2/n_in)``, shape ``(n_out, n_in)``.

    It keeps the variance of ``Z[l]`` roughly constant from layer to layer when half of the
    units of ``A[l-1]`` are zeroed by a ReLU.
    """
    return (rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)).astype(dtype)


def xavier_uniform(n_out: int, n_in: int, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """Xavier (Glorot) initialisation for tanh/sigmoid layers: ``W ~ U(-a, a)``.

    ``a = sqrt(6/(n_in + n_out))``, shape ``(n_out, n_in)``.
    The variance ``2/(n_in + n_out)`` balances the forward and the backward signal.
    """
    limit = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, size=(n_out, n_in)).astype(dtype)


INITIALIZERS = {"he": he_normal, "xavier": xavier_uniform}
