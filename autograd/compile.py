"""Compiled steps: record what a function runs once, replay it as a flat list of NumPy calls.

``step = autograd.compile(fn)``. The first call of ``step`` for given argument shapes and
dtypes runs ``fn`` eagerly while a :class:`Recorder` watches the engine: every primitive that
``apply`` evaluates, the backward sweep (its VJPs and accumulations, in the engine's order) and
the optimizer's update (reported through the protocol below). Each of these becomes one or a few
NumPy kernel calls, ``(function, arguments)``, whose outputs are arrays allocated once: the
arrays the eager call itself produced. Later calls run ``for f, args in program: f(*args)``:
no Tensor, graph, module code or validation, only the same kernels, so the numbers are those
of eager execution. Outputs go positionally (``np.add(x, y, out)``,
``np.add.reduce(a, 0, None, out, True)``): keyword parsing costs more than small kernels. The
order of the kernels is eager's except where no number can change: a linear layer's bias
gradient is summed first, and on large arrays kernels that work row by row (``Z += b``,
``relu(Z)`` and its mask; relu's gradient and the bias's) run together on one block of rows
after another (:class:`_InRows`), so each block is read while it is in the cache.

**Faithful or loud.** What the replay cannot reproduce raises a :class:`ConcretizationError`
while recording, naming the construct: reading a tensor's values (``.data``, ``.numpy()``,
``.item()``, ``bool(t)``: Python then decides something from values a replay will not see),
randomness drawn in Python (NumPy's global generator, the ``random`` module), forward-mode
tangents and ``gradients``/function transforms inside the function. Library code that must
compute something from values in NumPy declares it with :func:`host` (replayed on every call);
checks that only raise may read values with :func:`check_values` (checked when recording).

**What a replay reads from outside.** The arguments (bound anew on every call; an argument
that is a different array object is bound in place of the old one; NumPy arrays arrive in the
function as constant tensors, in C order as eager operations copy them, and NumPy arrays the
function merely captures are constants of the recording, as under ``jax.jit``); every leaf
tensor the function used (a parameter whose data was replaced, ``p.data = ...`` or
``load_state_dict``, is copied into the replay's buffer before the replay; a constant tensor
whose data was replaced makes a new recording); the optimizers' hyperparameters (the learning
rate is refreshed before every replay, any other change makes a new recording). An optimizer
whose state was replaced from outside makes a new recording.

**The optimizer protocol.** An optimizer's ``step()`` asks :func:`recording` for the active
recorder; when there is one it reports its update instead of running it eagerly:

* ``recorder.parameter(p)``: the writeable array that holds ``p``'s values from now on (``p``
  is given a read-only view of it); the update writes into it, in place;
* ``recorder.gradient(p)``: the array that holds ``p.grad`` at this point of the step, or None;
* ``recorder.flat(params)``: the values and gradients of a parameter group as two flat arrays,
  when the recording laid them out so (the group was declared with :func:`update_together`):
  an elementwise update then runs each kernel once for the whole group;
* ``recorder.kernel(f, *args, now=True)``: the call ``f(*args)`` becomes part of the step;
  ``now`` runs it at once too (the recording call must compute what eager execution would);
  ``now=False`` only appends it (for a first step that differs from the later ones, which the
  optimizer then computes itself);
* ``recorder.before_replay(prologue)``: ``prologue()`` runs before the kernels of every
  replay; it refreshes what the kernels read from Python (a learning rate, into a 0-d array)
  and returns False when the recording no longer holds (a hyperparameter changed);
* ``recorder.depends_on(optimizer)``: the replay checks ``optimizer.compile_version`` (an int
  the optimizer bumps whenever its state arrays are replaced outside a replay: an eager step,
  ``load_state_dict``) and records anew when it changed.

State arrays (momentum, Adam's moments) belong to the optimizer and are updated in place by the
kernels, so its state stays readable; hyperparameters are 0-d arrays of the parameter's dtype,
which NumPy treats exactly as it treats the Python floats of the eager step. ``zero_grad()``
reports the parameters it clears with ``recorder.cleared(params)``. ``nn.optim.SGD`` and
``Adam``/``AdamW`` write their updates as kernels (over a whole group at once, in cache-sized
chunks for large groups: each number sees the same operations, so the results are eager's;
Adam's step counts and bias corrections are refreshed by a Python kernel of the program before
the elementwise ones); an optimizer without kernels of its own runs its eager update in one
Python kernel per parameter.
"""

from __future__ import annotations

import functools
import random
import weakref
from collections.abc import Callable
from operator import attrgetter, is_
from typing import Any

import numpy as np

from . import fused as F
from . import primitives as P
from . import state
from .tensor import Tensor, _wrap

_new_tensor = object.__new__
_data_of = attrgetter("_data")

_local = state.local
_thread = state.thread
_ndarray = np.ndarray

__all__ = [
    "ConcretizationError",
    "Compiled",
    "Recorder",
    "check_values",
    "compile",
    "flat_base",
    "host",
    "recording",
    "update_together",
]


ConcretizationError = state.ConcretizationError


def recording() -> Recorder | None:
    """The recorder active in this thread (inside the first call of a compiled function), or None."""
    return _thread.s.recorder  # every optimizer step asks: the thread's switches directly


def concretization(construct: str) -> ConcretizationError:
    """The error for reading a tensor's values while recording (``construct``: ``.data``, ...)."""
    return ConcretizationError(
        f"{construct} inside a compiled function: the values of a tensor are not known to the "
        "recording, and a replay would not run this Python code again, so whatever it decides "
        "from the values would be frozen at the first call. Use engine operations on the "
        "tensor, or move the read out of the compiled function (autograd.compile)"
    )


def check_values(t: Any) -> np.ndarray:
    """The values of ``t`` for a check that only raises (argument validation).

    Allowed inside a compiled function: the check runs when the function is recorded and not on
    replays (a compiled step does no per-call validation).
    """
    return t._data if isinstance(t, Tensor) else np.asarray(t)


def host(fn: Callable[..., np.ndarray], *tensors: Tensor) -> Tensor:
    """``fn`` applied in NumPy to the tensors' values, as a constant tensor (no gradient).

    For library code that needs something piecewise constant from values (a sign mask): a
    compiled function replays ``fn`` on every call instead of freezing its first result.
    """
    arrays = [t._data for t in tensors]
    out = np.asarray(fn(*arrays))
    recorder = _thread.s.recorder
    if recorder is not None:
        out = recorder.host(fn, arrays, out)
    return _wrap(out)


# ---------------------------------------------------------------------------------------------
# Kernels used by the replays
# ---------------------------------------------------------------------------------------------


class _ArgumentView:
    """In a kernel's arguments: ``view(argument)``, made again whenever the argument is rebound
    (``x.T`` of an input ``x``), so the kernel itself stays a plain NumPy call."""

    __slots__ = ("array", "view")

    def __init__(self, array: np.ndarray, view: Callable) -> None:
        self.array, self.view = array, view


def _transpose(a: np.ndarray) -> np.ndarray:
    return a.T


def _copy_into(out, value):
    np.copyto(out, value, casting="unsafe")


def _rule_into(rule, outs, *args):
    """A rule that has no kernel form: its result copied into the preallocated output(s)."""
    result = rule(*args)
    if result.__class__ is tuple:
        for out, value in zip(outs, result):
            np.copyto(out, value, casting="unsafe")
    else:
        np.copyto(outs[0], result, casting="unsafe")


def _host_into(fn, out, *arrays):
    np.copyto(out, fn(*arrays), casting="unsafe")


#: The order of linear's VJPs in a replay: b (a reduction of g, which was just computed), W, x.
_LINEAR_VJP_ORDER = (2, 0, 1)


class _Rerecord(Exception):
    """A replay found that something it bound was replaced from outside: record anew."""


# ---------------------------------------------------------------------------------------------
# The recorder
# ---------------------------------------------------------------------------------------------

_CONST, _ARG, _STATE, _TEMP = "const", "arg", "state", "temp"

#: Leaf tensors given a replay buffer, with (buffer, read-only view): every recording that uses
#: the tensor shares them, so recordings for several batch sizes update the same parameters.
_ADOPTED: dict = {}  # id(tensor) -> (buffer, view); entries leave with their tensor (a finalizer)

#: Leaf tensors that an optimizer updates together (a parameter group of one dtype), declared
#: by :func:`update_together`: id(tensor) -> weak references to the whole group, in order.
_TOGETHER: dict = {}


def update_together(tensors: Any) -> None:
    """Declare leaf tensors that are updated together (an optimizer's parameter group).

    A recording that adopts one of them adopts them all, laid out one after another in a single
    flat buffer, and gives their gradients the same layout in another: an update can then run
    each of its elementwise kernels once over the whole group instead of once per tensor
    (:meth:`Recorder.flat`). Eager execution is unaffected.
    """
    group = list(tensors)
    if len(group) < 2 or len({t._data.dtype for t in group}) != 1:
        return
    refs = tuple(weakref.ref(t) for t in group)
    for t in group:
        if id(t) not in _TOGETHER:
            weakref.finalize(t, _TOGETHER.pop, id(t), None)
        _TOGETHER[id(t)] = refs


def flat_base(pieces: list) -> np.ndarray | None:
    """The 1-d array that ``pieces`` tile, one after another from its start to its end, or None.

    An optimizer asks it whether a group's values are already laid out as one flat array (an
    earlier recording's), so that its state can be laid out alike."""
    base = pieces[0].base
    if base is None or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    address, size = base.ctypes.data, 0
    for piece in pieces:
        if piece.base is not base or not piece.flags.c_contiguous:
            return None
        if piece.ctypes.data != address + size * base.itemsize:
            return None
        size += piece.size
    return base if size == base.size else None


class Recorder:
    """Watches one eager call and writes its replay program.

    Every array the program touches has a kind: ``const`` (never written, bound as it is),
    ``arg`` (an argument, bound anew per call), ``state`` (a leaf tensor's values, in a buffer
    the replay owns) or ``temp`` (produced by a kernel). Arrays are known by ``id`` of the array
    the eager call used; all of them are kept alive while recording so ids stay unique.
    """

    def __init__(self) -> None:
        self.program: list = []
        self.replay_of: dict[int, np.ndarray] = {}
        self.kind: dict[int, str] = {}
        self.keep: list = []
        self.arg_uses: list[list] = []  # per argument: [(args list, position), ...]
        self.arg_index: dict[int, int] = {}  # id(replay array) of an argument -> its index
        self.states: list = []  # [tensor, buffer, view, updated]
        self.state_of: dict[int, list] = {}  # id(tensor) -> its entry in states
        self.watched: list = []  # (tensor, array) constants bound as they are
        self.watched_ids: set = set()
        self.optimizers: list = []  # (optimizer, version)
        self.cleared_ids: set = set()
        self.fresh_leaves: list = []  # leaves whose first gradient assumed .grad None at entry
        self.prologues: list = []  # functions run before every replay (refresh scalars, check)
        self.gradient_slots: dict = {}  # id(leaf) -> its gradient's piece of a flat array
        self.in_rows: dict = {}  # id(Z) -> the _InRows kernel of a linear layer's relu

    # -- arrays --------------------------------------------------------------------------

    def _know(self, array: np.ndarray, replay: np.ndarray, kind: str) -> None:
        self.keep.append(array)
        self.replay_of[id(array)] = replay
        self.kind[id(array)] = kind
        if replay is not array:
            self.keep.append(replay)
            self.replay_of[id(replay)] = replay
            self.kind[id(replay)] = kind

    def bind_argument(self, index: int, array: np.ndarray) -> None:
        self.arg_uses.append([])
        self._know(array, array, _ARG)
        self.arg_index[id(array)] = index

    def tensor_array(self, t: Tensor) -> np.ndarray:
        """The record-time array of an input tensor, captured on first sight."""
        array = t._data
        if id(array) in self.kind:
            return array
        if t._prim is None and t.requires_grad:
            return self._adopt(t)
        # A constant leaf, or a tensor computed before the recording: bound as it is, and
        # watched: if its data is replaced, the function is recorded anew.
        self._know(array, array, _CONST)
        if id(t) not in self.watched_ids:
            self.watched_ids.add(id(t))
            self.watched.append((t, array))
        return array

    def _adopt(self, t: Tensor) -> np.ndarray:
        """Give a leaf tensor a buffer of the replay's: ``t`` gets a read-only view of it."""
        entry = self.state_of.get(id(t))
        if entry is not None:
            return entry[2]
        group = self._group_of(t)
        if group is not None:
            self._adopt_flat(group)
            return self.state_of[id(t)][2]
        old = t._data
        shared = _ADOPTED.get(id(t))
        if shared is not None and shared[1] is old:
            buffer, view = shared  # adopted by another recording: one buffer for all of them
        else:
            buffer = np.array(old, copy=True)
            view = buffer.view()
            view.flags.writeable = False
            self._install(t, buffer, view)
        self._register(t, old, buffer, view)
        return view

    def _install(self, t: Tensor, buffer: np.ndarray, view: np.ndarray) -> None:
        """``t``'s values from now on: ``view``, a read-only view of the replay's ``buffer``."""
        t._data = view
        _ADOPTED[id(t)] = (buffer, view)
        # Keyed by identity (a tensor's == is elementwise), dropped when the tensor goes.
        weakref.finalize(t, _ADOPTED.pop, id(t), None)

    def _register(self, t: Tensor, old: np.ndarray, buffer: np.ndarray, view: np.ndarray) -> None:
        self._know(old, view, _STATE)
        self._know(view, view, _STATE)
        self.keep.append(buffer)
        entry = [t, buffer, view, False]
        self.states.append(entry)
        self.state_of[id(t)] = entry

    def _group_of(self, t: Tensor) -> list | None:
        """The tensors declared to be updated with ``t`` (:func:`update_together`), if every one
        of them is alive, a leaf that requires grad, of ``t``'s dtype and not adopted yet."""
        refs = _TOGETHER.get(id(t))
        if refs is None:
            return None
        group = [r() for r in refs]
        for s in group:
            if s is None or s._prim is not None or not s.requires_grad or id(s) in self.state_of:
                return None
            if s._data.dtype != t._data.dtype:
                return None
        return group if any(s is t for s in group) else None

    def _adopt_flat(self, group: list) -> None:
        """Adopt the tensors of a group into consecutive pieces of one flat buffer (the pieces
        another recording laid out, if they still are)."""
        shared = [_ADOPTED.get(id(s)) for s in group]
        base = None
        if None not in shared:
            base = flat_base([buffer for buffer, _ in shared])
            if base is not None and any(b.shape != s._data.shape for (b, _), s in zip(shared, group)):
                base = None
        if base is None:
            base = np.empty(sum(s._data.size for s in group), dtype=group[0]._data.dtype)
            shared, start = [], 0
            for s in group:
                buffer = base[start : start + s._data.size].reshape(s._data.shape)
                start += s._data.size
                view = buffer.view()
                view.flags.writeable = False
                shared.append((buffer, view))
        for s, (buffer, view) in zip(group, shared):
            old = s._data
            if old is not view:
                np.copyto(buffer, old)  # (of its shape and dtype: it requires grad)
                self._install(s, buffer, view)
            self._register(s, old, buffer, view)

    def _gradient_slot(self, leaf: Tensor) -> np.ndarray | None:
        """Where the replay keeps ``leaf``'s gradient, if its group was adopted flat: a piece of
        one flat array holding the gradients of the whole group, laid out as their values."""
        slot = self.gradient_slots.get(id(leaf))
        if slot is not None or id(leaf) not in self.state_of:
            return slot
        refs = _TOGETHER.get(id(leaf))
        if refs is None:
            return None
        group = [r() for r in refs]
        entries = [self.state_of.get(id(s)) for s in group if s is not None]
        if len(entries) != len(group) or None in entries or flat_base([e[1] for e in entries]) is None:
            return None
        base = np.empty(sum(e[1].size for e in entries), dtype=entries[0][1].dtype)
        start = 0
        for s, entry in zip(group, entries):
            self.gradient_slots[id(s)] = base[start : start + entry[1].size].reshape(entry[1].shape)
            start += entry[1].size
        return self.gradient_slots[id(leaf)]

    def flat(self, params: list) -> tuple[np.ndarray, np.ndarray] | None:
        """``(values, gradients)`` of the parameters as two flat arrays, each parameter's piece
        after the previous one's, if the recording laid them out so (:func:`update_together`)
        and every one has a gradient in its slot; else None."""
        entries = [self.state_of.get(id(p)) for p in params]
        if len(params) < 2 or None in entries:
            return None
        values = flat_base([e[1] for e in entries])
        grads = [p.grad for p in params]
        slots = [self.gradient_slots.get(id(p)) for p in params]
        if values is None or any(g is None or g is not slot for g, slot in zip(grads, slots)):
            return None
        gradients = flat_base(grads)
        return None if gradients is None else (values, gradients)

    def _resolve(self, value: Any) -> Any:
        if value.__class__ is not _ndarray:
            return value
        replay = self.replay_of.get(id(value))
        if replay is None:
            self._know(value, value, _CONST)
            return value
        return replay

    def _is_const(self, value: Any) -> bool:
        return value.__class__ is not _ndarray or self.kind.get(id(value), _CONST) == _CONST

    def _is_arg(self, value: Any) -> bool:
        return value.__class__ is _ndarray and self.kind.get(id(value)) == _ARG

    def _temp(self, array: np.ndarray, into: np.ndarray | None = None) -> np.ndarray:
        """An array the eager call produced, as an output buffer of the program (``into``, if
        given: an array of its shape and dtype that the program writes instead)."""
        if id(array) in self.kind:
            return self.replay_of[id(array)]
        if into is not None:
            np.copyto(into, array)
            self._know(array, into, _TEMP)
            return into
        if array.base is not None:
            # A view (of an argument, say): the replay writes into a buffer of its own, never
            # into memory that something else owns.
            buffer = np.array(array, copy=True)
            self._know(array, buffer, _TEMP)
            return buffer
        if not array.flags.writeable:
            array.flags.writeable = True  # an array the op made (its owner): ours from now on
        self._know(array, array, _TEMP)
        return array

    def emit(self, function: Callable, args: list, outs: tuple = (), now: bool = True) -> None:
        """Append ``function(*args)``; ``outs`` are the positions of the outputs in ``args``.

        Arguments are record-time arrays (or Python values); each is replaced by the array the
        replay uses. ``now`` runs the call at once, so the recording call computes what the
        replays will.
        """
        resolved = []
        for position, a in enumerate(args):
            if a.__class__ is _ArgumentView:
                index = self.arg_index[id(a.array)]
                resolved.append(a.view(a.array))
                self.arg_uses[index].append((resolved, position, a.view))
                continue
            a = self._resolve(a)
            resolved.append(a)
            if a.__class__ is _ndarray and position not in outs:
                index = self.arg_index.get(id(a))
                if index is not None:
                    self.arg_uses[index].append((resolved, position, None))
        if now:
            function(*resolved)
        self.program.append((function, resolved))

    def _derived_view(self, result: np.ndarray, sources: list) -> bool:
        """Whether ``result`` is a view of a buffer the replay keeps (so it needs no kernel)."""
        for s in sources:
            if s.__class__ is _ndarray and s.size and result.size and np.may_share_memory(result, s):
                if self._is_arg(s):
                    return False
                self._know(result, result, self.kind.get(id(s), _CONST))
                return True
        return False

    def _all_const(self, arrays) -> bool:
        return all(self._is_const(a) for a in arrays)

    def _computed(
        self, result: np.ndarray, sources: list, lower: Callable, fallback: Callable, into: Any = None
    ) -> Any:
        """Register ``result`` (computed eagerly from ``sources``) and emit what recomputes it
        (into ``into``, if given and the result needs a buffer)."""
        if id(result) in self.kind:
            return self.replay_of[id(result)]  # the rule returned an input (add's g), a known array
        if self._all_const(sources):
            self._know(result, result, _CONST)
            return result
        if self._derived_view(result, sources):
            return result
        out = self._temp(result, into)
        if lower is None or not lower(out):
            fallback(out)
        return out

    # -- the engine's hooks --------------------------------------------------------------

    def on_apply(self, prim: P.Primitive, inputs: tuple, static: tuple, out: Tensor) -> None:
        if out._tangents is not None:
            raise ConcretizationError(
                "forward-mode tangents inside a compiled function: jvp/jacfwd are not recorded; "
                "call them outside the compiled function"
            )
        xs = [self.tensor_array(t) for t in inputs]
        ans = out._data
        residual = None
        if prim is F.SOFTMAX_CROSS_ENTROPY:
            residual = static[-1] if len(static) == 1 else None
        if self._all_const(xs):
            self._know(ans, ans, _CONST)
            if residual is not None:
                self._know(residual, residual, _CONST)
            return
        if self._derived_view(ans, xs):
            return
        buffer = self._temp(ans)
        if buffer is not ans:
            out._data = buffer
        lower = _FORWARD.get(prim)
        if residual is not None:
            residual = self._temp(residual)
        if lower is not None and lower(self, buffer, xs, static, residual):
            return
        outs = (buffer,) if residual is None else (buffer, residual)
        rule_static = static[: len(static) - (residual is not None)]
        self.emit(_rule_into, [prim.forward, outs, *xs, *rule_static], (1,))

    def host(self, fn: Callable, arrays: list, out: np.ndarray) -> np.ndarray:
        for a in arrays:
            if id(a) not in self.kind:
                self._know(a, a, _CONST)
        if self._all_const(arrays):
            self._know(out, out, _CONST)
            return out
        if id(out) in self.kind or any(np.may_share_memory(out, a) for a in arrays):
            out = np.array(out, copy=True)
        buffer = self._temp(out)
        if buffer is not out:
            np.copyto(buffer, out)
        # Not run again now: fn already ran once for this call, and running it twice would draw
        # twice from a generator it reads (dropout's masks).
        self.emit(_host_into, [fn, buffer, *arrays], (1,), now=False)
        return buffer

    # -- backward --------------------------------------------------------------------------

    def backward(self, root: Tensor, seed: np.ndarray, retain_graph: bool) -> None:
        """``root.backward(seed)`` as the engine's ``_sweep`` runs it, with every VJP and every
        accumulation emitted as kernels (same rules, same order, same in-place decisions)."""
        self._know(seed, seed, _CONST)
        if root._prim is None:
            self._accumulate_leaf(root, seed, False)
            return
        from .backward import (
            _consumed_error,
            _consumers,
            _edge_error,
            _input_modified_error,
            _is_operand,
            _output_modified_error,
            _unconsume,
        )

        counts = _consumers((root,), None)
        grads: dict = {id(root): seed}
        owned: set = set()
        leaves: dict = {}
        ready = [root] if counts[id(root)] == 0 else []
        observed = bool(_local.observers)
        token = object()
        try:
            while ready:
                node = ready.pop()
                key = id(node)
                g = grads.pop(key)
                owned.discard(key)
                if node._consumed:
                    raise _consumed_error(node)
                if node._retains_grad:
                    raise ConcretizationError(
                        "retain_grad() inside a compiled function: the replay keeps no intermediate "
                        "tensors; return the value instead"
                    )
                parents = node._parents
                clock = node._clock
                if node._mutated_at > clock:
                    raise _output_modified_error(node)
                ans = node._data
                static = node._static
                xs = [p._data for p in parents]
                args = (*xs, *static)
                vjps = node._prim.vjps
                order = range(len(parents))
                if node._prim is F.LINEAR and not observed and len({id(p) for p in parents}) == 3:
                    # The bias's gradient first, while g is in the cache (the products read it
                    # again): distinct inputs, so no sum is reordered (the checks keep eager's).
                    for i, parent in enumerate(parents):
                        if parent._mutated_at > clock:
                            raise _input_modified_error(node, i, parent)
                    order = _LINEAR_VJP_ORDER
                for i in order:
                    parent = parents[i]
                    if parent._mutated_at > clock:
                        raise _input_modified_error(node, i, parent)
                    if not parent.requires_grad:
                        continue
                    pkey = id(parent)
                    gi = vjps[i](g, ans, *args)
                    if observed:
                        for observer in _local.observers:
                            observer.on_vjp(node, i, gi)
                    gi = np.asarray(gi)
                    data = parent._data
                    if gi.shape != data.shape:
                        raise _edge_error(node, i, parent, gi)
                    fresh = not (
                        observed
                        or gi is g
                        or gi is ans
                        or gi.base is not None
                        or not gi.flags.writeable
                        or _is_operand(gi, args)
                    )
                    slot = None
                    if fresh and parent._prim is None and pkey not in grads and gi.dtype == data.dtype:
                        slot = self._gradient_slot(parent)  # a leaf's first (and only) gradient
                    gi = self._vjp(node._prim, i, gi, g, ans, xs, static, slot)
                    if gi.dtype != data.dtype:
                        cast = gi.astype(data.dtype)
                        gi = self._computed(
                            cast, [gi], None, lambda out, gi=gi: self.emit(_copy_into, [out, gi], (0,))
                        )
                        fresh = True
                    previous = grads.get(pkey)
                    if previous is None:
                        grads[pkey] = gi
                        if fresh:
                            owned.add(pkey)
                        if parent._prim is None:
                            leaves[pkey] = parent
                    elif pkey in owned:
                        self.emit(np.add, [previous, gi, previous], (2,))
                    else:
                        total = np.asarray(previous + gi)
                        grads[pkey] = self._computed(
                            total,
                            [previous, gi],
                            None,
                            lambda out, a=previous, b=gi: self.emit(np.add, [a, b, out], (2,)),
                        )
                        owned.add(pkey)
                    if parent._prim is not None:
                        remaining = counts[pkey] - 1
                        counts[pkey] = remaining
                        if not remaining:
                            ready.append(parent)
                if not retain_graph:
                    node._consumed = token
        except BaseException:
            if not retain_graph:
                _unconsume((root,), token)
            raise
        for pkey, leaf in leaves.items():
            self._accumulate_leaf(leaf, grads[pkey], pkey in owned)

    def _vjp(self, prim, i, gi, g, ans, xs, static, into=None) -> np.ndarray:
        sources = [g, ans, *xs]
        lower = _VJP.get((prim, i))
        rule = prim.vjps[i]

        def fallback(out):
            self.emit(_rule_into, [rule, (out,), g, ans, *xs, *static], (1,))

        def lowered(out):
            return lower(self, out, g, ans, xs, static)

        return self._computed(gi, sources, lowered if lower is not None else None, fallback, into)

    def _accumulate_leaf(self, leaf: Tensor, g: np.ndarray, owned: bool) -> None:
        self.tensor_array(leaf)
        if leaf.grad is None:
            if id(leaf) not in self.cleared_ids and id(leaf) not in {id(t) for t in self.fresh_leaves}:
                self.fresh_leaves.append(leaf)
            if owned:
                leaf.grad = g
            else:
                copy = np.array(g, dtype=leaf._data.dtype, copy=True)
                slot = self._gradient_slot(leaf)

                def fallback(out):
                    self.emit(_copy_into, [out, g], (0,))

                leaf.grad = self._computed(copy, [g], None, fallback, slot)
            return
        previous = leaf.grad
        if self.kind.get(id(previous)) != _TEMP:
            raise ConcretizationError(
                f"backward inside a compiled function adds to the .grad of {leaf.name or 'a leaf'} "
                "that was set before the function was called: a replay could not tell how many "
                "steps have accumulated; call zero_grad() inside the function (or before each call)"
            )
        total = np.asarray(previous + g)
        leaf.grad = self._computed(
            total, [previous, g], None, lambda out: self.emit(np.add, [previous, g, out], (2,))
        )

    # -- the optimizer protocol ------------------------------------------------------------

    def parameter(self, p: Tensor) -> np.ndarray:
        """The writeable buffer holding ``p``'s values; the step updates it in place."""
        self._adopt(p)
        entry = self.state_of[id(p)]
        entry[3] = True
        # The update writes into the buffer: ``p`` (a view of it) changes, as after assign().
        p._mutated_at = state.tick()
        buffer = entry[1]
        self.replay_of[id(buffer)] = buffer
        self.kind[id(buffer)] = _STATE
        return buffer

    def gradient(self, p: Tensor) -> np.ndarray | None:
        return p.grad

    def kernel(self, function: Callable, *args: Any, now: bool = True) -> None:
        """Append ``function(*args)`` to the step (running it now too, unless ``now=False``).

        Arrays the recorder does not know (the optimizer's own state) are bound as they are:
        the kernels update them in place.
        """
        for a in args:
            if a.__class__ is _ndarray and id(a) not in self.kind:
                self._know(a, a, _TEMP)
        self.emit(function, list(args), (), now)

    def owns(self, array: np.ndarray) -> bool:
        """Whether the replays use ``array`` itself, never an argument bound per call: an array
        the optimizer may address in pieces (a parameter's buffer, its gradient, its state)."""
        known = self.replay_of.get(id(array))
        return known is None or (known is array and self.kind[id(array)] != _ARG)

    def depends_on(self, optimizer: Any) -> None:
        if all(o is not optimizer for o, _ in self.optimizers):
            self.optimizers.append((optimizer, None))

    def before_replay(self, prologue: Callable[[], bool]) -> None:
        """``prologue()`` runs before the kernels of every replay: it refreshes what the kernels
        read from Python (a learning rate into its 0-d array) and returns False when something
        the recording assumed no longer holds (then the function is recorded anew)."""
        self.prologues.append(prologue)

    def cleared(self, params) -> None:
        for p in params:
            self.cleared_ids.add(id(p))


# ---------------------------------------------------------------------------------------------
# Kernel forms of the primitives' forwards and VJPs (everything else goes through _rule_into)
# ---------------------------------------------------------------------------------------------

#: Primitives whose forward is this ufunc itself: replayed as the ufunc into the output buffer.
_UNARY = {
    P.EXP: np.exp,
    P.LOG: np.log,
    P.NEG: np.negative,
    P.RECIPROCAL: np.reciprocal,
    P.TANH: np.tanh,
    P.SQRT: np.sqrt,
    P.ABS: np.absolute,
    P.SIN: np.sin,
    P.COS: np.cos,
}
_BINARY = {P.ADD: np.add, P.MUL: np.multiply, P.MATMUL: np.matmul, P.DIVIDE: np.divide, P.POWER: np.power}


def _forward_unary(ufunc):
    def lower(rec, out, xs, static, residual):
        rec.emit(ufunc, [xs[0], out], (1,))
        return True

    return lower


def _forward_binary(ufunc):
    def lower(rec, out, xs, static, residual):
        if ufunc is np.matmul and (xs[0].ndim != 2 or xs[1].ndim != 2):
            return False
        rec.emit(ufunc, [xs[0], xs[1], out], (2,))
        return True

    return lower


def _maximum_into(x, y, out):
    # np.maximum's positional out is deprecated (NumPy 2.4), and the warning costs more than
    # the keyword.
    np.maximum(x, y, out=out)


def _minimum_into(x, y, out):
    np.minimum(x, y, out=out)  # (as _maximum_into)


class _InRows:
    """Kernels that read and write their arrays row by row (elementwise, with a bias of one
    column), run on one block of rows after another: each block of ``Z`` stays in the cache
    from one kernel to the next instead of every kernel reading all of ``Z`` again. Each
    number goes through the same operations in the same order."""

    __slots__ = ("kernels", "rows", "block", "blocks")

    def __init__(self, kernels: list, rows: int, block: int) -> None:
        self.kernels, self.rows, self.block = kernels, rows, block
        self._build()

    def _build(self) -> None:
        def piece(a, start, stop):
            if a.__class__ is _ndarray and a.ndim == 2 and a.shape[0] == self.rows:
                return a[start:stop]
            return a  # a 0-d scalar

        self.blocks = [
            [(f, [piece(a, start, start + self.block) for a in args]) for f, args in self.kernels]
            for start in range(0, self.rows, self.block)
        ]

    def append(self, function: Callable, args: list) -> None:
        self.kernels.append((function, args))
        self._build()

    def __call__(self) -> None:
        for kernels in self.blocks:
            for f, args in kernels:
                f(*args)


#: Linear + relu on arrays of more than this many bytes run in blocks of rows of this size.
ROW_BLOCK_BYTES = 256 * 1024


def _forward_relu(rec, out, xs, static, residual):
    x = xs[0]
    zero = P._zero(x.dtype)
    if _relu_in_rows(rec, rec._resolve(x), zero, out):
        return True
    rec.emit(_maximum_into, [x, zero, out], (2,))
    return True


def _relu_in_rows(rec, z, zero, out) -> bool:
    """``relu(Z)`` right after ``Z += b`` (a linear layer's output), both on a large ``Z``:
    the two kernels become one :class:`_InRows` (and relu's backward adds its mask to it)."""
    if not rec.program or z.ndim != 2 or z.nbytes <= 2 * ROW_BLOCK_BYTES:
        return False
    function, args = rec.program[-1]
    if function is not np.add or len(args) != 3 or args[0] is not z or args[2] is not z:
        return False
    b = args[1]
    if b.__class__ is not _ndarray or b.shape != (z.shape[0], 1) or out.shape != z.shape:
        return False
    if any(id(a) in rec.arg_index for a in (z, b, out)):
        return False  # (an argument is bound anew per call; blocks would keep the old one)
    if not (z.flags.c_contiguous and out.flags.c_contiguous):
        return False
    _maximum_into(z, zero, out)  # the recording call computes it now, on the whole arrays
    block = max(1, ROW_BLOCK_BYTES // (z.strides[0] or 1))
    rows = _InRows([(np.add, [z, b, z]), (_maximum_into, [z, zero, out])], z.shape[0], block)
    rec.program[-1] = (rows, [])
    rec.in_rows[id(z)] = rows
    return True


def _forward_sum(rec, out, xs, static, residual):
    axis, keepdims = static
    rec.emit(np.add.reduce, [xs[0], axis, None, out, keepdims], (3,))
    return True


def _forward_broadcast(rec, out, xs, static, residual):
    rec.emit(np.copyto, [out, xs[0]], (0,))
    return True


def _forward_linear(rec, out, xs, static, residual):
    w, x, b = xs
    if out.dtype != b.dtype or w.ndim != 2 or x.ndim != 2:
        return False
    rec.emit(np.matmul, [w, x, out], (2,))
    rec.emit(np.add, [out, b, out], (2,))
    return True


def _forward_softmax_cross_entropy(rec, out, xs, static, residual):
    """``_ce_forward`` as kernels: the shifted logits, their softmax (the residual) and the cost."""
    z, y = xs
    if residual is None or z.dtype != y.dtype or out.dtype != z.dtype:
        return False
    m = z.shape[1]
    column, total, log_total = (_temporary(rec, (1, m), z.dtype) for _ in range(3))
    shifted = _temporary(rec, z.shape, z.dtype)
    rec.emit(np.maximum.reduce, [z, 0, None, column, True], (3,))
    rec.emit(np.subtract, [z, column, shifted], (2,))
    rec.emit(np.exp, [shifted, residual], (1,))
    _emit_sum_keepdims(rec, residual, 0, total)
    rec.emit(np.log, [total, log_total], (1,))
    rec.emit(np.subtract, [shifted, log_total, shifted], (2,))
    rec.emit(np.divide, [residual, total, residual], (2,))
    # -(s)/m in one division: IEEE division rounds symmetrically, so s/(-m) is bitwise -(s/m);
    # -m as a scalar of the dtype (the value NumPy would convert the Python number to).
    rec.emit(_finish_cost, [out, out.dtype.type(-m), y, shifted], (0,))
    return True


def _finish_cost(out, minus_m, y, logp):
    """``Σ Y ⊙ log A / -m`` by eager's own sum (``fused.cost_sum``: one dot product, the masked
    sum when that is NaN). The division of two NumPy scalars of the dtype is the ufunc's
    division, without its call overhead."""
    out[()] = F.cost_sum(y, logp) / minus_m


def _temporary(rec, shape: tuple, dtype: Any) -> np.ndarray:
    """A scratch array of the program, written by a kernel before any other reads it."""
    array = np.empty(shape, dtype=dtype)
    rec._know(array, array, _TEMP)
    return array


def _constant_of(value: float, dtype: np.dtype) -> np.ndarray:
    """A Python number as the 0-d array of ``dtype`` that NumPy converts it to in an operation
    with an array of that dtype (NumPy 2 treats Python numbers as weakly typed)."""
    return np.array(value, dtype=dtype)


def _where_into(out, mask, value, otherwise):
    """``out = np.where(mask, value, otherwise)``: selection only, so the same numbers."""
    np.copyto(out, otherwise)
    np.copyto(out, value, where=mask)


def _forward_sigmoid(rec, out, xs, static, residual):
    """``primitives._sigmoid`` as kernels, in its order: ``e = exp(-|x|)``, then
    ``where(x >= 0, 1, e) / (1 + e)``."""
    x = xs[0]
    if out.dtype != x.dtype:
        return False
    e, scratch = _temporary(rec, out.shape, out.dtype), _temporary(rec, out.shape, out.dtype)
    mask = _temporary(rec, out.shape, bool)
    one = _constant_of(1, x.dtype)
    rec.emit(np.abs, [x, scratch], (1,))
    rec.emit(np.negative, [scratch, scratch], (1,))
    rec.emit(np.exp, [scratch, e], (1,))
    rec.emit(np.greater_equal, [x, P._zero(x.dtype), mask], (2,))
    rec.emit(_where_into, [out, mask, one, e], (0,))
    rec.emit(np.add, [one, e, scratch], (2,))
    rec.emit(np.divide, [out, scratch, out], (2,))
    return True


_FORWARD: dict = {prim: _forward_unary(u) for prim, u in _UNARY.items()}
_FORWARD.update({prim: _forward_binary(u) for prim, u in _BINARY.items()})
_FORWARD[P.RELU] = _forward_relu
_FORWARD[P.SIGMOID] = _forward_sigmoid
_FORWARD[P.MAXIMUM] = _forward_binary(_maximum_into)
_FORWARD[P.MINIMUM] = _forward_binary(_minimum_into)
_FORWARD[P.SUM] = _forward_sum
_FORWARD[P.BROADCAST_TO] = _forward_broadcast
_FORWARD[F.LINEAR] = _forward_linear
_FORWARD[F.SOFTMAX_CROSS_ENTROPY] = _forward_softmax_cross_entropy


def _matmul_g_xt(rec, out, g, x):
    """``g @ x.T`` into ``out``; the transpose is taken per call for an argument (rebound)."""
    if rec._is_arg(x):
        rec.emit(np.matmul, [g, _ArgumentView(x, _transpose), out], (2,))
    else:
        rec.emit(np.matmul, [g, rec._resolve(x).T, out], (2,))


def _matmul_wt_g(rec, out, w, g):
    if rec._is_arg(w):
        rec.emit(np.matmul, [_ArgumentView(w, _transpose), g, out], (2,))
    else:
        rec.emit(np.matmul, [rec._resolve(w).T, g, out], (2,))


def _vjp_linear_w(rec, out, g, ans, xs, static):
    if g.ndim != 2:
        return False
    _matmul_g_xt(rec, out, g, xs[1])
    return True


def _vjp_linear_x(rec, out, g, ans, xs, static):
    if g.ndim != 2:
        return False
    _matmul_wt_g(rec, out, xs[0], g)
    return True


def _vjp_bias(shape_of):
    def lower(rec, out, g, ans, xs, static):
        shape = shape_of(xs, static)
        bias = len(shape) == 2 and shape[1] == 1 and shape[0] == g.shape[0]
        if not (g.ndim == 2 and bias and g.shape[1] != 1):
            return False
        _emit_sum_keepdims(rec, g, 1, out)
        return True

    return lower


def _emit_sum_keepdims(rec, x, axis, out) -> None:
    """Eager's ``sum_keepdims(x, axis)`` into ``out``: the same kernel call."""
    function, args = P.sum_keepdims_kernel(x, axis, out)
    rec.emit(function, args, ((2,) if len(args) == 3 else (3,)))  # out: last of a product's three


def _vjp_matmul_x(rec, out, g, ans, xs, static):
    if xs[0].ndim != 2 or xs[1].ndim != 2:
        return False
    _matmul_g_xt(rec, out, g, xs[1])
    return True


def _vjp_matmul_y(rec, out, g, ans, xs, static):
    if xs[0].ndim != 2 or xs[1].ndim != 2:
        return False
    _matmul_wt_g(rec, out, xs[0], g)
    return True


def _vjp_relu(rec, out, g, ans, xs, static):
    x = xs[0]
    mask = _temporary(rec, x.shape, bool)
    rows = rec.in_rows.get(id(rec._resolve(x)))
    if rows is not None:
        # The mask is computed with the forward's blocks, while each block of Z is in the
        # cache (Z does not change after them).
        z, zero = rec._resolve(x), P._zero(x.dtype)
        np.greater(z, zero, mask)
        rows.append(np.greater, [z, zero, mask])
    else:
        rec.emit(np.greater, [x, P._zero(x.dtype), mask], (2,))
    rec.emit(np.multiply, [g, mask, out], (2,))
    return True


def _vjp_sech2_chain(scale: float):
    """``primitives._sech2_chain(scale)`` (tanh's and sigmoid's VJP) as kernels, in its order:
    ``e = exp(|x| * -c)``, then ``g * (e * c² / ((e + 1) * (e + 1)))``."""

    def lower(rec, out, g, ans, xs, static):
        x = xs[0]
        if not (g.dtype == x.dtype == out.dtype and g.shape == x.shape):
            return False
        e, one_plus = _temporary(rec, out.shape, out.dtype), _temporary(rec, out.shape, out.dtype)
        dtype = x.dtype
        rec.emit(np.abs, [x, e], (1,))
        rec.emit(np.multiply, [e, _constant_of(-scale, dtype), e], (2,))
        rec.emit(np.exp, [e, e], (1,))
        rec.emit(np.add, [e, _constant_of(1, dtype), one_plus], (2,))
        rec.emit(np.multiply, [e, _constant_of(scale * scale, dtype), e], (2,))
        rec.emit(np.multiply, [one_plus, one_plus, one_plus], (2,))
        rec.emit(np.divide, [e, one_plus, e], (2,))
        rec.emit(np.multiply, [g, e, out], (2,))
        return True

    return lower


def _vjp_sum(rec, out, g, ans, xs, static):
    """``_sum_vjp``: ``g`` (with the summed axes put back) copied over ``x``'s shape."""
    axis, keepdims = static
    g = rec._resolve(g)
    if out.shape != xs[0].shape or out.dtype != g.dtype:
        return False
    if not keepdims:
        g = g.reshape(P._kept_shape(xs[0].shape, axis))  # a view of g's buffer: follows it
    rec.emit(_copy_into, [out, g], (0,))
    return True


def _same_layout(out, g, *arrays) -> bool:
    """Whether an elementwise rule's kernels may write ``out`` from ``g`` and ``arrays`` as
    eager's operations do: one dtype, and shapes that broadcast to ``out``'s (an untracked
    operand keeps its own shape)."""
    for a in (g, *arrays):
        if a.dtype != out.dtype:
            return False
        if a.shape != out.shape and np.broadcast_shapes(a.shape, out.shape) != out.shape:
            return False
    return True


def _vjp_divide_x(rec, out, g, ans, xs, static):
    """``g / y``."""
    if not _same_layout(out, g, xs[1]):
        return False
    rec.emit(np.divide, [g, xs[1], out], (2,))
    return True


def _vjp_divide_y(rec, out, g, ans, xs, static):
    """``-(g ans) / y``, in that order."""
    if not _same_layout(out, g, ans, xs[1]):
        return False
    rec.emit(np.multiply, [g, ans, out], (2,))
    rec.emit(np.negative, [out, out], (1,))
    rec.emit(np.divide, [out, xs[1], out], (2,))
    return True


def _vjp_sqrt(rec, out, g, ans, xs, static):
    """``g / (ans · 2)``."""
    if not _same_layout(out, g, ans):
        return False
    twice = _temporary(rec, out.shape, out.dtype)
    rec.emit(np.multiply, [ans, _constant_of(2, out.dtype), twice], (2,))
    rec.emit(np.divide, [g, twice, out], (2,))
    return True


def _vjp_reciprocal(rec, out, g, ans, xs, static):
    """``-(g ans ans)``, in that order."""
    if not _same_layout(out, g, ans):
        return False
    rec.emit(np.multiply, [g, ans, out], (2,))
    rec.emit(np.multiply, [out, ans, out], (2,))
    rec.emit(np.negative, [out, out], (1,))
    return True


def _vjp_times(function: Callable, negated: bool = False):
    """A VJP ``g · f(x)`` (``-(g · f(x))`` if ``negated``), in that order: abs's ``g · sign(x)``,
    sin's ``g · cos(x)``, cos's ``-(g · sin(x))``."""

    def lower(rec, out, g, ans, xs, static):
        if not _same_layout(out, g, xs[0]):
            return False
        factor = _temporary(rec, out.shape, out.dtype)
        rec.emit(function, [xs[0], factor], (1,))
        rec.emit(np.multiply, [g, factor, out], (2,))
        if negated:
            rec.emit(np.negative, [out, out], (1,))
        return True

    return lower


def _vjp_mul(index):
    def lower(rec, out, g, ans, xs, static):
        rec.emit(np.multiply, [g, xs[1 - index], out], (2,))
        return True

    return lower


def _vjp_exp(rec, out, g, ans, xs, static):
    rec.emit(np.multiply, [g, ans, out], (2,))
    return True


def _vjp_log(rec, out, g, ans, xs, static):
    rec.emit(np.divide, [g, xs[0], out], (2,))
    return True


def _vjp_neg(rec, out, g, ans, xs, static):
    rec.emit(np.negative, [g, out], (1,))
    return True


def _vjp_softmax_cross_entropy_z(rec, out, g, ans, xs, static):
    """``(A ⊙ Σ₀Y - Y) ⊙ (g/m)``: the rule's kernels, in its order."""
    z, y = xs
    a = static[-1]
    if y.dtype != z.dtype or g.dtype != z.dtype:
        return False
    column = _temporary(rec, (1, y.shape[1]), y.dtype)
    scale = _temporary(rec, (), g.dtype)
    _emit_sum_keepdims(rec, y, 0, column)
    rec.emit(np.multiply, [a, column, out], (2,))
    rec.emit(np.subtract, [out, y, out], (2,))
    if rec._is_const(g):
        scale = np.asarray(g * (1.0 / z.shape[1]))
        rec._know(scale, scale, _CONST)
    else:
        rec.emit(np.multiply, [g, 1.0 / z.shape[1], scale], (2,))
    rec.emit(np.multiply, [out, scale, out], (2,))
    return True


_VJP: dict = {
    (F.LINEAR, 0): _vjp_linear_w,
    (F.LINEAR, 1): _vjp_linear_x,
    (F.LINEAR, 2): _vjp_bias(lambda xs, static: xs[2].shape),
    (P.BROADCAST_TO, 0): _vjp_bias(lambda xs, static: xs[0].shape),
    (P.MATMUL, 0): _vjp_matmul_x,
    (P.MATMUL, 1): _vjp_matmul_y,
    (P.RELU, 0): _vjp_relu,
    (P.SUM, 0): _vjp_sum,
    (P.DIVIDE, 0): _vjp_divide_x,
    (P.DIVIDE, 1): _vjp_divide_y,
    (P.SQRT, 0): _vjp_sqrt,
    (P.RECIPROCAL, 0): _vjp_reciprocal,
    (P.ABS, 0): _vjp_times(np.sign),
    (P.SIN, 0): _vjp_times(np.cos),
    (P.COS, 0): _vjp_times(np.sin, negated=True),
    (P.TANH, 0): _vjp_sech2_chain(2.0),
    (P.SIGMOID, 0): _vjp_sech2_chain(1.0),
    (P.MUL, 0): _vjp_mul(0),
    (P.MUL, 1): _vjp_mul(1),
    (P.EXP, 0): _vjp_exp,
    (P.LOG, 0): _vjp_log,
    (P.NEG, 0): _vjp_neg,
    (F.SOFTMAX_CROSS_ENTROPY, 0): _vjp_softmax_cross_entropy_z,
}


# ---------------------------------------------------------------------------------------------
# Recordings and the compiled function
# ---------------------------------------------------------------------------------------------


class _Output:
    """A returned value: an array of the replay (copied on return) or a value returned as it is."""

    __slots__ = ("array", "value")

    def __init__(self, array: np.ndarray | None, value: Any = None) -> None:
        self.array, self.value = array, value


def _map_outputs(value: Any, leaf: Callable) -> Any:
    if isinstance(value, (tuple, list)):
        return type(value)(_map_outputs(v, leaf) for v in value)
    if isinstance(value, dict):
        return {k: _map_outputs(v, leaf) for k, v in value.items()}
    return leaf(value)


class Recording:
    """One recorded call: the program and everything a replay binds or checks."""

    def __init__(self, recorder: Recorder, result: Any) -> None:
        rec = recorder
        self.program = [(f, args) for f, args in rec.program]
        self.arg_uses = rec.arg_uses
        self.bound = [None] * len(rec.arg_uses)
        self.states = [(t, buffer, view) for t, buffer, view, _ in rec.states]
        self.updated = tuple(t for t, _, _, updated in rec.states if updated)
        self.watched = rec.watched
        self.optimizers = [(o, getattr(o, "compile_version", 0)) for o, _ in rec.optimizers]
        cleared = rec.cleared_ids
        self.fresh_leaves = [p for p in rec.fresh_leaves if id(p) not in cleared]
        # What .grad each parameter holds when the function returns.
        self.grads_after = []
        for t, _, _, _ in rec.states:
            g = t.grad
            if g is None:
                if id(t) in cleared:
                    self.grads_after.append((t, None))
            elif rec.kind.get(id(g)) == _TEMP:
                self.grads_after.append((t, rec.replay_of[id(g)]))
        self.keep = rec.keep
        self.result_template = _map_outputs(result, lambda v: self._output_slot(rec, v))
        # The common return, one tensor, skips the walk over the structure.
        self.single = self.result_template if isinstance(self.result_template, _Output) else None
        self.prologues = rec.prologues
        self.checks = bool(self.optimizers or self.fresh_leaves or self.prologues)
        # The leaf tensors and the arrays they hold in a replay: parameters (a view of the
        # replay's buffer) and constants (bound as they are).
        self.leaves = [t for t, _, _ in self.states] + [t for t, _ in self.watched]
        self.leaf_arrays = [view for _, _, view in self.states] + [array for _, array in self.watched]
        # After the program: the .grad each parameter holds (assigned past the property's
        # checks, which the recording made once) and the parameters it updated in place; in a
        # training step they are the same, set by one loop.
        updated = {id(t) for t in self.updated}
        self.after = [(t, g) for t, g in self.grads_after if id(t) in updated]
        self.after_grad = [(t, g) for t, g in self.grads_after if id(t) not in updated]
        with_grad = {id(t) for t, _ in self.grads_after}
        self.after_update = [t for t in self.updated if id(t) not in with_grad]

    @staticmethod
    def _output_slot(rec: Recorder, value: Any) -> Any:
        if isinstance(value, Tensor):
            array = rec.replay_of.get(id(value._data))
            if array is None:  # computed before the call, or a constant: returned as it is
                return _Output(None, value)
            return _Output(array)
        if isinstance(value, np.ndarray):
            raise ConcretizationError(
                "a compiled function returned a NumPy array: its values were read from a tensor "
                "(.data/.numpy()) or computed outside the engine; return the tensor instead"
            )
        return _Output(None, value)

    def outputs(self) -> Any:
        single = self.single
        if single is not None:
            return single.value if single.array is None else _wrap(single.array.copy())

        def build(slot):
            return slot.value if slot.array is None else _wrap(slot.array.copy())

        return _map_outputs(self.result_template, build)

    def bind(self, arrays: list) -> None:
        bound = self.bound
        for k, array in enumerate(arrays):
            if array is not bound[k]:
                for args, position, view in self.arg_uses[k]:
                    args[position] = array if view is None else view(array)
                bound[k] = array

    def check(self) -> None:
        """Record anew if a bound constant or an optimizer's state was replaced from outside;
        raise if a parameter holds a gradient the recording assumed absent."""
        for optimizer, version in self.optimizers:
            if optimizer.compile_version != version:
                raise _Rerecord
        for p in self.fresh_leaves:
            if p.grad is not None:
                raise RuntimeError(
                    f"compiled function: {p.name or 'a parameter'} has a .grad from before the call, "
                    "but the recording started from none (the function does not call zero_grad() "
                    "itself); call zero_grad() before each call or inside the function"
                )
        for prologue in self.prologues:
            if not prologue():
                raise _Rerecord

    def reload(self) -> None:
        """Parameters whose data was replaced (``p.data = ...``, ``load_state_dict``) are copied
        into the replay's buffers; a replaced constant makes a new recording."""
        for t, buffer, view in self.states:
            if t._data is not view:
                data = t._data
                if data.shape != buffer.shape or data.dtype != buffer.dtype:
                    raise _Rerecord
                np.copyto(buffer, data)
                t._data = view
        for t, array in self.watched:
            if t._data is not array:
                raise _Rerecord

    def replay(self, arrays: list) -> Any:
        if not all(map(is_, arrays, self.bound)):
            self.bind(arrays)
        # Whether every leaf tensor still holds the array bound (one C-level scan).
        if not all(map(is_, map(_data_of, self.leaves), self.leaf_arrays)):
            self.reload()
        if self.checks:
            self.check()
        for f, args in self.program:
            f(*args)
        clock = state.tick()
        # A parameter's values changed in place: older graphs through it must not run.
        for t, g in self.after:
            t._grad = g
            t._mutated_at = clock
        for t, g in self.after_grad:
            t._grad = g
        for t in self.after_update:
            t._mutated_at = clock
        single = self.single
        if single is not None and single.array is not None:
            out = _new_tensor(Tensor)
            out._data = single.array.copy()
            return out
        return self.outputs()


def _c_order(a: np.ndarray) -> np.ndarray:
    """An array argument as the engine's ops see it in eager mode: they take a C-ordered copy
    of an array operand they keep, and BLAS rounds a product of differently laid out operands
    differently."""
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _argument_arrays(args: tuple) -> tuple[list, tuple]:
    arrays, key = [], []
    for k, a in enumerate(args):
        if a.__class__ is Tensor or isinstance(a, Tensor):
            array = a._data
            if a.requires_grad:
                raise TypeError(
                    f"compile: argument {k} requires grad; a compiled function takes data as "
                    "arguments and uses parameters it captures (a model, an optimizer)"
                )
        elif isinstance(a, np.ndarray):
            array = _c_order(a)
        else:
            raise TypeError(
                f"compile: argument {k} is a {type(a).__name__}; a compiled function takes tensors "
                "or NumPy arrays (bind other values with functools.partial or a closure)"
            )
        arrays.append(array)
        key.append(_signature(array))
    return arrays, tuple(key)


#: What selects a recording: each argument's shape, dtype and class.
_signature = attrgetter("shape", "dtype", "__class__")


def _rng_states() -> tuple:
    legacy = np.random.get_state()
    return legacy[1].copy(), legacy[2], random.getstate()


class Compiled:
    """A function recorded on its first call per argument shapes/dtypes and replayed after."""

    def __init__(self, fn: Callable, cache_size: int = 8) -> None:
        self.fn = fn
        self.cache_size = cache_size
        self.recordings: dict = {}
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any) -> Any:
        try:  # the fast path: tensors and arrays, a recording for their shapes and dtypes
            # (a tensor that requires grad goes to _c_order, fails, and the slow path raises)
            arrays = [
                a._data if a.__class__ is Tensor and not a._requires_grad else _c_order(a) for a in args
            ]
            key = tuple(list(map(_signature, arrays)))
            recording = self.recordings.get(key)
        except AttributeError:
            recording = None
        if recording is not None:
            try:
                return recording.replay(arrays)
            except _Rerecord:
                del self.recordings[key]
        arrays, key = _argument_arrays(args)
        return self._record(args, arrays, key)

    def _record(self, args: tuple, arrays: list, key: tuple) -> Any:
        if _local.recorder is not None:
            raise RuntimeError("compile: a compiled function called while another one is being recorded")
        recorder = Recorder()
        call_args = []
        for k, (a, array) in enumerate(zip(args, arrays)):
            recorder.bind_argument(k, array)
            call_args.append(a if isinstance(a, Tensor) else _wrap(array))
        before = _rng_states()
        state._count_recording(1)  # tensors refuse to give their values while recording
        _local.recorder = recorder
        _local.observed = True
        try:
            result = self.fn(*call_args)
        finally:
            _local.recorder = None
            _local.observed = bool(_local.observers)
            state._count_recording(-1)
        after = _rng_states()
        if not (np.array_equal(before[0], after[0]) and before[1] == after[1]):
            raise ConcretizationError(
                "randomness drawn in Python inside a compiled function (NumPy's global generator "
                "moved): the replay would reuse the first call's numbers; draw them outside and "
                "pass them as arguments"
            )
        if before[2] != after[2]:
            raise ConcretizationError(
                "randomness drawn in Python inside a compiled function (the random module's state "
                "moved): the replay would reuse the first call's numbers; draw them outside and "
                "pass them as arguments"
            )
        recording = Recording(recorder, result)
        recording.bound = list(arrays)
        if len(self.recordings) >= self.cache_size:
            self.recordings.pop(next(iter(self.recordings)))
        self.recordings[key] = recording
        return recording.outputs()


def compile(fn: Callable) -> Compiled:  # noqa: A001 (the public name, as jax.jit / torch.compile)
    """``fn`` recorded on its first call for given argument shapes and dtypes, replayed after.

    ``fn`` takes tensors or arrays (arrays arrive as constant tensors) and runs engine
    operations, ``backward()`` and optimizer steps. Returned tensors are detached copies.
    """
    if not callable(fn):
        raise TypeError(f"compile: expected a function, got {type(fn).__name__}")
    return Compiled(fn)
