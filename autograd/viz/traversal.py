"""Walking a recorded graph for pictures: every tensor, leaves and constants included.

The walk is the engine's own (``autograd.backward.walk``, of which ``toposort`` is the
grad-only case); a picture follows every parent, so it also shows the inputs, the parameters
and the constants.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from ..backward import walk  # noqa: F401  (re-exported: viz.walk)
from ..tensor import Tensor

Follow = Callable[[Tensor], bool]


def nearest(root: Tensor, limit: int, follow: Follow | None = None) -> set[int]:
    """The ids of the ``limit`` tensors closest to ``root`` (breadth-first over parents).

    Used to cut a picture down to a readable size: the tensors kept are those nearest to the
    output, which is where a user looks first (the loss, the last layers).
    """
    kept = {id(root)}
    queue = deque([root])
    while queue and len(kept) < limit:
        node = queue.popleft()
        for parent in node.parents:
            if id(parent) not in kept and (follow is None or follow(parent)):
                kept.add(id(parent))
                queue.append(parent)
                if len(kept) >= limit:
                    break
    return kept
