"""The engine's global switches: gradient recording, and the observers of the slow path.

They are module attributes rather than thread-locals: reading one costs a single attribute
lookup on the hot path. Like NumPy's error state, they are process-wide.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

#: Record operations for reverse mode. ``no_grad`` turns it off.
grad_enabled: bool = True

#: Something is watching the engine (counters, anomaly detection). The hot path checks this one
#: flag and takes the slow path only when it is set, so the watchers cost nothing when off.
observed: bool = False

#: Objects with ``on_apply(prim, inputs, out)`` (every primitive application; ``out.tangent`` is
#: set when its JVP ran too), ``on_backward(root)`` (each backward pass) and
#: ``on_vjp(node, index, gradient)`` (each VJP rule's raw result) methods.
observers: list = []

#: The module path ("layers.0") under which operations are being recorded, or None. Set with
#: :func:`scope`; nodes remember it so that pictures can group them by layer.
scope: str | None = None

#: Bumped each time a tensor's data is replaced after creation. A node remembers the clock at
#: its creation, so backward can tell that an input changed under it.
mutation_clock: int = 0


class no_grad(contextlib.ContextDecorator):
    """Record nothing inside: results do not require grad and no graph is kept.

    Usable as ``with no_grad():`` and as a decorator, and nests.
    """

    def __enter__(self) -> no_grad:
        global grad_enabled
        self._previous = grad_enabled
        grad_enabled = False
        return self

    def __exit__(self, *exc) -> None:
        global grad_enabled
        grad_enabled = self._previous


class enable_grad(no_grad):
    """Record operations inside, even within ``no_grad``."""

    def __enter__(self) -> enable_grad:
        global grad_enabled
        self._previous = grad_enabled
        grad_enabled = True
        return self


def is_grad_enabled() -> bool:
    return grad_enabled


@contextlib.contextmanager
def observing(observer) -> Iterator:
    """Attach ``observer`` to the engine for the duration of the block."""
    global observed
    observers.append(observer)
    observed = True
    try:
        yield observer
    finally:
        observers.remove(observer)
        observed = bool(observers)


class name_scope:
    """Record the nodes created inside as belonging to ``name`` (nested scopes join with '.').

    A plain class rather than a generator: every module call enters one, so it stays cheap.
    """

    __slots__ = ("name", "_previous")

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        global scope
        self._previous = scope
        scope = self.name if scope is None else f"{scope}.{self.name}"

    def __exit__(self, *exc) -> None:
        global scope
        scope = self._previous
