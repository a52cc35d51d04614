"""Building blocks for two facts each primitive states about its Jacobian, in plain NumPy.

* A **dependency pattern** (used by ``autograd.sparsity``): for a tensor ``t`` of shape ``S``
  depending on ``n`` input elements, a boolean array ``D`` of shape ``S + (n,)`` where
  ``D[i, j]`` says whether element ``i`` of ``t`` depends on input element ``j``. A primitive's
  rule ``pattern(deps, xs, ans, *static)`` maps its inputs' patterns (``None`` for an input that
  depends on nothing: a constant) to its output's.
* A **dense Jacobian** (the referee of ``autograd.checks.dense_jacobian``): one float64 matrix of
  shape ``(ans.size, x.size)`` per input, written from the Jacobian's closed form (a diagonal of
  ``f'(x)``, identity blocks, a selection), never from the op's VJP or JVP rules, so that a test
  can check ``vjp(g) == Jᵀ g`` and ``jvp(ẋ) == J ẋ`` against it. For tiny shapes only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Pattern = np.ndarray


# ---------------------------------------------------------------------------------------------
# Dependency patterns
# ---------------------------------------------------------------------------------------------


def nonzero(x: np.ndarray, deps: Pattern | None) -> np.ndarray:
    """Where a factor can be nonzero: anywhere if it depends on the inputs, else where it is."""
    return np.ones(np.shape(x), dtype=bool) if deps is not None else np.asarray(x) != 0


def full(deps: Pattern, shape: tuple) -> Pattern:
    """``deps`` broadcast to an output of ``shape`` (its last axis, the inputs, kept)."""
    return np.broadcast_to(deps, tuple(shape) + deps.shape[-1:])


def width(deps: list) -> int:
    """The number of input elements ``n`` (the last axis of any pattern that is not None)."""
    return next(d for d in deps if d is not None).shape[-1]


def same(deps, xs, ans, *static) -> Pattern:
    """Elementwise (a diagonal Jacobian): each output element depends on what its input does."""
    return deps[0]


def masked(deps, xs, ans, masks) -> Pattern:
    """An elementwise map of several inputs whose derivative in input ``k`` is nonzero only
    where ``masks[k]`` holds: the union of the inputs' patterns, each where its mask holds."""
    out = np.zeros(tuple(ans.shape) + (width(deps),), dtype=bool)
    for d, mask in zip(deps, masks):
        if d is not None:
            out |= full(d, ans.shape) & np.broadcast_to(mask, ans.shape)[..., None]
    return out


def union(deps, xs, ans, *static) -> Pattern:
    """An elementwise map whose every partial derivative can be nonzero (``x + y``)."""
    return masked(deps, xs, ans, [True] * len(deps))


def product(deps, xs, ans, *static) -> Pattern:
    """``x * y`` (or ``x / y``): ``ẋ y + x ẏ``, so x's pattern where y can be nonzero, and
    vice versa; a constant's zeros cut the dependency."""
    x, y = xs
    dx, dy = deps
    return masked(deps, xs, ans, [nonzero(y, dy), nonzero(x, dx)])


# ---------------------------------------------------------------------------------------------
# Dense Jacobians
# ---------------------------------------------------------------------------------------------


def diagonal(values: Any) -> np.ndarray:
    """``diag(values)`` of an elementwise map, flattened in C order."""
    return np.diag(np.asarray(values, dtype=np.float64).reshape(-1))


def of_linear_map(linear_map: Callable, x: np.ndarray) -> np.ndarray:
    """The matrix of a linear map of ``x`` (a NumPy function): column j is the map of e_j.

    For maps that move, copy, add or weigh elements (selections, broadcasts, sums, products
    with a fixed operand) this is the definition of their Jacobian.
    """
    columns = []
    for j in range(x.size):
        basis = np.zeros(x.size)
        basis[j] = 1.0
        columns.append(np.asarray(linear_map(basis.reshape(x.shape)), dtype=np.float64).reshape(-1))
    out_size = np.asarray(linear_map(np.zeros(x.shape))).size
    return np.stack(columns, axis=1) if columns else np.zeros((out_size, 0))


def bilinear_dense(f: Callable, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """Both Jacobians of a map linear in each argument: ``f(·, y)`` and ``f(x, ·)``."""
    return [of_linear_map(lambda a: f(a, y), x), of_linear_map(lambda b: f(x, b), y)]
