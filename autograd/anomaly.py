"""Anomaly mode: name the operation that first turned finite numbers into NaN or Inf.

A NaN in a gradient is usually noticed many steps after the rule that made it, and a NaN says
nothing about where it came from. Inside ``with detect_anomaly():`` the engine remembers where
each node was created, checks every gradient a rule returns, and raises :class:`AnomalyError`
naming the culprit and the line of the forward pass that created it::

    anomaly: the VJP of 'log' (input 0) produced Inf from finite inputs; the node was created
    at model.py:12 (in loss)

Who is to blame, for a non-finite gradient ``dx = vjp(g, ans, x, ...)``:

* the rule itself, when everything it read was finite: the forward values ``x`` and ``ans`` of
  its node and the upstream gradient ``g`` (the gradients flowing into a node are the ones this
  detector has already checked; a non-finite seed passed to ``backward`` is blamed on the last
  node of the graph);
* else the operation that first produced a non-finite *forward* value from finite inputs (an
  ``exp`` that overflowed, ``log(0)``), when the non-finite value the rule read came from it;
  the report then names both lines;
* nobody, when the non-finite values came from the data: NaN or Inf in a leaf or a constant
  propagates quietly, as it does outside anomaly mode. Data is the caller's business; the
  detector reports what the engine created.

Forward mode is checked the same way: a JVP that turns finite inputs and finite tangents into a
non-finite tangent raises at once, during the forward pass. A non-finite forward value alone
never raises: ``log(0) = -inf`` may be wanted, and only matters once a derivative goes bad.

Cost. The detector is an observer (:func:`autograd.state.observing`): when anomaly mode is off
the engine pays one flag check per operation and nothing else. When it is on, each recorded
node pays a short walk up the call stack (``sys._getframe``, a handful of frames, no source
lines read) and an ``isfinite`` pass over its value, and each VJP one over its result.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import state

# The library's own frames are skipped when looking for the line that created a node: the
# autograd package's, and those of the libraries built on it that register themselves (nn does,
# so that its function's line and the user's line calling it are both reported).
_AUTOGRAD_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_LIBRARY_DIRS: tuple[str, ...] = ()


def register_library(directory: str) -> None:
    """Report nodes created inside ``directory`` (a package built on autograd) with both the
    package's line and the user's line that called into it."""
    global _LIBRARY_DIRS
    path = os.path.abspath(directory) + os.sep
    if path not in _LIBRARY_DIRS:
        _LIBRARY_DIRS = (*_LIBRARY_DIRS, path)


#: ``Origin.culprit`` of a node that itself turned finite inputs into a non-finite value.
SELF = "self"


class AnomalyError(FloatingPointError, RuntimeError):
    """A derivative rule produced NaN or Inf from finite inputs (raised only in anomaly mode).

    Both a ``FloatingPointError`` (what went wrong) and a ``RuntimeError`` (what PyTorch raises
    in its anomaly mode), so either ``except`` catches it.
    """


@dataclass(frozen=True, slots=True)
class Site:
    """One line of source: where a call was made."""

    file: str
    line: int
    function: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} (in {self.function})"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a node was created: the first frame outside autograd, and the user's line.

    ``call`` is the line that applied the operation (``x.log()``, or a line of ``nn`` for an
    operation an ``nn`` function applied); ``user`` is the first line outside both packages,
    when it differs from ``call``.
    """

    call: Site
    user: Site | None = None
    # The node whose forward value first went non-finite from finite inputs, when this node's
    # value is non-finite because of it: an ancestor, or SELF for the node itself (a marker,
    # since a node pointing at itself would be a reference cycle); None otherwise.
    culprit: Any = None

    def __str__(self) -> str:
        if self.user is None:
            return str(self.call)
        return f"{self.call}, called from {self.user}"


def creation_site(culprit: Any = None) -> Origin:
    """Where the current operation was called from, skipping the frames of the library."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_AUTOGRAD_DIR):
        frame = frame.f_back
    if frame is None:  # called from within the library only (no user frame at all)
        return Origin(Site("<autograd>", 0, "?"), None, culprit)
    call = Site(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)
    if not _LIBRARY_DIRS or not call.file.startswith(_LIBRARY_DIRS):
        return Origin(call, None, culprit)
    while frame is not None and frame.f_code.co_filename.startswith((_AUTOGRAD_DIR, *_LIBRARY_DIRS)):
        frame = frame.f_back
    if frame is None:
        return Origin(call, None, culprit)
    user = Site(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)
    return Origin(call, user, culprit)


def _finite(array) -> bool:
    return array is None or bool(np.isfinite(array).all())


def _describe(values: np.ndarray) -> str:
    has_nan = bool(np.isnan(values).any())
    has_inf = bool(np.isinf(values).any())
    return "NaN and Inf" if has_nan and has_inf else "NaN" if has_nan else "Inf"


def _culprit_of(tensors) -> Any:
    """The node that created the first non-finite value among ``tensors``, if a node did."""
    for t in tensors:
        origin = t._origin
        if origin is not None and origin.culprit is not None and not _finite(t._data):
            return t if origin.culprit is SELF else origin.culprit
    return None


def _where(node) -> str:
    origin = node._origin
    if origin is None:
        return "outside detect_anomaly(), so where is unknown"
    extra = f" (named {node.name!r})" if node.name else ""
    if node.scope:
        extra += f" in scope {node.scope!r}"
    return f"at {origin}{extra}"


class AnomalyDetector:
    """The observer behind :func:`detect_anomaly` (see the module docstring for the policy)."""

    def __init__(self) -> None:
        # Nodes whose upstream gradient is already non-finite, passed on rather than created:
        # their own rules are not to blame. Keyed by id, reset at each backward.
        self._tainted: set[int] = set()

    def on_apply(self, prim, inputs, out) -> None:
        recorded = out._prim is not None
        tangent = out.tangent
        if not recorded and tangent is None:
            return  # a constant: no derivative will ever be taken through it
        culprit = None
        if not _finite(out._data):
            culprit = SELF if all(_finite(t._data) for t in inputs) else _culprit_of(inputs)
        if recorded:
            out._origin = creation_site(culprit)
        if tangent is not None and not _finite(tangent):
            if all(_finite(t._data) and (t.tangent is None or _finite(t.tangent)) for t in inputs):
                where = out._origin if recorded else creation_site()
                raise AnomalyError(
                    f"anomaly: the JVP of {prim.name!r} produced {_describe(tangent)} from finite "
                    f"inputs and tangents; the operation was applied at {where}"
                )

    def on_backward(self, root) -> None:
        self._tainted.clear()

    def on_vjp(self, node, i, gi) -> None:
        if np.isfinite(gi).all():
            return
        parents = node._parents
        if id(node) not in self._tainted:
            name = node._prim.name
            if _finite(node._data) and all(_finite(p._data) for p in parents):
                raise AnomalyError(
                    f"anomaly: the VJP of {name!r} (input {i}) produced {_describe(gi)} from finite "
                    f"inputs; the node was created {_where(node)}"
                )
            culprit = _culprit_of((node, *parents))
            if culprit is node:
                raise AnomalyError(
                    f"anomaly: the VJP of {name!r} (input {i}) produced {_describe(gi)} because the "
                    f"node's forward value is already {_describe(node._data)}, computed from finite "
                    f"inputs; the node was created {_where(node)}"
                )
            if culprit is not None:
                raise AnomalyError(
                    f"anomaly: the VJP of {name!r} (input {i}) produced {_describe(gi)}, because "
                    f"the forward pass went non-finite first: {culprit._prim.name!r} produced "
                    f"{_describe(culprit._data)} from finite inputs, created {_where(culprit)}; "
                    f"this node was created {_where(node)}"
                )
        # Non-finite values that came from the data: passed on quietly, like NaN inputs.
        self._tainted.add(id(parents[i]))


@contextlib.contextmanager
def detect_anomaly() -> Iterator[AnomalyDetector]:
    """Raise :class:`AnomalyError` at the first rule that turns finite values into NaN or Inf.

    Use as ``with detect_anomaly():`` around the forward pass and ``backward`` (nodes created
    outside the block have no recorded origin), or as a decorator. Off by default; when off it
    costs nothing beyond the engine's single observer-flag check.
    """
    with state.observing(AnomalyDetector()) as detector:
        yield detector
