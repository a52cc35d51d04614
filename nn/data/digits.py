"""The 8×8 handwritten digits, embedded in the package (see DIGITS.md for source and license)."""

from __future__ import annotations

from importlib import resources

import numpy as np

from .batches import one_hot, train_test_split

#: 1,797 images of 8×8 pixels, each pixel a count of "on" pixels in a 4×4 block, 0..16.
N_EXAMPLES, N_PIXELS, N_CLASSES, MAX_PIXEL = 1797, 64, 10, 16


def load_digits_raw() -> tuple[np.ndarray, np.ndarray]:
    """The embedded data as stored: images ``(1797, 64)`` uint8 in 0..16 (row by row), labels ``(1797,)``."""
    with resources.files(__package__).joinpath("digits.npz").open("rb") as file:
        with np.load(file, allow_pickle=False) as archive:
            return archive["images"], archive["labels"]


def load_digits(
    test_fraction: float = 0.2, seed: int = 0, dtype=np.float32
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train, Y_train, X_test, Y_test)``: the digits as columns, split at random from ``seed``.

    ``X`` is ``(64, m)`` with pixels scaled to ``[0, 1]``; ``Y`` is one-hot ``(10, m)``. Both are
    ``dtype`` (float32 by default, like :class:`nn.Linear`). The default split keeps 1,438
    examples for training and 359 for testing, the same ones every time.
    """
    images, labels = load_digits_raw()
    x = (images.T / MAX_PIXEL).astype(dtype)
    y = one_hot(labels, N_CLASSES, dtype)
    return train_test_split(x, y, test_fraction, seed)
