"""Recording the gradient that crosses each edge during backward, for the backward picture.

Backward keeps only the leaves' gradients (and those of tensors that ``retain_grad``). To show
what flowed everywhere else, :func:`record_gradients` watches a backward pass through the
engine's observer hook and keeps a one-line summary of every ``dx = vjp(g)`` it computes (the
summary, not the array, so recording costs no memory per element).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .. import state
from ..tensor import Tensor
from .labels import short_summary


class GradientRecord:
    """Summaries of the gradients sent along each edge: ``record.get(node, i)``."""

    def __init__(self) -> None:
        self._summaries: dict[tuple[int, int], str] = {}
        # Holding the nodes keeps their ids from being reused by new tensors.
        self._nodes: dict[int, Tensor] = {}

    # Observer protocol of autograd.state: the engine calls these while the record is attached.
    def on_apply(self, prim: Any, inputs: tuple, out: Tensor) -> None:
        pass

    def on_backward(self, root: Tensor) -> None:
        pass

    def on_jvp(self, *args: Any) -> None:
        pass

    def on_vjp(self, node: Tensor, i: int, gi: Any) -> None:
        self._nodes[id(node)] = node
        # Two backward passes through one graph (retain_graph) show the latest gradient.
        self._summaries[(id(node), i)] = short_summary(gi)

    def get(self, node: Tensor, i: int) -> str | None:
        """The summary of the gradient ``node``'s op sent to its input ``i``, if recorded."""
        if self._nodes.get(id(node)) is not node:
            return None
        return self._summaries.get((id(node), i))

    def __len__(self) -> int:
        return len(self._summaries)


@contextlib.contextmanager
def record_gradients() -> Iterator[GradientRecord]:
    """Summarise every gradient that backward sends along an edge inside the block.

    >>> with record_gradients() as flow:       # doctest: +SKIP
    ...     loss.backward()
    >>> loss.draw(backward=True, gradients=flow)  # doctest: +SKIP
    """
    record = GradientRecord()
    with state.observing(record):
        yield record
