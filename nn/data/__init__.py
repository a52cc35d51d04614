"""Datasets as ``(features, m)`` matrices, one column per example, and a mini-batch iterator.

* :func:`load_digits`: the 8×8 handwritten digits embedded in the package (offline).
* :func:`make_moons`, :func:`make_spirals`: synthetic two-class problems in the plane.
* :func:`load_mnist`: MNIST, downloaded once into a cache and checked against known digests.
* :class:`Batches`: shuffled mini-batches of columns, reproducible from a seed.
"""

from .batches import Batches, one_hot, train_test_split
from .digits import load_digits
from .mnist import load_mnist, read_idx
from .synthetic import load_moons, load_spirals, make_moons, make_spirals

__all__ = [
    "Batches",
    "load_digits",
    "load_mnist",
    "load_moons",
    "load_spirals",
    "make_moons",
    "make_spirals",
    "one_hot",
    "read_idx",
    "train_test_split",
]
