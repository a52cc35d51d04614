"""Counters: what the engine did while it ran, tallied by an observer.

``with count() as c:`` attaches a :class:`Counts` to the engine (``state.observing``); the choke
point and the backward loop then report to it, so every number is counted as the engine runs,
never computed from shapes:

* sweeps: a forward sweep is one evaluation of ``f`` with tangents (reported by the functional
  API where it runs ``f``), a reverse sweep is one call of ``backward``;
* primitive calls, split by phase (``forward``: the primal op, ``jvp``: its tangent rule,
  ``vjp``: one VJP rule call per input) and by kind (the entry's: ``elementwise``, ``binary``,
  ``reduction``, ``linear``, ``fused``; bilinear ops by name, ``mul`` and ``matmul``);
* an estimate of the floating-point operations of each call, stated by each primitive's entry
  (``Primitive.flops`` and ``vjp_flops``): ``2 n k m`` for an ``(n, k) @ (k, m)`` matmul, one
  per element for elementwise ops and sums, none for pure moves (transpose, reshape,
  broadcast_to forward), which only re-index memory.

With no ``Counts`` attached the engine pays one flag check per primitive.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator

import numpy as np

from . import state

PHASES = ("forward", "jvp", "vjp")
KINDS = ("elementwise", "binary", "reduction", "linear", "mul", "matmul", "fused")


def kind_of(prim) -> str:
    """The counting kind of a primitive: bilinear ops are told apart, mul and matmul."""
    return prim.name if prim.kind == "bilinear" else prim.kind


def forward_flops(prim, xs: list, ans: np.ndarray, static: tuple = ()) -> int:
    """The entry's count (``Primitive.flops``), else one per output element."""
    return ans.size if prim.flops is None else prim.flops(xs, ans, *static)


def _jvp_flops(prim, xs: list, ans: np.ndarray, n_tangents: int, static: tuple) -> int:
    """The JVP applies the op to each tangent (linear ops) or multiplies by f' (the rest)."""
    if prim.kind in ("bilinear", "binary"):
        per_term = forward_flops(prim, xs, ans, static)
        return n_tangents * per_term + (n_tangents - 1) * ans.size  # the terms, then their sum
    if prim.kind == "linear" and prim.n_inputs != 1:
        return (n_tangents - 1) * ans.size  # add: the tangents summed
    return forward_flops(prim, xs, ans, static)


def _vjp_flops(prim, xs: list, ans: np.ndarray, g_in: np.ndarray) -> int:
    return ans.size if prim.vjp_flops is None else prim.vjp_flops(xs, ans, g_in)


class Counts:
    """Sweeps and primitive calls seen while attached to the engine (see :func:`count`).

    ``calls[(phase, kind)]`` and ``flops[(phase, kind)]`` hold the tallies;
    ``by_primitive[(phase, name)]`` the calls per primitive. The ``on_*`` methods are the
    observer protocol the engine calls.
    """

    def __init__(self) -> None:
        self.forward_sweeps = 0
        self.reverse_sweeps = 0
        self.calls: Counter = Counter()
        self.flops: Counter = Counter()
        self.by_primitive: Counter = Counter()

    # -- totals ----------------------------------------------------------------------------

    def calls_in(self, phase: str) -> int:
        """Primitive rule calls of one phase (``forward``, ``jvp`` or ``vjp``)."""
        return sum(n for (p, _), n in self.calls.items() if p == phase)

    @property
    def forward_calls(self) -> int:
        return self.calls_in("forward")

    @property
    def jvp_calls(self) -> int:
        return self.calls_in("jvp")

    @property
    def vjp_calls(self) -> int:
        return self.calls_in("vjp")

    @property
    def primitive_calls(self) -> int:
        """Every rule the engine ran: forward ops, JVP rules and VJP rules."""
        return sum(self.calls.values())

    @property
    def total_flops(self) -> int:
        return sum(self.flops.values())

    def __repr__(self) -> str:
        return (
            f"Counts(forward_sweeps={self.forward_sweeps}, reverse_sweeps={self.reverse_sweeps}, "
            f"forward_calls={self.forward_calls}, jvp_calls={self.jvp_calls}, "
            f"vjp_calls={self.vjp_calls}, flops={self.total_flops})"
        )

    def table(self) -> str:
        """Calls and flops per phase and kind, as aligned text."""
        lines = [f"{'phase':<8} {'kind':<12} {'calls':>10} {'flops':>14}"]
        for phase in PHASES:
            for kind in sorted({k for p, k in self.calls if p == phase}):
                lines.append(
                    f"{phase:<8} {kind:<12} {self.calls[phase, kind]:>10} {self.flops[phase, kind]:>14}"
                )
        lines.append(f"sweeps: {self.forward_sweeps} forward, {self.reverse_sweeps} reverse")
        return "\n".join(lines)

    # -- the observer protocol -------------------------------------------------------------

    def on_apply(self, prim, inputs: tuple, out) -> None:
        xs = [t.data for t in inputs]
        ans = out.data
        kind = kind_of(prim)
        self.calls["forward", kind] += 1
        self.flops["forward", kind] += forward_flops(prim, xs, ans, out.static)
        self.by_primitive["forward", prim.name] += 1
        if out.tangent is not None:  # apply ran the JVP rule
            n_tangents = sum(t.tangent is not None for t in inputs)
            self.calls["jvp", kind] += 1
            self.flops["jvp", kind] += _jvp_flops(prim, xs, ans, n_tangents, out.static)
            self.by_primitive["jvp", prim.name] += 1

    def on_backward(self, root) -> None:
        self.reverse_sweeps += 1

    def on_vjp(self, node, index: int, g_in: np.ndarray) -> None:
        prim = node.op
        kind = kind_of(prim)
        self.calls["vjp", kind] += 1
        self.flops["vjp", kind] += _vjp_flops(prim, [p.data for p in node.parents], node.data, g_in)
        self.by_primitive["vjp", prim.name] += 1

    def on_forward_sweep(self) -> None:
        self.forward_sweeps += 1


@contextlib.contextmanager
def count() -> Iterator[Counts]:
    """Count sweeps and primitive calls inside the block: ``with count() as c: ...``."""
    counts = Counts()
    with state.observing(counts):
        yield counts


def announce_forward_sweep() -> None:
    """Tell the attached observers that ``f`` is about to be evaluated with tangents."""
    if state.local.observed:
        for observer in state.local.observers:
            hook = getattr(observer, "on_forward_sweep", None)
            if hook is not None:
                hook()
