"""A picture of a large graph with its repeated structure collapsed: one box per name scope.

A network written with scalar tensors (micrograd style) records hundreds of tiny ops: a
3-4-4-1 network on four examples is about 700 tensors, far too many boxes to read. Its structure
is small, though: nine neurons, each a weighted sum and an activation, applied to four examples.
When the code names that structure with :class:`autograd.name_scope` (one scope per neuron, or
per layer), :func:`draw_collapsed` draws one box per scope, whatever the number of ops and
examples inside, and one arrow per pair of connected scopes, labelled with how many values
cross it. Leaves used by one scope only (its weights and bias) are counted inside its box.
Nested scopes (``layer1.neuron0``) can be cut to their first ``depth`` parts (``layer1``).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from ..tensor import Tensor
from .graph import (
    _FONT,
    _INK,
    _INPUT,
    _MUTED,
    _OP,
    _OUTPUT,
    _PARAMETER,
    GraphPicture,
    _is_constant,
    _row,
    _table,
    _text,
)
from .labels import shape_text
from .traversal import walk


def _group_of(t: Tensor, depth: int | None) -> str | None:
    if t.scope is None:
        return None
    parts = t.scope.split(".")
    return ".".join(parts if depth is None else parts[:depth])


def _op_summary(counts: Counter) -> str:
    """The two commonest ops and how many others: ``mul×24, add×20, +12``."""
    top = counts.most_common(2)
    rest = sum(counts.values()) - sum(n for _, n in top)
    return ", ".join(f"{name}×{n}" for name, n in top) + (f", +{rest}" if rest else "")


def _natural(name: str) -> list:
    """Sort key that puts ``neuron2`` before ``neuron10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _group_label(scope: str, tensors: list[Tensor], is_root: bool) -> str:
    ops = Counter(t.op.name for t in tensors if t.op is not None)
    if not ops:  # a named leaf, one box for all its copies
        style = _PARAMETER if tensors[0].requires_grad else _INPUT
        count = f"{len(tensors)} values, each " if len(tensors) > 1 else ""
        rows = [_row(_text(scope, size=11, bold=True)), _row(_text(count + shape_text(tensors[0]), size=9))]
        return _table(rows, style)
    style = _OUTPUT if is_root else _OP
    parameters = sum(t.requires_grad for t in tensors if t.op is None)
    counted = f"{sum(ops.values())} ops" + (f" · {parameters} parameters" if parameters else "")
    rows = [
        _row(_text(scope, size=11, bold=True), bgcolor=style.header),
        _row(_text(counted, _MUTED, 8)),
        _row(_text(_op_summary(ops), _MUTED, 8)),
    ]
    return _table(rows, style)


def draw_collapsed(
    root: Tensor, *, depth: int | None = None, show_constants: bool = False, title: str | None = None
) -> GraphPicture:
    """The graph that produced ``root``, one box per name scope (cut to ``depth`` parts).

    Tensors recorded outside any scope keep their own box, as do leaves used by more than one
    scope (inputs shared by several neurons). ``show_constants`` draws unnamed constants too.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"draw_collapsed: expected a Tensor, got {type(root).__name__}")
    if depth is not None and depth < 1:
        raise ValueError(f"draw_collapsed: depth must be at least 1 or None; got {depth}")
    order = walk(root, lambda t: True)
    consumers: dict[int, set[str]] = defaultdict(set)
    group: dict[int, str] = {}
    for t in order:
        scope = _group_of(t, depth)
        if scope is not None:
            group[id(t)] = scope
    for t in order:
        for parent in t.parents:
            consumers[id(parent)].add(group.get(id(t), f"#{id(t)}"))
    # A leaf that feeds one scope only belongs to it (a neuron's weights and bias).
    for t in order:
        if t.op is None and id(t) not in group:
            users = consumers[id(t)]
            if len(users) == 1 and not next(iter(users)).startswith("#"):
                group[id(t)] = next(iter(users))

    # Named leaves outside the scopes share a box per name: x1 of every example is one input.
    for t in order:
        if t.op is None and id(t) not in group and t.name is not None:
            group[id(t)] = t.name

    members: dict[str, list[Tensor]] = defaultdict(list)
    for t in order:
        if id(t) in group:
            members[group[id(t)]].append(t)
    root_group = group.get(id(root))

    picture = GraphPicture(
        name="vecgrad_collapsed",
        format="svg",
        graph_attr={"rankdir": "TB", "fontname": _FONT, "nodesep": "0.3", "ranksep": "0.45", "labelloc": "t"},
        node_attr={"fontname": _FONT, "fontsize": "11", "fontcolor": _INK},
        edge_attr={"color": "#6b7785", "arrowsize": "0.6", "fontname": _FONT},
    )
    box_of: dict[int, str] = {}
    for k, (scope, tensors) in enumerate(sorted(members.items(), key=lambda item: _natural(item[0]))):
        node_id = f"g{k}"
        for t in tensors:
            box_of[id(t)] = node_id
        picture.node(node_id, label=_group_label(scope, tensors, scope == root_group), shape="plain")

    k = 0
    for t in order:
        if id(t) in box_of or (_is_constant(t) and not show_constants and t is not root):
            continue
        node_id = f"t{k}"
        k += 1
        box_of[id(t)] = node_id
        kind = "constant" if _is_constant(t) else "input"
        title_text = t.name or (t.op.name if t.op is not None else kind)
        style = _OUTPUT if t is root else (_PARAMETER if t.requires_grad and t.op is None else _INPUT)
        rows = [_row(_text(title_text, size=10, bold=t.op is not None or t.name is not None)),
                _row(_text(shape_text(t), size=9))]
        picture.node(node_id, label=_table(rows, style), shape="plain")

    crossings: Counter = Counter()
    for t in order:
        for parent in t.parents:
            ends = (box_of.get(id(parent)), box_of.get(id(t)))
            if None not in ends and ends[0] != ends[1]:
                crossings[ends] += 1
    # When every arrow carries the same number of values (once per example), say it once.
    same = len(set(crossings.values())) == 1
    for (tail, head), n in crossings.items():
        picture.edge(tail, head, label=f"<{_text(f'×{n}', _MUTED, 8)}>" if n > 1 and not same else "")

    notes = [title] if title else []
    if same and crossings and next(iter(crossings.values())) > 1:
        notes.append(f"each arrow carries {next(iter(crossings.values()))} values")
    boxes = len(members) + k
    notes.append(f"{len(order):,} tensors drawn as {boxes} boxes: one per name scope or named leaf")
    picture.attr(label="<" + "<br/>".join(_text(note, _MUTED, 10) for note in notes) + ">")
    return picture
