"""The engine's switches: gradient recording, name scopes, observers and forward-mode levels.

Each thread has its own (as PyTorch holds grad mode per thread): a thread sitting in
``no_grad`` does not stop another from recording, and one thread's anomaly mode or counters do
not see another's operations. Each thread has a :class:`Switches` object, ``thread.s``; the hot
path fetches it once per operation. ``state.local.grad_enabled`` (and reading them as module
attributes, ``state.grad_enabled``) gives the calling thread's value.

The mutation clock (:func:`tick`) is the one process-wide value: a tensor's data may be
replaced in one thread and differentiated in another.
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any


class Switches:
    """One thread's switches (each thread starts with these values)."""

    __slots__ = (
        "grad_enabled", "observed", "observers", "scope", "levels", "recorded_levels", "cap", "depth",
        "reverse", "sweeps", "recorder", "saved_modes", "saved_scopes", "taping",
    )

    def __init__(self) -> None:
        #: Record operations for reverse mode. ``no_grad`` turns it off.
        self.grad_enabled = True
        #: Something is watching the engine (counters, anomaly detection). The hot path checks
        #: this one flag and takes the slow path only when it is set.
        self.observed = False
        #: Objects with ``on_apply(prim, inputs, out)``, ``on_backward(root)`` and
        #: ``on_vjp(node, index, gradient)`` methods.
        self.observers: list = []
        #: The module path ("layers.0") under which operations are being recorded, or None.
        self.scope: str | None = None
        #: A Jacobian transform is recording one forward sweep to replay it (``sweep_tape``):
        #: operations on tensors that require grad are recorded even under ``no_grad``, which
        #: the function being swept still sees as in every other sweep.
        self.taping = False
        #: The grad modes that the open ``no_grad``/``enable_grad`` blocks replaced, and the
        #: scopes that the open ``name_scope`` blocks replaced, innermost last: kept per thread,
        #: so one context object may be open in several threads at once; one stack per kind, so
        #: blocks of different kinds need not close in order (a generator holding one open).
        self.saved_modes: list = []
        self.saved_scopes: list = []
        #: Forward mode: the ids of the active tangent levels, outermost first. Each ``jvp``
        #: and ``jacfwd`` opens a level of its own, so perturbations of nested forward
        #: transforms are never confused (see ``tensor._push_tangents``). Level 0, always
        #: active, holds tangents set by hand on a tensor outside any transform.
        self.levels: list[int] = [0]
        #: The levels whose tangents an enclosing reverse transform differentiates (it was
        #: recording when the level opened: reverse over forward), so their JVP rules record.
        #: Under forward over reverse the tangents only flow forward, and nothing is recorded.
        self.recorded_levels: set[int] = set()
        #: Forward mode: tangents of levels above this are invisible. A JVP rule of level L
        #: runs with the cap at L - 1, so its own operations carry only the lower levels.
        self.cap: int = sys.maxsize
        #: How many function transforms (grad, jvp, jacfwd, ...) are evaluating their function
        #: right now: above 0 a transform returns tensors recorded for the enclosing one.
        self.depth = 0
        #: How many reverse transforms are recording their function right now: above 0 a nested
        #: reverse sweep records its own gradients (``create_graph``) for them; otherwise only
        #: forward levels can see those gradients, and their tangents need no recording.
        self.reverse = 0
        #: Forward sweeps in progress: a sweep nested in another one is part of it (nested
        #: dual numbers evaluate the function once), so only the outermost is counted.
        self.sweeps = 0
        #: The ``compile.Recorder`` watching the first call of a compiled function, or None.
        #: While one is active ``observed`` is set too, so the hot path still checks one flag.
        self.recorder = None


class _PerThread(threading.local):
    def __init__(self) -> None:
        self.s = Switches()


#: ``thread.s`` is the calling thread's :class:`Switches`. The hot path reads it once per
#: operation (a ``threading.local`` attribute costs several plain ones) and then reads plain
#: attributes of it.
thread = _PerThread()


class _CallingThread:
    """``local.grad_enabled`` and the like: the calling thread's switches, for code off the
    hot path (each access looks the thread up)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        return getattr(thread.s, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(thread.s, name, value)


local = _CallingThread()

#: How many compiled functions are being recorded right now, in any thread. Reading a tensor's
#: values is refused only while one is (``compile.Recorder``), and the check costs one global
#: read while none is. Changed under a lock: recordings are rare.
recordings = 0
_recordings_lock = threading.Lock()


def _count_recording(delta: int) -> None:
    global recordings
    with _recordings_lock:
        recordings += delta


#: The mutation clock: a tensor whose data is replaced takes the next value, ``tick()``, once
#: the new data is in place, and a recorded node remembers the value it read before its forward
#: read its inputs. Backward through a node raises exactly when an input or its output took a
#: later value: when the node may have seen other values than the tensors hold now. Reading it
#: is one global read; advancing it takes a lock (two threads' ``+= 1`` could otherwise publish
#: the same value, or an older one after a newer), and data is replaced far less often than
#: operations are recorded.
mutation_clock: int = 0
_clock_lock = threading.Lock()


_acquire_clock, _release_clock = _clock_lock.acquire, _clock_lock.release


def tick() -> int:
    """Advance the mutation clock; returns its new value."""
    global mutation_clock
    _acquire_clock()  # the lock's methods, not ``with``: half the cost, and an optimizer ticks per parameter
    try:
        mutation_clock += 1
        return mutation_clock
    finally:
        _release_clock()

#: Ids of forward-mode levels, increasing, so an inner level always has a larger id.
_level_ids = itertools.count(1)


def __getattr__(name: str) -> Any:
    """``state.grad_enabled``, ``state.observers``, ...: the calling thread's value."""
    if name in Switches.__slots__:
        return getattr(thread.s, name)
    raise AttributeError(f"module 'autograd.state' has no attribute {name!r}")


class _Switch(contextlib.ContextDecorator):
    """A context manager and decorator that sets a per-thread value and puts it back.

    Each entry saves the previous value on the thread's own stack, so an instance may be
    re-entered (nested ``with``, a recursive decorated function) and shared by threads, and the
    state is restored exactly, also when an exception leaves the block.
    """

    def _recreate_cm(self) -> _Switch:
        return self  # the saved values live with the thread, not the instance

    def _enter(self) -> Any:
        raise NotImplementedError

    def _exit(self, saved: Any) -> None:
        raise NotImplementedError

    def __enter__(self) -> _Switch:
        thread.s.saved_modes.append(self._enter())
        return self

    def __exit__(self, *exc: Any) -> None:
        self._exit(thread.s.saved_modes.pop())


class set_grad_enabled(_Switch):
    """Record operations (``True``) or not (``False``) inside the block, in this thread."""

    def __init__(self, mode: bool) -> None:
        super().__init__()
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled: mode must be a bool, got {mode!r}")
        self.mode = mode

    def _enter(self) -> bool:
        s = thread.s
        previous = s.grad_enabled
        s.grad_enabled = self.mode
        return previous

    def _exit(self, saved: bool) -> None:
        thread.s.grad_enabled = saved


class no_grad(set_grad_enabled):
    """Record nothing inside: results do not require grad and no graph is kept.

    Usable as ``with no_grad():`` and as a decorator; nests, re-enters, and holds per thread.
    """

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Record operations inside, even within ``no_grad``."""

    def __init__(self) -> None:
        super().__init__(True)


def is_grad_enabled() -> bool:
    """Whether this thread records operations for reverse mode."""
    return local.grad_enabled


@contextlib.contextmanager
def observing(observer: Any) -> Iterator:
    """Attach ``observer`` to the engine, in this thread, for the duration of the block."""
    s = thread.s
    s.observers.append(observer)
    s.observed = True
    try:
        yield observer
    finally:
        s.observers.remove(observer)
        s.observed = bool(s.observers) or s.recorder is not None


def _enter_scope(s: Switches, name: str) -> None:
    previous = s.scope
    s.saved_scopes.append(previous)  # put back on exit
    s.scope = name if previous is None else f"{previous}.{name}"


class name_scope:
    """Record the nodes created inside as belonging to ``name`` (nested scopes join with '.').

    A plain class rather than a generator: every module call enters one, so it stays cheap.
    The scope it replaces is saved on the thread's own stack, so one instance may be entered
    again inside itself and from several threads at once (a module keeps one for all its calls).
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"name_scope: the name must be a str, got {type(name).__name__}")
        self.name = name

    def __enter__(self) -> None:
        _enter_scope(thread.s, self.name)

    def __exit__(self, *exc: Any) -> None:
        s = thread.s
        s.scope = s.saved_scopes.pop()

    def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` inside this scope: ``with self: return function(*args)`` in one
        call, without the ``with`` protocol's two (a module call runs its forward so)."""
        s = thread.s
        _enter_scope(s, self.name)
        try:
            return function(*args)
        finally:
            s.scope = s.saved_scopes.pop()

    def __call__(self, function: Any) -> Any:
        """Use as a decorator: each call enters a scope of this name."""
        import functools

        @functools.wraps(function)
        def scoped(*args: Any, **kwargs: Any) -> Any:
            with name_scope(self.name):
                return function(*args, **kwargs)

        return scoped


# ---------------------------------------------------------------------------------------------
# Forward-mode levels and transform depth
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def new_level() -> Iterator[int]:
    """Open a forward-mode level for one transform: its id, active inside the block."""
    if local.recorder is not None:
        raise ConcretizationError(
            "forward-mode tangents (jvp, jacfwd, ...) inside a compiled function are not recorded; "
            "call the transform outside the compiled function"
        )
    level = next(_level_ids)
    s = thread.s
    s.levels.append(level)
    if s.reverse:
        s.recorded_levels.add(level)
    try:
        yield level
    finally:
        s.levels.remove(level)
        s.recorded_levels.discard(level)


@contextlib.contextmanager
def taping() -> Iterator[None]:
    """Record operations on tensors that require grad inside the block, grad mode or not."""
    s = thread.s
    previous = s.taping
    s.taping = True
    try:
        yield
    finally:
        s.taping = previous


@contextlib.contextmanager
def capped(level: int) -> Iterator[None]:
    """Hide the tangents of levels above ``level`` inside the block (a JVP rule of level
    ``level + 1`` runs this way, so its operations carry only the lower levels)."""
    previous = local.cap
    local.cap = level
    try:
        yield
    finally:
        local.cap = previous


class ConcretizationError(RuntimeError):
    """Something in a compiled function depends on values that a replay would not see
    (``autograd.compile``)."""


@contextlib.contextmanager
def reversing() -> Iterator[None]:
    """Mark that a reverse transform is recording its function."""
    s = thread.s
    s.reverse += 1
    try:
        yield
    finally:
        s.reverse -= 1


@contextlib.contextmanager
def transforming() -> Iterator[int]:
    """Mark that a function transform is evaluating its function; yields the depth outside."""
    if local.recorder is not None:
        raise ConcretizationError(
            "a function transform (grad, jvp, jacfwd, jacrev, hessian, ...) inside a compiled "
            "function: only backward() is recorded; call the transform outside the compiled function"
        )
    depth = local.depth
    local.depth = depth + 1
    try:
        yield depth
    finally:
        local.depth = depth
