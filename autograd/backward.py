"""Reverse mode: walk the recorded graph from an output back to its leaves.

The graph is walked with an explicit stack (no recursion, so depth is limited only by memory)
and each node's VJPs are applied once, after every consumer of its output has contributed to
its gradient. Each gradient is checked against the shape of the tensor it flows into, at the
edge where it crosses. Contributions are summed into arrays this pass made itself, in place,
and a leaf adopts such an array as its ``.grad``: no copy of a gradient is made, and none is
ever written into an array a caller or a rule could still hold.
"""

from __future__ import annotations

import numpy as np

from . import state


def walk(root, follow=None) -> list:
    """The tensors ``root`` depends on, ``root`` last, each after all of its parents.

    Iterative depth-first search (an explicit stack, so any depth works at the default
    recursion limit): a tensor is emitted once every parent below it has been. ``follow(parent)``
    decides whether a parent, and what it depends on, is part of the walk; by default every
    parent is, leaves and constants included (what a picture of the graph shows).
    """
    order = []
    seen = {id(root)}
    stack = [(root, iter(root._parents))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if id(parent) not in seen and (follow is None or follow(parent)):
                seen.add(id(parent))
                stack.append((parent, iter(parent._parents)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def _recorded(t) -> bool:
    return t._prim is not None and t.requires_grad


def toposort(root) -> list:
    """The recorded (non-leaf) tensors that ``root`` depends on, each after all of its inputs.

    Only tensors that require grad are followed, since no gradient flows anywhere else.
    """
    return walk(root, _recorded) if _recorded(root) else []


def _seed(root, grad) -> np.ndarray:
    if grad is None:
        if root._data.size != 1:
            raise ValueError(
                "backward: an implicit gradient needs a scalar output; this output has shape "
                f"{root._data.shape}, so pass a seed of that shape, "
                f"e.g. y.backward(np.ones({root._data.shape}))"
            )
        return np.ones(root._data.shape, dtype=root._data.dtype)
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


def _accumulate_leaf(leaf, g, owned: bool = False) -> None:
    # .grad must be the leaf's own array. A rule may hand the same array to several inputs
    # (add's dx = dy = g) or return a read-only view (broadcasts): such a gradient is copied.
    # An ``owned`` one was made by this backward pass for this leaf alone, so it is adopted.
    if leaf.grad is None:
        leaf.grad = g if owned else np.array(g, dtype=leaf._data.dtype, copy=True)
    else:
        # Out of place: a caller may still hold the previous .grad array.
        leaf.grad = np.asarray(leaf.grad + g)


def _consumers(root) -> dict:
    """How many times each recorded tensor under ``root`` is used as an input, by id.

    A node's VJPs may run once this count of contributions to its gradient has arrived (Kahn's
    algorithm). One pass with a plain list as the stack: no iterator or tuple per node, so a
    200,000-node graph allocates nothing that the cycle collector has to scan.
    """
    counts = {id(root): 0}
    stack = [root]
    pop, push = stack.pop, stack.append
    while stack:
        for parent in pop()._parents:
            if parent._prim is not None and parent.requires_grad:
                key = id(parent)
                if key in counts:
                    counts[key] += 1
                else:
                    counts[key] = 1
                    push(parent)
    return counts


def _is_operand(gi, args) -> bool:
    """Whether ``gi`` is one of the rule's own arguments (identity, not equality)."""
    for a in args:
        if gi is a:
            return True
    return False


def backward(root, grad=None, retain_graph: bool = False) -> None:
    """Accumulate ``d root / d leaf`` (seeded with ``grad``) into every leaf's ``.grad``.

    ``grad`` may be omitted only for a single-element output (the seed is then 1). A second
    backward through the same nodes raises unless the first passed ``retain_graph=True``: the
    gradients of a graph are accumulated once, never silently doubled. With ``retain_graph``,
    a second call adds the same gradients again, as in PyTorch.

    Each node's gradient is complete once all of its consumers have contributed; contributions
    after the first are added in place into an array this pass made (never into a caller's
    array or one a rule shares), and a leaf adopts such an array as its ``.grad`` without a copy.
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
    counts = _consumers(root)
    grads = {id(root): seed}
    owned = set()  # ids of the nodes and leaves whose entry in grads is this pass's own array
    leaves = {}  # id -> leaf, in the order their first gradient arrived
    ready = [root]
    while ready:
        node = ready.pop()
        key = id(node)
        g = grads.pop(key)
        owned.discard(key)
        if node._consumed:
            raise RuntimeError(
                f"backward: the graph through this {node._prim.name} node (output shape "
                f"{node._data.shape}) was already used by a backward pass; pass "
                "retain_graph=True to the first backward to run backward through it again"
            )
        if node._retains_grad:
            _accumulate_leaf(node, g)
        parents = node._parents
        ans = node._data
        clock = node._clock
        # The rules read the output and every input, tracked or not (exp's g * ans, mul's
        # g * y), so a replacement of any of them after recording would give a wrong gradient.
        if node._mutated_at > clock:
            raise RuntimeError(
                f"{node._prim.name} backward: its output (shape {ans.shape}) was modified after "
                "this node was recorded, so the gradient would be wrong; recompute the forward pass"
            )
        if len(parents) == 1:
            args = (parents[0]._data, *node._static)
        else:
            args = (*[p._data for p in parents], *node._static)
        vjps = node._prim.vjps
        for i, parent in enumerate(parents):
            if parent._mutated_at > clock:
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
            data = parent._data
            if gi.shape != data.shape:
                raise _edge_error(node, i, parent, gi)
            if gi.dtype != data.dtype:
                gi = gi.astype(data.dtype)
                fresh = True
            else:
                # Whether gi is a new array nothing else refers to, safe to adopt or add into.
                # Rules return a new array or a shared one (the primitives' contract): g itself
                # (add), a view of it (base is set), the output or an operand; and an observer
                # may keep what it was shown.
                fresh = not (
                    observed
                    or gi is g
                    or gi is ans
                    or gi.base is not None
                    or not gi.flags.writeable
                    or _is_operand(gi, args)
                )
            pkey = id(parent)
            previous = grads.get(pkey)
            if previous is None:
                grads[pkey] = gi
                if fresh:
                    owned.add(pkey)
                if parent._prim is None:
                    leaves[pkey] = parent
            elif pkey in owned:
                np.add(previous, gi, out=previous)
            else:
                # np.asarray: NumPy gives a scalar, not an array, for the sum of two 0-d arrays.
                grads[pkey] = np.asarray(previous + gi)
                owned.add(pkey)
            if parent._prim is not None:
                remaining = counts[pkey] - 1
                counts[pkey] = remaining
                if not remaining:
                    ready.append(parent)
        if not retain_graph:
            node._consumed = True
    for pkey, leaf in leaves.items():
        _accumulate_leaf(leaf, grads[pkey], pkey in owned)
