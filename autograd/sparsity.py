"""Sparse Jacobians: find which outputs depend on which inputs, then share forward sweeps.

A forward sweep seeded with ``v`` gives ``J v``. If columns ``j`` and ``j'`` of ``J`` have no row
in common, one sweep seeded with ``e_j + e_j'`` gives both: each row of ``J v`` holds an entry of
at most one of them. So the Jacobian needs one sweep per *colour* of a colouring of its columns
in which no two columns of a colour share a row (Curtis, Powell and Reid, 1974): 1 sweep for an
elementwise map instead of ``n``, 3 for a tridiagonal one (docs/maths.md, "Forward vs reverse
accumulation").

The pattern is found by pushing a boolean dependency array through the recorded graph: for a
tensor ``t`` of shape ``S``, ``D[t]`` has shape ``S + (n,)`` and ``D[t][i, j]`` says whether
element ``i`` of ``t`` depends on input element ``j``. Each primitive's entry states its pattern
rule (``Primitive.pattern``, built from ``autograd.jacobians``). The pattern is structural for
tensors that depend on the
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
from .jacobians import same
from .state import enable_grad
from .tensor import Tensor

Pattern = np.ndarray  # bool, shape tensor.shape + (n,)


def pattern_rule(prim) -> Callable[..., Pattern]:
    """The dependency-pattern rule of ``prim`` (its entry's ``pattern``); raises for a primitive
    that has none. A primitive built as ``elementwise`` has the diagonal rule by construction."""
    rule = prim.pattern
    if rule is None and prim.kind == "elementwise":
        rule = same
    if rule is None:
        raise NotImplementedError(
            f"sparsity: primitive {prim.name!r} (kind {prim.kind!r}) has no dependency-pattern rule; "
            "give its Primitive entry a pattern= (see autograd.jacobians)"
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
