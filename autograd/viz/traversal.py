"""Walking a recorded graph for pictures: every tensor, leaves and constants included.

``autograd.backward.toposort`` follows only the recorded tensors that require grad, since no
gradient flows anywhere else. A picture also wants the inputs, the parameters and the constants,
so it walks every parent, with the same iterative depth-first search (an explicit stack, no
recursion: a graph of any depth is walked at the default recursion limit).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from ..tensor import Tensor

Follow = Callable[[Tensor], bool]


def _everything(t: Tensor) -> bool:
    return True


def walk(root: Tensor, follow: Follow = _everything) -> list[Tensor]:
    """The tensors ``root`` depends on, ``root`` last, each after all of its parents.

    Leaves and constants are included. ``follow(parent)`` decides whether a parent (and what it
    depends on) is part of the walk; by default every parent is.
    """
    order: list[Tensor] = []
    seen = {id(root)}
    stack = [(root, iter(root.parents))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if id(parent) not in seen and follow(parent):
                seen.add(id(parent))
                stack.append((parent, iter(parent.parents)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def nearest(root: Tensor, limit: int, follow: Follow = _everything) -> set[int]:
    """The ids of the ``limit`` tensors closest to ``root`` (breadth-first over parents).

    Used to cut a picture down to a readable size: the tensors kept are those nearest to the
    output, which is where a user looks first (the loss, the last layers).
    """
    kept = {id(root)}
    queue = deque([root])
    while queue and len(kept) < limit:
        node = queue.popleft()
        for parent in node.parents:
            if id(parent) not in kept and follow(parent):
                kept.add(id(parent))
                queue.append(parent)
                if len(kept) >= limit:
                    break
    return kept
