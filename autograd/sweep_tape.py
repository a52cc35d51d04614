"""Tapes: one checked sweep of a Jacobian transform, replayed for the sweeps that follow it.

``jacfwd`` runs ``n`` forward sweeps and ``jacrev`` ``m`` reverse sweeps through the same
function at the same point: only the seed changes from one sweep to the next. The eager engine
redoes everything each time (evaluating ``f`` op by op through tensors for a forward sweep;
walking the graph, counting consumers and checking every edge for a reverse one), and on small
and medium functions that Python work, not the arithmetic, is most of the cost.

A tape keeps what the first sweep established and replays only the arithmetic:

* :class:`ReverseTape`: the nodes in the order the engine's sweep
  (:func:`autograd.backward.gradients`) visits them, each with its VJP rules, the arrays they
  read (output, inputs, static arguments) and the slots its gradient flows from and into.
  Replaying it with a seed ``u`` runs the rules and the sums in the same order as the engine,
  so ``uᵀ J`` comes out the same to the last bit.
* :class:`ForwardTape`: the JVP rule calls of one forward sweep
  (``prim.jvp(ẋs, ans, *xs, *static)`` with the primal arrays fixed), in the order they ran,
  read from the graph recorded while that sweep ran (``state.taping``: the function still
  runs under ``no_grad``, as in every sweep, while the operations on the seeded inputs are
  recorded, those inside its own ``no_grad`` blocks and inner ``grad`` calls included).
  Replaying it with new seed tangents gives ``J v``.

Every sweep still happens (``n`` forward, ``m`` reverse): a replay is a sweep without the
engine's per-op bookkeeping. The first sweep of each tape runs eagerly, with every check of the
engine; the tape is built from it and then replayed once with that first seed, and used only
if it reproduces the first sweep's result exactly. A tape is used only at top level and to
first order (no enclosing transform, no ``create_graph``) and with nothing watching the engine
(``autograd.counters``, anomaly mode, a compiled function's recorder: they must see every
operation, so the transforms run eagerly for them and their counts are those of the engine).
Where a tape can not be built (a function that opens forward-mode levels of its own, with
``jvp`` or ``jacfwd`` inside, reads tangents, or cuts the graph in a way the recording does not
show) the transforms take the eager path.

``enabled`` (or the :func:`disabled` context) turns replaying off, to compare the two
(docs/maths.md, "Replaying the sweeps of a Jacobian"; benchmarks/tapes.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np

from . import state
from .backward import _consumers, _needed, _walk_from

_ndarray = np.ndarray

#: Replay sweeps on tapes where possible; ``False`` runs every sweep through the eager engine.
enabled = True

#: How many tapes were built but not used because their replay of the first sweep differed
#: from the engine's (a function whose evaluation changes from sweep to sweep, or a fault of
#: the tape): those transforms ran eagerly. Tests read it; it should stay 0.
mismatches = 0

#: Fewest sweeps a transform must run on one tape for the tape to be worth its cost: building
#: and checking it costs less than one eager sweep, so from two sweeps on a replay pays (with one,
#: a tape costs a third more than the eager sweep; measured as in benchmarks/tapes.py).
MIN_SWEEPS = 2


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Run the Jacobian transforms eagerly, every sweep through the engine, inside the block."""
    global enabled
    previous = enabled
    enabled = False
    try:
        yield
    finally:
        enabled = previous


def usable(sweeps: int) -> bool:
    """Whether a top-level transform running ``sweeps`` sweeps may replay them on a tape.

    Not when replaying is off, when too few sweeps would share the tape, or when something
    watches the engine (counters, anomaly mode, a compiled function's recorder): those see
    every operation of every sweep, so the sweeps run through the engine for them.
    """
    return enabled and sweeps >= MIN_SWEEPS and not state.local.observed


def _checked(tape, reproduced: bool):
    """``tape`` if its replay ``reproduced`` the engine's first sweep, else ``None`` (counted)."""
    global mismatches
    if reproduced:
        return tape
    mismatches += 1
    return None


def _same(a, b) -> bool:
    """Whether two sweep results agree exactly (both absent, or equal arrays, NaN included)."""
    if a is None or b is None:
        return a is None and b is None
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")


# ---------------------------------------------------------------------------------------------
# Reverse mode
# ---------------------------------------------------------------------------------------------


class ReverseTape:
    """The reverse sweep from one output to the input leaves, as a list of rule calls.

    ``steps`` holds, per node in the order the engine's sweep pops it, ``(slot, ans, args,
    edges)``: the slot of its gradient ``g``, its output array, the arrays and static arguments
    its rules read, and per input the gradient flows into, ``(vjp, parent slot, parent
    dtype)``. Slot 0 is the output's; ``input_slots`` says where each input's gradient ends
    (``None``: the output does not depend on it).
    """

    __slots__ = ("steps", "n_slots", "input_slots")

    def __init__(self, steps: list, n_slots: int, input_slots: list):
        self.steps = steps
        self.n_slots = n_slots
        self.input_slots = input_slots

    @classmethod
    def build(cls, root, inputs: Sequence) -> ReverseTape | None:
        """The tape of ``gradients(root, inputs)``, or ``None`` where one would not be faithful.

        The schedule is the engine's own (:func:`autograd.backward._sweep` with ``inputs``):
        the same consumer counts, the same stack of ready nodes, the same order of parents,
        so every gradient is summed in the same order. Call it after an eager sweep through
        the same graph, which has checked every edge's shape and the graph's state.
        """
        if root._prim is None or not root._requires_grad:
            return None
        if any(t._prim is not None for t in inputs):
            return None  # the transforms differentiate leaves; anything else runs eagerly
        roots = (root,)
        needed = _needed(roots, inputs)
        counts = _consumers(roots, needed)
        slots = {id(root): 0}
        steps = []
        ready = [root]
        while ready:
            node = ready.pop()
            if node._retains_grad:
                return None  # its .grad is written by every sweep: only the engine does that
            parents = node._parents
            args = (*[p._data for p in parents], *node._static)
            edges = []
            for i, parent in enumerate(node._parents):
                if not parent._requires_grad:
                    continue
                key = id(parent)
                if key not in needed:
                    continue
                slot = slots.get(key)
                if slot is None:
                    slot = slots[key] = len(slots)
                edges.append((node._prim.vjps[i], slot, parent._data.dtype))
                if parent._prim is not None:
                    remaining = counts[key] - 1
                    counts[key] = remaining
                    if not remaining:
                        ready.append(parent)
            steps.append((slots[id(node)], node._data, args, tuple(edges)))
        return cls(steps, len(slots), [slots.get(id(t)) for t in inputs])

    def run(self, seed: np.ndarray) -> list:
        """``seedᵀ J`` per input: an array of the input's shape and dtype, or ``None``.

        The arrays returned may be shared with the tape or the seed: copy them before the
        next run or before changing the seed.
        """
        grads: list = [None] * self.n_slots
        grads[0] = seed
        for slot, ans, args, edges in self.steps:
            g = grads[slot]
            grads[slot] = None
            for rule, parent, dtype in edges:
                gi = rule(g, ans, *args)
                if gi.dtype != dtype:
                    gi = gi.astype(dtype)
                previous = grads[parent]
                # Out of place: a rule may return g itself or an operand.
                grads[parent] = gi if previous is None else np.asarray(previous + gi)
        return [None if slot is None else grads[slot] for slot in self.input_slots]

    def checked(self, seed: np.ndarray, results: Sequence) -> ReverseTape | None:
        """This tape if replaying ``seed`` gives exactly ``results``, the eager sweep's
        gradients (zero arrays for inputs the output does not depend on); else ``None``."""
        same = True
        for got, want in zip(self.run(seed), results):
            if got is None:
                same = same and not np.any(want)
            else:
                same = same and _same(got, want)
        return _checked(self, same)


# ---------------------------------------------------------------------------------------------
# Forward mode
# ---------------------------------------------------------------------------------------------


class ForwardTape:
    """The JVP rule calls of one forward sweep, with the primal arrays fixed.

    Slots ``0 .. n_inputs - 1`` hold the seed tangents of the input leaves; ``steps`` holds
    ``(jvp, input slots, ans, xs, static, slot)`` per call, in the order the sweep made them
    (an input slot is ``None`` for an input that carries no tangent); ``output_slots`` says
    which slot holds each output's tangent (``None``: the output has none). ``seeded`` are the
    input leaves that carried a tangent when it was recorded: a replay may seed those or fewer.
    """

    __slots__ = ("steps", "n_slots", "output_slots", "seeded")

    def __init__(self, steps: list, n_slots: int, output_slots: list, seeded: frozenset):
        self.steps = steps
        self.n_slots = n_slots
        self.output_slots = output_slots
        self.seeded = seeded

    @classmethod
    def build(cls, leaves: Sequence, seeded: Sequence[int], outs: Sequence, level: int) -> ForwardTape | None:
        """The tape of the sweep that has just run, with ``leaves[k]`` for ``k`` in ``seeded``
        carrying tangents of ``level`` and recording their graph, or ``None`` where the graph
        does not account for every tangent (the sweep then stays the only faithful record).

        Every tangent of the level must come from a recorded node whose inputs' tangents are
        the seeds or come from such nodes, and carry no other level (a transform inside ``f``
        opens one): only then do the recorded nodes say which rule calls made the outputs'
        tangents.
        """
        slots = {id(leaves[k]): k for k in seeded}
        steps = []
        n_slots = len(leaves)
        for node in _walk_from(tuple(outs), lambda t: t._prim is not None):
            tangents = node._tangents
            if tangents is not None and any(key != level for key in tangents):
                return None
            if node._prim is None:
                continue
            in_slots = []
            for parent in node._parents:
                dots = parent._tangents
                if dots is not None and any(key != level for key in dots):
                    return None
                if dots is None or level not in dots:
                    in_slots.append(None)
                    continue
                slot = slots.get(id(parent))
                if slot is None:
                    return None  # a tangent from outside the recording (a detached value)
                in_slots.append(slot)
            if all(slot is None for slot in in_slots):
                if tangents is not None:
                    return None
                continue
            slots[id(node)] = n_slots
            xs = tuple(p._data for p in node._parents)
            steps.append((node._prim.jvp, tuple(in_slots), node._data, xs, node._static, n_slots))
            n_slots += 1
        output_slots = []
        for out in outs:
            slot = slots.get(id(out))
            if slot is None and out._tangents is not None:
                return None
            output_slots.append(slot)
        return cls(steps, n_slots, output_slots, frozenset(seeded))

    def run(self, seeds: Sequence) -> list:
        """The outputs' tangents (``None`` for none) for one seed per input leaf (``None``:
        no tangent), as the forward sweep would give them. May share memory with the seeds."""
        dots: list = [None] * self.n_slots
        dots[: len(seeds)] = seeds
        for jvp, in_slots, ans, xs, static, slot in self.steps:
            x_dots = [None if s is None else dots[s] for s in in_slots]
            for dot in x_dots:
                if dot is not None:
                    break
            else:
                continue  # no input carries a tangent: the engine calls no rule
            dot = jvp(x_dots, ans, *xs, *static)
            if dot is not None:
                if dot.__class__ is not _ndarray:
                    dot = np.asarray(dot)
                dots[slot] = dot if dot.dtype == ans.dtype else dot.astype(ans.dtype)
        return [None if slot is None else dots[slot] for slot in self.output_slots]

    def checked(self, seeds: Sequence, tangents: Sequence) -> ForwardTape | None:
        """This tape if replaying ``seeds`` gives exactly the eager sweep's output
        ``tangents``; else ``None``."""
        return _checked(self, all(_same(got, want) for got, want in zip(self.run(seeds), tangents)))
