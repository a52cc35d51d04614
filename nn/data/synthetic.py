"""Two-class problems in the plane: two interleaving moons and two interleaving spirals.

Each generator returns ``X`` of shape ``(2, m)`` (points as columns) and ``Y`` of shape ``(1, m)``
(labels 0 and 1, for a single sigmoid output), drawn from a generator seeded with ``seed``.
"""

from __future__ import annotations

import numpy as np

from .batches import train_test_split


def _check_size(name: str, m: int) -> None:
    if m < 2:
        raise ValueError(f"{name}: m must be at least 2 (one point per class), got {m}")


def _labelled(
    points: list[np.ndarray], rng: np.random.Generator, noise: float, dtype
) -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate(points, axis=1)
    x = x + noise * rng.standard_normal(x.shape)
    y = np.concatenate([np.full((1, p.shape[1]), k) for k, p in enumerate(points)], axis=1)
    # Interleave the classes so that any prefix of the columns holds both.
    order = rng.permutation(x.shape[1])
    return x[:, order].astype(dtype), y[:, order].astype(dtype)


def make_moons(
    m: int = 1000, noise: float = 0.1, seed: int = 0, dtype=np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """Two half circles of radius 1: class 0 the upper one centred at (0, 0), class 1 the lower
    one centred at (1, 0.5), each point moved by Gaussian noise of standard deviation ``noise``."""
    _check_size("make_moons", m)
    rng = np.random.default_rng(seed)
    n0 = m // 2
    t0, t1 = rng.uniform(0, np.pi, n0), rng.uniform(0, np.pi, m - n0)
    upper = np.stack([np.cos(t0), np.sin(t0)])
    lower = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)])
    return _labelled([upper, lower], rng, noise, dtype)


def make_spirals(
    m: int = 1000, noise: float = 0.05, turns: float = 1.0, seed: int = 0, dtype=np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """Two spiral arms ``r = t``, ``θ = 2π turns t + kπ`` (``t`` uniform in [0.05, 1], class ``k``),
    half a turn apart, each point moved by Gaussian noise of standard deviation ``noise``."""
    _check_size("make_spirals", m)
    rng = np.random.default_rng(seed)
    arms = []
    for k, n in enumerate((m // 2, m - m // 2)):
        t = rng.uniform(0.05, 1.0, n)
        theta = 2 * np.pi * turns * t + k * np.pi
        arms.append(np.stack([t * np.cos(theta), t * np.sin(theta)]))
    return _labelled(arms, rng, noise, dtype)


def load_moons(
    m: int = 1000, noise: float = 0.1, seed: int = 0, test_fraction: float = 0.2, dtype=np.float32
):
    """``(X_train, Y_train, X_test, Y_test)`` from :func:`make_moons`."""
    return train_test_split(*make_moons(m, noise, seed, dtype), test_fraction, seed)


def load_spirals(
    m: int = 1000, noise: float = 0.05, seed: int = 0, test_fraction: float = 0.2, dtype=np.float32
):
    """``(X_train, Y_train, X_test, Y_test)`` from :func:`make_spirals`."""
    return train_test_split(*make_spirals(m, noise, seed=seed, dtype=dtype), test_fraction, seed)
