"""Counters: what the engine did while it ran, tallied by an observer.

``with count() as c:`` attaches a :class:`Counts` to the engine (``state.observing``); the choke
point and the backward loop then report to it, so every number is counted as the engine runs,
never computed from shapes:

* sweeps: a forward sweep is one evaluation of ``f`` with tangents (reported by the functional
  API where it runs ``f``), a reverse sweep is one call of ``backward``;
* primitive calls, split by phase (``forward``: the primal op, ``jvp``: its tangent rule,
  ``vjp``: one VJP rule call per input) and by kind (``elementwise``; ``linear``: add, neg,
  broadcast_to, sum, transpose, reshape; ``mul``; ``matmul``);
* an estimate of the floating-point operations of each call: ``2 n k m`` for an ``(n, k) @ (k, m)``
  matmul, one per element for elementwise ops and sums, none for pure moves (transpose,
  reshape, broadcast_to forward), which only re-index memory.

With no ``Counts`` attached the engine pays one flag check per primitive.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator

import numpy as np

from . import state

PHASES = ("forward", "jvp", "vjp")
KINDS = ("elementwise", "linear", "mul", "matmul")

# Ops that only move or view memory: their forward (and so their JVP) does no arithmetic.
_MOVES = frozenset({"broadcast_to", "transpose", "reshape"})


def kind_of(prim) -> str:
    """The counting kind of a primitive: bilinear ops are told apart, mul and matmul."""
    return prim.name if prim.kind == "bilinear" else prim.kind


def _matmul_flops(x: np.ndarray, y: np.ndarray, ans: np.ndarray) -> int:
    # Every output element is a dot product of length k: k multiplies and k adds.
    return 2 * ans.size * (x.shape[-1] if x.ndim else 1)


def _forward_flops(prim, xs: list, ans: np.ndarray) -> int:
    name = prim.name
    if name == "matmul":
        return _matmul_flops(xs[0], xs[1], ans)
    if name in _MOVES:
        return 0
    if name == "sum":
        return xs[0].size
    return ans.size


def _jvp_flops(prim, xs: list, ans: np.ndarray, n_tangents: int) -> int:
    """The JVP applies the op to each tangent (linear ops) or multiplies by f' (the rest)."""
    if prim.kind == "bilinear":
        per_term = _matmul_flops(xs[0], xs[1], ans) if prim.name == "matmul" else ans.size
        return n_tangents * per_term + (n_tangents - 1) * ans.size  # the terms, then their sum
    if prim.name == "add":
        return (n_tangents - 1) * ans.size
    return _forward_flops(prim, xs, ans)


def _vjp_flops(prim, xs: list, ans: np.ndarray, g_in: np.ndarray) -> int:
    name = prim.name
    if name == "matmul":
        return _matmul_flops(xs[0], xs[1], ans)
    if name == "broadcast_to":
        return ans.size if g_in.size != ans.size else 0  # sum_to adds up the replicas
    if name in ("add", "sum", "transpose", "reshape"):
        return 0  # g passed on, broadcast back or moved: no arithmetic
    return ans.size


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
        self.flops["forward", kind] += _forward_flops(prim, xs, ans)
        self.by_primitive["forward", prim.name] += 1
        if out.tangent is not None:  # apply ran the JVP rule
            n_tangents = sum(t.tangent is not None for t in inputs)
            self.calls["jvp", kind] += 1
            self.flops["jvp", kind] += _jvp_flops(prim, xs, ans, n_tangents)
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
