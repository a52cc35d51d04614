"""Sparse Jacobians: find which outputs depend on which inputs, then share forward sweeps.

A forward sweep seeded with ``v`` gives ``J v``. If columns ``j`` and ``j'`` of ``J`` have no row
in common, one sweep seeded with ``e_j + e_j'`` gives both: each row of ``J v`` holds an entry of
at most one of them. So the Jacobian needs one sweep per *colour* of a colouring of its columns
in which no two columns of a colour share a row (Curtis, Powell and Reid, 1974): 1 sweep for an
elementwise map instead of ``n``, 3 for a tridiagonal one (docs/maths.md, "Forward vs reverse
accumulation").

The pattern is found by pushing a boolean dependency array through the recorded graph: for a
tensor ``t`` of shape ``S``, ``D[t]`` has shape ``S + (n,)`` and ``D[t][i, j]`` says whether
element ``i`` of ``t`` depends on input element ``j``. Each primitive has a pattern rule, keyed
by its name in :data:`PATTERN_RULES`. The pattern is structural for tensors that depend on the
inputs (a value that happens to be 0 here still counts) and exact for constants (a constant 0
in a product cuts the dependency). Constants may be computed from the data (nn's sign masks,
softmax's max shift), so a pattern belongs to the point it was found at; ``jacfwd(f,
sparse=True)`` finds it anew at every call. It may contain entries that are 0 at that point
(relu where x < 0), never miss one that is not, so the colouring stays exact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .backward import toposort
from .state import enable_grad
from .tensor import Tensor

Pattern = np.ndarray  # bool, shape tensor.shape + (n,)
#: ``rule(deps, xs, ans, *static) -> Pattern``; ``deps[i]`` is None for an input that depends on
#: no input element (a constant), and ``xs`` are the inputs' values.
PatternRule = Callable[..., Pattern]

PATTERN_RULES: dict[str, PatternRule] = {}


def register_pattern_rule(name: str, rule: PatternRule) -> None:
    """Give the primitive ``name`` a dependency-pattern rule."""
    PATTERN_RULES[name] = rule


def _nonzero(x: np.ndarray, deps: Pattern | None) -> np.ndarray:
    """Where a factor can be nonzero: anywhere if it depends on the inputs, else where it is."""
    return np.ones(x.shape, dtype=bool) if deps is not None else x != 0


def _full(deps: Pattern, shape: tuple) -> Pattern:
    return np.broadcast_to(deps, shape + deps.shape[-1:])


def _same(deps, xs, ans, *static) -> Pattern:
    """Elementwise (a diagonal Jacobian): each output element depends on what its input does."""
    return deps[0]


def _add(deps, xs, ans) -> Pattern:
    """``x + y``: the union of the two patterns."""
    dx, dy = deps
    if dx is None:
        return _full(dy, ans.shape)
    if dy is None:
        return _full(dx, ans.shape)
    return _full(dx, ans.shape) | _full(dy, ans.shape)


def _mul(deps, xs, ans) -> Pattern:
    """``x * y``: ``ẋ y + x ẏ``, so x's pattern where y can be nonzero, and vice versa."""
    x, y = xs
    dx, dy = deps
    out = np.zeros(ans.shape + ((dx if dx is not None else dy).shape[-1],), dtype=bool)
    if dx is not None:
        out |= _full(dx, ans.shape) & np.broadcast_to(_nonzero(y, dy), ans.shape)[..., None]
    if dy is not None:
        out |= _full(dy, ans.shape) & np.broadcast_to(_nonzero(x, dx), ans.shape)[..., None]
    return out


def _matmul(deps, xs, ans) -> Pattern:
    """``W X``: ``F[i, j]`` depends on ``W[i, k]`` where ``X[k, j]`` can be nonzero, and on
    ``X[k, j]`` where ``W[i, k]`` can be nonzero: a boolean matrix product."""
    x, y = xs
    dx, dy = deps
    n = (dx if dx is not None else dy).shape[-1]
    x2 = x.reshape(1, -1) if x.ndim == 1 else x
    y2 = y.reshape(-1, 1) if y.ndim == 1 else y
    (a, k), b = x2.shape, y2.shape[1]
    out = np.zeros((a, b, n), dtype=bool)
    # Boolean products as float32 products of 0/1 (exact for k < 2**24) so that BLAS does them.
    if dx is not None:
        y_nonzero = _nonzero(y2, dy).astype(np.float32)
        # out[i, j, :] |= OR_k dx[i, k, :] & y_nonzero[k, j], batched over i.
        out |= np.matmul(y_nonzero.T, dx.reshape(a, k, n).astype(np.float32)) > 0
    if dy is not None:
        x_nonzero = _nonzero(x2, dx).astype(np.float32)
        # out[i, j, :] |= OR_k x_nonzero[i, k] & dy[k, j, :]
        out |= (x_nonzero @ dy.reshape(k, b * n).astype(np.float32)).reshape(a, b, n) > 0
    return out.reshape(ans.shape + (n,))


def _broadcast_to(deps, xs, ans, shape) -> Pattern:
    """Each output element copies one input element: broadcast the pattern the same way."""
    return _full(deps[0], tuple(shape))


def _sum(deps, xs, ans, axis, keepdims) -> Pattern:
    """A sum depends on everything its terms depend on: OR over the summed axes."""
    axes = tuple(range(xs[0].ndim)) if axis is None else axis
    return np.any(deps[0], axis=axes, keepdims=keepdims)


def _transpose(deps, xs, ans, axes) -> Pattern:
    return np.transpose(deps[0], tuple(axes) + (xs[0].ndim,))


def _reshape(deps, xs, ans, shape) -> Pattern:
    return deps[0].reshape(tuple(shape) + deps[0].shape[-1:])


def _getitem(deps, xs, ans, index) -> Pattern:
    """A selection: each output element is the input element it picks."""
    return np.asarray(deps[0][index])


def _scatter_add(deps, xs, ans, index, shape) -> Pattern:
    """Each output element depends on every input element added into it."""
    out = np.zeros(tuple(shape) + deps[0].shape[-1:], dtype=bool)
    np.logical_or.at(out, index, deps[0])
    return out


def _concatenate(deps, xs, ans, axis) -> Pattern:
    """The inputs' patterns side by side (nothing where an input is a constant)."""
    n = next(d for d in deps if d is not None).shape[-1]
    parts = [np.zeros(x.shape + (n,), dtype=bool) if d is None else d for d, x in zip(deps, xs)]
    return np.concatenate(parts, axis=axis)


for _name in ("exp", "log", "reciprocal", "relu", "neg", "identity", "astype"):
    register_pattern_rule(_name, _same)
register_pattern_rule("getitem", _getitem)
register_pattern_rule("scatter_add", _scatter_add)
register_pattern_rule("concatenate", _concatenate)
register_pattern_rule("add", _add)
register_pattern_rule("mul", _mul)
register_pattern_rule("matmul", _matmul)
register_pattern_rule("broadcast_to", _broadcast_to)
register_pattern_rule("sum", _sum)
register_pattern_rule("transpose", _transpose)
register_pattern_rule("reshape", _reshape)


def pattern_rule(prim) -> PatternRule:
    """The pattern rule of ``prim``; raises for a primitive that has none.

    A primitive built as ``elementwise`` has a diagonal Jacobian by construction, so it gets the
    elementwise rule without an entry of its own; any other primitive must be registered.
    """
    rule = PATTERN_RULES.get(prim.name)
    if rule is None and prim.kind == "elementwise":
        rule = _same
    if rule is None:
        raise NotImplementedError(
            f"sparsity: primitive {prim.name!r} (kind {prim.kind!r}) has no dependency-pattern rule; "
            "register one with autograd.sparsity.register_pattern_rule"
        )
    return rule


# ---------------------------------------------------------------------------------------------
# The pattern of a recorded graph
# ---------------------------------------------------------------------------------------------


def graph_pattern(out: Tensor, inputs: Sequence[Tensor]) -> np.ndarray:
    """``P`` of shape ``(out.size, n)``: ``P[i, j]`` iff output element ``i`` depends on element
    ``j`` of the inputs laid end to end (each flattened in C order), ``n`` their total size.

    ``out`` must have been recorded with every tensor of ``inputs`` requiring grad.
    """
    sizes = [x.size for x in inputs]
    n = int(sum(sizes))
    deps: dict[int, Pattern] = {}
    offset = 0
    for x, size in zip(inputs, sizes):
        identity = np.zeros((size, n), dtype=bool)
        identity[np.arange(size), offset + np.arange(size)] = True
        deps[id(x)] = identity.reshape(x.shape + (n,))
        offset += size
    order = toposort(out)
    # Drop a pattern once its last consumer has used it: only the live frontier stays in memory.
    uses: dict[int, int] = {}
    for node in order:
        for parent in node.parents:
            uses[id(parent)] = uses.get(id(parent), 0) + 1
    keep = {id(out)} | {id(x) for x in inputs}
    for node in order:
        parents = node.parents
        parent_deps = [deps.get(id(p)) for p in parents]
        if any(d is not None for d in parent_deps):
            rule = pattern_rule(node.op)
            deps[id(node)] = rule(parent_deps, [p.data for p in parents], node.data, *node.static)
        for parent in parents:
            uses[id(parent)] -= 1
            if uses[id(parent)] == 0 and id(parent) not in keep:
                deps.pop(id(parent), None)
    result = deps.get(id(out))
    if result is None:
        return np.zeros((out.size, n), dtype=bool)
    return np.ascontiguousarray(result).reshape(out.size, n)


def jacobian_pattern(f: Callable[..., Tensor], *args: Any, argnums: int | Sequence[int] = 0) -> np.ndarray:
    """The sparsity pattern of the Jacobian of ``f`` with respect to ``args[argnums]``.

    A bool array of shape ``(out.size, n)``, the inputs' elements laid end to end. ``f`` runs
    once, recording a graph; no derivative is computed.
    """
    nums = (argnums,) if isinstance(argnums, (int, np.integer)) else tuple(argnums)
    args = list(args)
    leaves = []
    for k in nums:
        value = args[k]
        leaf = Tensor(value.data if isinstance(value, Tensor) else value, requires_grad=True)
        args[k] = leaf
        leaves.append(leaf)
    with enable_grad():
        out = f(*args)
    if not isinstance(out, Tensor):
        out = Tensor(out)
    return graph_pattern(out, leaves)


# ---------------------------------------------------------------------------------------------
# Colouring
# ---------------------------------------------------------------------------------------------


def colour_columns(pattern: np.ndarray) -> np.ndarray:
    """A colour per column such that no two columns of one colour share a row.

    Greedy in column order (Curtis–Powell–Reid): each column takes the smallest colour none of
    whose columns touches its rows. Rows are packed into bits, so testing a column against every
    colour is one vectorised AND. Returns an int array of length ``pattern.shape[1]``; the number
    of colours is ``colours.max() + 1`` (an empty column shares colour 0 with anything).
    """
    pattern = np.asarray(pattern, dtype=bool)
    n = pattern.shape[1]
    columns = np.packbits(pattern.T, axis=1)  # (n, ceil(rows / 8)): column j's rows as bits
    rows_of_colour = np.zeros_like(columns)  # at most n colours
    colours = np.zeros(n, dtype=np.intp)
    n_colours = 0
    for j in range(n):
        column = columns[j]
        clash = (rows_of_colour[:n_colours] & column).any(axis=1)
        free = np.flatnonzero(~clash)
        colour = int(free[0]) if free.size else n_colours
        if colour == n_colours:
            n_colours += 1
        rows_of_colour[colour] |= column
        colours[j] = colour
    return colours


def colour_groups(colours: np.ndarray) -> list[np.ndarray]:
    """The columns of each colour, colour by colour."""
    if colours.size == 0:
        return []
    order = np.argsort(colours, kind="stable")
    bounds = np.flatnonzero(np.diff(colours[order])) + 1
    return np.split(order, bounds)
