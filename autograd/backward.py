"""Reverse mode: walk the recorded graph from an output back to its leaves.

The graph is walked with an explicit stack (no recursion, so depth is limited only by memory)
and each node's VJPs are applied once, after every consumer of its output has contributed to
its gradient. Gradients are accumulated out of place, and each one is checked against the shape
of the tensor it flows into, at the edge where it crosses.
"""

from __future__ import annotations

import numpy as np

from . import state


def toposort(root) -> list:
    """The recorded (non-leaf) tensors that ``root`` depends on, each after all of its inputs.

    Iterative depth-first search: a node is emitted once every parent below it has been. Only
    tensors that require grad are followed, since no gradient flows anywhere else.
    """
    order = []
    if root._prim is None:
        return order
    seen = {id(root)}
    stack = [(root, iter(root._parents))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if parent._prim is not None and parent.requires_grad and id(parent) not in seen:
                seen.add(id(parent))
                stack.append((parent, iter(parent._parents)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def _seed(root, grad) -> np.ndarray:
    if grad is None:
        if root._data.size != 1:
            raise ValueError(
                "backward: an implicit gradient needs a scalar output; this output has shape "
                f"{root._data.shape}, so pass a seed of that shape, "
                f"e.g. y.backward(np.ones({root._data.shape}))"
            )
        return np.ones_like(root._data)
    seed = np.asarray(getattr(grad, "_data", grad))
    if seed.shape != root._data.shape:
        raise ValueError(
            f"backward: the seed has shape {seed.shape} but the output has shape {root._data.shape}"
        )
    if seed.dtype.kind not in "biuf":
        raise TypeError(f"backward: the seed has non-numeric dtype {seed.dtype}")
    return seed.astype(root._data.dtype, copy=False)


def _edge_error(node, index, parent, g) -> Exception:
    return RuntimeError(
        f"{node._prim.name} backward: the gradient for input {index} has shape {g.shape}, "
        f"but that input has shape {parent._data.shape}"
    )


def _accumulate_leaf(leaf, g) -> None:
    # The first gradient is copied: a rule may hand the same array to several inputs (add's
    # dx = dy = g) or return a read-only view (broadcasts), and .grad must be the leaf's own.
    if leaf.grad is None:
        leaf.grad = np.array(g, dtype=leaf._data.dtype, copy=True)
    else:
        leaf.grad = leaf.grad + g


def backward(root, grad=None, retain_graph: bool = False) -> None:
    """Accumulate ``d root / d leaf`` (seeded with ``grad``) into every leaf's ``.grad``.

    ``grad`` may be omitted only for a single-element output (the seed is then 1). A second
    backward through the same nodes raises unless the first passed ``retain_graph=True``: the
    gradients of a graph are accumulated once, never silently doubled. With ``retain_graph``,
    a second call adds the same gradients again, as in PyTorch.
    """
    if not root.requires_grad:
        raise RuntimeError(
            f"backward: this tensor of shape {root._data.shape} does not require grad and has "
            "no graph: create the leaves with requires_grad=True, outside no_grad()"
        )
    seed = _seed(root, grad)
    observed = state.observed
    if observed:
        for observer in state.observers:
            observer.on_backward(root)
    if root._prim is None:
        _accumulate_leaf(root, seed)
        return
    grads = {id(root): seed}
    for node in reversed(toposort(root)):
        g = grads.pop(id(node))
        if node._consumed:
            raise RuntimeError(
                f"backward: the graph through this {node._prim.name} node (output shape "
                f"{node._data.shape}) was already used by a backward pass; pass "
                "retain_graph=True to the first backward to run backward through it again"
            )
        if node._retains_grad:
            _accumulate_leaf(node, g)
        parents = node._parents
        args = tuple(p._data for p in parents) + node._static
        vjps = node._prim.vjps
        ans = node._data
        # The rules read the output and every input, tracked or not (exp's g * ans, mul's
        # g * y), so a replacement of any of them after recording would give a wrong gradient.
        if node._mutated_at > node._clock:
            raise RuntimeError(
                f"{node._prim.name} backward: its output (shape {ans.shape}) was modified after "
                "this node was recorded, so the gradient would be wrong; recompute the forward pass"
            )
        for i, parent in enumerate(parents):
            if parent._mutated_at > node._clock:
                raise RuntimeError(
                    f"{node._prim.name} backward: input {i} (shape {parent._data.shape}) was "
                    "modified after this node was recorded, so its gradient would be wrong; "
                    "recompute the forward pass after changing the data"
                )
            if not parent.requires_grad:
                continue
            gi = vjps[i](g, ans, *args)
            if observed:
                for observer in state.observers:
                    observer.on_vjp(node, i, gi)
            if gi.shape != parent._data.shape:
                raise _edge_error(node, i, parent, gi)
            if gi.dtype != parent._data.dtype:
                gi = gi.astype(parent._data.dtype)
            if parent._prim is None:
                _accumulate_leaf(parent, gi)
            else:
                key = id(parent)
                previous = grads.get(key)
                grads[key] = gi if previous is None else previous + gi
        if not retain_graph:
            node._consumed = True
