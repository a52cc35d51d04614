"""Pytrees: nested tuples, lists and dicts whose leaves are arrays, as JAX's transforms take them.

``grad(loss)({"W": W, "b": b})`` differentiates with respect to every leaf and returns a dict
of the same structure. :func:`flatten` lists the leaves in a fixed order (dict keys sorted, as
JAX does) with a :class:`TreeDef` that :func:`unflatten` uses to rebuild the structure around
new leaves. ``None`` is an empty subtree; anything else that is not a tuple, list or dict is a
leaf (a tensor, an array, a number).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TreeDef:
    """The shape of a pytree without its leaves: ``kind`` is "leaf", "none", "tuple", "list"
    or "dict" (with its sorted ``keys``), and ``children`` the subtrees."""

    kind: str
    children: tuple = ()
    keys: tuple = ()

    @property
    def n_leaves(self) -> int:
        if self.kind == "leaf":
            return 1
        return sum(child.n_leaves for child in self.children)


LEAF = TreeDef("leaf")


def flatten(tree: Any) -> tuple[list, TreeDef]:
    """The leaves of ``tree`` in order, and its structure."""
    leaves: list = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree: Any, leaves: list) -> TreeDef:
    if tree is None:
        return TreeDef("none")
    if isinstance(tree, (tuple, list)) and not hasattr(tree, "_fields"):
        kind = "tuple" if isinstance(tree, tuple) else "list"
        return TreeDef(kind, tuple(_flatten(item, leaves) for item in tree))
    if isinstance(tree, dict):
        try:
            keys = tuple(sorted(tree))
        except TypeError:
            raise TypeError("pytree: dict keys must be sortable (all strings, say)") from None
        return TreeDef("dict", tuple(_flatten(tree[k], leaves) for k in keys), keys)
    leaves.append(tree)
    return LEAF


def unflatten(treedef: TreeDef, leaves: Any) -> Any:
    """The pytree of structure ``treedef`` holding ``leaves`` in order."""
    iterator = iter(leaves)
    tree = _unflatten(treedef, iterator)
    for _ in iterator:
        raise ValueError(f"pytree: more leaves than the structure holds ({treedef.n_leaves})")
    return tree


def _unflatten(treedef: TreeDef, leaves: Any) -> Any:
    kind = treedef.kind
    if kind == "leaf":
        try:
            return next(leaves)
        except StopIteration:
            raise ValueError("pytree: fewer leaves than the structure holds") from None
    if kind == "none":
        return None
    children = [_unflatten(child, leaves) for child in treedef.children]
    if kind == "dict":
        return dict(zip(treedef.keys, children))
    return tuple(children) if kind == "tuple" else children


def tree_map(function: Any, tree: Any) -> Any:
    """``tree`` with ``function`` applied to every leaf."""
    leaves, treedef = flatten(tree)
    return unflatten(treedef, [function(leaf) for leaf in leaves])
