"""Mini-batches of columns, labels as one-hot columns, and a reproducible train/test split."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def one_hot(labels: np.ndarray, n_classes: int, dtype=np.float32) -> np.ndarray:
    """Integer labels of shape ``(m,)`` as one-hot columns ``Y`` of shape ``(n_classes, m)``."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"one_hot: labels must have shape (m,), got {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"one_hot: labels must lie in [0, {n_classes}), got [{labels.min()}, {labels.max()}]"
        )
    y = np.zeros((n_classes, labels.size), dtype=dtype)
    y[labels, np.arange(labels.size)] = 1
    return y


def train_test_split(
    x: np.ndarray, y: np.ndarray, test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split the columns of ``x`` and ``y`` at random, from ``seed``.

    Returns ``(X_train, Y_train, X_test, Y_test)``; each part keeps the columns' original order.
    """
    m = x.shape[1]
    if y.shape[1] != m:
        raise ValueError(
            f"train_test_split: X has {m} columns but Y has {y.shape[1]} (shapes {x.shape}, {y.shape})"
        )
    if not 0 < test_fraction < 1:
        raise ValueError(f"train_test_split: test_fraction must be in (0, 1), got {test_fraction!r}")
    order = np.random.default_rng(seed).permutation(m)
    n_test = int(round(m * test_fraction))
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
    return x[:, train], y[:, train], x[:, test], y[:, test]


class Batches:
    """Iterate over ``(X_batch, Y_batch)`` mini-batches of columns, one pass per ``iter()``.

    With ``shuffle``, each pass visits the columns in a new random order drawn from a generator
    seeded once with ``seed``, so a whole training run is reproducible. The last batch holds
    the remainder (fewer than ``batch_size`` columns) unless ``drop_last``.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        shuffle: bool = True,
        seed: int | np.random.SeedSequence = 0,
        drop_last: bool = False,
    ) -> None:
        if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
            raise ValueError(
                "Batches: X and Y must be (n, m) matrices with the same number of columns; "
                f"got {x.shape} and {y.shape}"
            )
        if batch_size < 1:
            raise ValueError(f"Batches: batch_size must be at least 1, got {batch_size}")
        self.x, self.y, self.batch_size = x, y, int(batch_size)
        self.shuffle, self.drop_last = shuffle, drop_last
        self._rng = np.random.default_rng(seed)

    @property
    def m(self) -> int:
        return self.x.shape[1]

    def __len__(self) -> int:
        full, rest = divmod(self.m, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        order = self._rng.permutation(self.m) if self.shuffle else np.arange(self.m)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            columns = order[start : start + self.batch_size]
            yield self.x[:, columns], self.y[:, columns]
