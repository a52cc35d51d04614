"""Building the picture of a computation graph as a ``graphviz.Digraph``.

Forward picture: one box per tensor, inputs at the top and the output at the bottom. A leaf box
shows the tensor's name (``layers.0.W``), shape and dtype; an op box shows the primitive that
made its tensor, a badge with the Jacobian shortcut that its VJP uses and the bytes the dense
Jacobian would have taken, then the output's shape and dtype. Explicit ``broadcast_to`` nodes
are drawn light, and the nodes recorded under one ``name_scope`` share a cluster.

Backward picture (``backward=True``): the tensors gradients flow through, with the arrows
reversed (output at the top) and each arrow labelled with the VJP that computes it
(``dW = G·Xᵀ``), plus what actually flowed when a :func:`record_gradients` record is given.

Every piece of text goes into an HTML-like label through :func:`html.escape`, so names with
quotes, ``<``, ``>`` or backslashes come out as written.
"""

from __future__ import annotations

import html
import os
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import graphviz

from ..tensor import Tensor
from . import labels
from .gradients import GradientRecord
from .renderer import RendererNotFoundError, render_source
from .traversal import nearest, walk

_BACKWARD_CAPTION = "backward pass: each arrow carries a gradient, labelled with the VJP that computes it"

#: Pictures with more tensors than this are cut down to the ones nearest the output.
DEFAULT_MAX_NODES = 300

# Boxes are sized with this font's widths. DejaVu Sans is the widest of the common sans fonts
# and the one a fresh Linux machine (and matplotlib) has, and graphviz-pure knows its metrics;
# where it is missing, an SVG viewer falls back to a narrower sans (Helvetica, Arial), which
# still fits. Sized for Helvetica, the text overflowed its box wherever DejaVu stood in.
_FONT = "DejaVu Sans"
_INK = "#333333"
_MUTED = "#777777"
_LIGHT = "#aaaaaa"
_ALARM = "#c62828"
_BADGE = "#5a6b80"
_FORMULA = "#3c5a7d"


@dataclass(frozen=True)
class _Style:
    border: str
    fill: str = "#ffffff"
    header: str | None = None
    text: str = _INK
    dashed: bool = False
    penwidth: int = 1


_PARAMETER = _Style("#b8860b", "#fff6dc")
_INPUT = _Style("#7d93ab", "#eef3f8")
_OP = _Style("#5b7fa8", header="#e3ecf7")
_OUTPUT = _Style("#3d7a2e", header="#dcefd5", penwidth=2)
_BROADCAST = _Style(_LIGHT, "#fbfbfb", text=_MUTED, dashed=True)


def _alarmed(style: _Style) -> _Style:
    return replace(style, border=_ALARM, fill="#fdecea", header="#f8c9c4", dashed=False, penwidth=3)


class GraphPicture(graphviz.Digraph):
    """A ``graphviz.Digraph`` that renders through the renderer vecgrad finds.

    ``pipe`` (and so the inline display in Jupyter) and ``render`` use a system ``dot`` when
    there is one and the pip-installed ``graphviz-pure`` otherwise, so ``y.draw().render("g")``
    writes ``g`` (the DOT text) and ``g.svg`` with no system Graphviz. Without one, only the
    ``svg`` and ``png`` formats of the ``dot`` engine are available; anything else raises
    :class:`~autograd.viz.RendererNotFoundError` saying so.
    """

    @property
    def _render(self) -> Callable[..., str]:
        # graphviz's render() saves the DOT file, then calls self._render(engine, format,
        # filepath, ...) to run ``dot`` on it; this is that call, with the fallback.
        return self._render_file

    def _render_file(
        self,
        engine: str,
        format: str,
        filepath: Any = None,
        renderer: str | None = None,
        formatter: str | None = None,
        neato_no_op: bool | int | None = None,
        quiet: bool = False,
        *,
        outfile: Any = None,
        raise_if_result_exists: bool = False,
        overwrite_filepath: bool = False,
    ) -> str:
        if shutil.which("dot") is not None:
            return graphviz.render(
                engine,
                format,
                filepath,
                renderer=renderer,
                formatter=formatter,
                neato_no_op=neato_no_op,
                quiet=quiet,
                outfile=outfile,
                raise_if_result_exists=raise_if_result_exists,
                overwrite_filepath=overwrite_filepath,
            )
        plain = renderer is None and formatter is None and not neato_no_op and engine == "dot"
        if not plain or format not in ("svg", "png"):
            raise RendererNotFoundError(
                f"render: format={format!r}, engine={engine!r}, renderer={renderer!r}, "
                f"formatter={formatter!r} need a system Graphviz (`dot`), which is not installed; "
                'without it the dot engine writes "svg" and "png" (through graphviz-pure)'
            )
        target = Path(outfile) if outfile is not None else Path(f"{filepath}.{format}")
        if raise_if_result_exists and target.exists():
            raise FileExistsError(f"render: output file exists: {os.fspath(target)!r}")
        source = Path(filepath).read_text(encoding=self.encoding)
        target.write_bytes(render_source(source, format))
        return os.fspath(target)

    def pipe(
        self,
        format: str | None = None,
        renderer: str | None = None,
        formatter: str | None = None,
        neato_no_op: bool | int | None = None,
        quiet: bool = False,
        *,
        engine: str | None = None,
        encoding: str | None = None,
    ) -> bytes | str:
        format = format or self.format
        plain = renderer is None and formatter is None and not neato_no_op and engine in (None, "dot")
        if not plain or format not in ("svg", "png"):
            return super().pipe(
                format=format,
                renderer=renderer,
                formatter=formatter,
                neato_no_op=neato_no_op,
                quiet=quiet,
                engine=engine,
                encoding=encoding,
            )
        data = render_source(self.source, format)
        return data.decode(encoding) if encoding else data


@dataclass(frozen=True)
class _Options:
    show_values: bool
    show_grads: bool
    show_tangents: bool | None
    badges: bool
    backward: bool
    gradients: GradientRecord | None


# ---------------------------------------------------------------------------------------------
# Labels: HTML-like tables, every piece of text escaped
# ---------------------------------------------------------------------------------------------


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _text(text: str, color: str = _INK, size: int = 9, bold: bool = False) -> str:
    body = f"<b>{_esc(text)}</b>" if bold else _esc(text)
    return f'<font point-size="{size}" color="{color}">{body}</font>'


def _row(content: str, align: str = "center", bgcolor: str | None = None) -> str:
    fill = f' bgcolor="{bgcolor}"' if bgcolor else ""
    return f'<tr><td align="{align}"{fill}>{content}</td></tr>'


def _table(rows: list[str], style: _Style) -> str:
    line = "rounded,dashed" if style.dashed else "rounded"
    return (
        f'<<table border="{style.penwidth}" cellborder="0" cellspacing="0" cellpadding="3" '
        f'style="{line}" color="{style.border}" bgcolor="{style.fill}">{"".join(rows)}</table>>'
    )


def _is_constant(t: Tensor) -> bool:
    """An unnamed leaf that needs no gradient: a number or array written into an expression."""
    return t.op is None and not t.requires_grad and t.name is None


def _is_broadcast(t: Tensor) -> bool:
    return t.op is not None and t.op.name == "broadcast_to"


def _constant_label(t: Tensor) -> str:
    """A scalar constant is just its value; an array constant its shape."""
    if t.size == 1:
        return f"<{_text(labels.summary(t.data.reshape(())), _MUTED, 10)}>"
    return f"<{_text('constant ' + labels.shape_text(t), _MUTED, 9)}>"


def _array_rows(t: Tensor, options: _Options, is_root: bool) -> list[str]:
    rows = []
    if is_root and options.backward:
        seed = "seed 1" if t.size == 1 else f"seed of shape {tuple(t.shape)}"
        rows.append(_row(_text(seed), "left"))
    if options.show_values:
        rows.append(_row(_text("value  " + labels.summary(t.data)), "left"))
    if options.show_grads and t.grad is not None:
        rows.append(_row(_text("grad  " + labels.summary(t.grad)), "left"))
    if options.show_tangents is not False and t.tangent is not None:
        rows.append(_row(_text("tangent  " + labels.summary(t.tangent)), "left"))
    return rows


def _node(t: Tensor, options: _Options, is_root: bool, alarm: str | None) -> dict[str, str]:
    """The Graphviz attributes of the box that stands for ``t``."""
    if t.op is None:
        if _is_constant(t) and not (alarm or is_root or t.tangent is not None):
            return {"label": _constant_label(t), "shape": "plaintext"}
        style = _PARAMETER if t.requires_grad else _INPUT
        title = t.name or ("parameter" if t.requires_grad else "input")
        rows = [_row(_text(title, size=11, bold=True)), _row(_text(labels.shape_text(t), size=10))]
    else:
        style = _BROADCAST if _is_broadcast(t) else (_OUTPUT if is_root else _OP)
        # A fused op is named after what it replaces, "linear (matmul+add)": the name goes in
        # the title and the composition in small print below, so the title stays short.
        title, _, fused = labels.op_label(t).partition(" (")
        rows = [_row(_text(title, style.text, 11, bold=not style.dashed), bgcolor=style.header)]
        if fused:
            rows.append(_row(_text("fused " + fused.rstrip(")").replace("+", " + "), _MUTED, 8)))
        if options.badges:
            dense = labels.format_bytes(labels.dense_jacobian_bytes(t))
            color = _LIGHT if style.dashed else _BADGE
            rows.append(_row(_text(f"{labels.badge(t)}  ·  dense J {dense}", color, 8)))
        output = labels.shape_text(t) if t.name is None else f"{t.name}  {labels.shape_text(t)}"
        rows.append(_row(_text(output, style.text, 10)))
    rows.extend(_array_rows(t, options, is_root))
    if alarm:
        style = _alarmed(style)
        rows.append(_row(_text(alarm, _ALARM, 9, bold=True)))
    return {"label": _table(rows, style), "shape": "plain"}


def _graph_label(notes: list[tuple[str, bool]]) -> str:
    return "<" + "<br/>".join(_text(text, _ALARM if alarm else _MUTED, 10) for text, alarm in notes) + ">"


def _edge_label(formula: str, flow: str | None) -> str:
    parts = [_text(formula, _FORMULA, 9)]
    if flow:
        parts.append(_text(flow, _MUTED, 8))
    return "<" + "<br/>".join(parts) + ">"


# Where the operands of matmul meet its box, so that they read in order (W left of X in
# W @ X): the two corners on the inputs' side, by rankdir. Other binary ops commute, and in the
# backward picture each arrow's formula names its operand (dW, dX), so they go unpinned, which
# lets Graphviz route their arrows more cleanly.
_CORNERS = {"TB": (":nw", ":ne"), "BT": (":sw", ":se"), "LR": (":nw", ":sw"), "RL": (":ne", ":se")}


def _operand_port(t: Tensor, i: int, rankdir: str, backward: bool) -> str:
    if backward or t.op.name != "matmul" or t.parents[0] is t.parents[1]:
        return ""
    return _CORNERS[rankdir][i]


# ---------------------------------------------------------------------------------------------
# Clusters: one box per name_scope, nested scopes nested
# ---------------------------------------------------------------------------------------------


def _scopes(drawn: list[Tensor]) -> dict[int, str]:
    """The scope each drawn tensor belongs to.

    An op output has the scope it was recorded under. A named leaf goes with the longest scope
    that prefixes its name (``layers.0.W`` with ``layers.0``); a constant goes with its
    consumers when they all share one scope (the ``1.0`` of a sigmoid stays in the sigmoid).
    """
    known = sorted({t.scope for t in drawn if t.scope is not None}, key=len, reverse=True)
    consumer_scopes: dict[int, set] = {}
    for t in drawn:
        for parent in t.parents:
            consumer_scopes.setdefault(id(parent), set()).add(t.scope)
    placed = {}
    for t in drawn:
        if t.scope is not None:
            placed[id(t)] = t.scope
        elif t.name:
            scope = next((s for s in known if t.name.startswith(s + ".")), None)
            if scope is not None:
                placed[id(t)] = scope
        elif _is_constant(t):
            around = consumer_scopes.get(id(t), set())
            if len(around) == 1 and None not in around:
                placed[id(t)] = next(iter(around))
    return placed


def _parent_scope(scope: str, known: Iterable[str]) -> str | None:
    """The innermost other scope that contains ``scope`` (``model`` for ``model.layers.0``)."""
    outer = [other for other in known if scope.startswith(other + ".")]
    return max(outer, key=len) if outer else None


def _cluster_names(scopes: Iterable[str]) -> dict[str, str]:
    """``cluster_<scope>`` for each scope, with any character outside ``[A-Za-z0-9_.]``
    replaced (a Graphviz name is not escaped like a label) and a suffix where that collides."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for scope in sorted(scopes):
        base = "cluster_" + re.sub(r"[^A-Za-z0-9_.]", "_", scope)
        name, k = base, 1
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        taken.add(name)
        names[scope] = name
    return names


def _cluster(name: str, scope: str) -> GraphPicture:
    return GraphPicture(
        name=name,
        graph_attr={
            "label": f"<{_esc(scope)}>",
            "labeljust": "l",
            "fontname": _FONT,
            "fontsize": "10",
            "fontcolor": _MUTED,
            "style": "rounded,filled",
            "fillcolor": "#f6f7f9",
            "color": "#c9ced6",
            "margin": "10",
        },
    )


# ---------------------------------------------------------------------------------------------
# Which tensors, and which one to flag
# ---------------------------------------------------------------------------------------------


def _follow(backward: bool, show_constants: bool) -> Callable[[Tensor], bool]:
    if backward:
        return lambda t: t.requires_grad  # gradients flow nowhere else
    if show_constants:
        return lambda t: True
    return lambda t: not _is_constant(t)


def _first(order: Iterable[Tensor], bad: Callable[[Tensor], bool]) -> Tensor | None:
    return next((t for t in order if bad(t)), None)


def _describe(t: Tensor) -> str:
    what = t.name or (t.op.name if t.op is not None else "leaf")
    return f"{what} {tuple(t.shape)}"


def _alarms(order: list[Tensor], drawn_ids: set[int], backward: bool) -> tuple[dict[int, str], list]:
    """The first tensor (topological order) whose value holds a NaN or Inf; in the backward
    picture also the first gradient that does, going from the output down. Notes say where
    they are when they fall outside the picture."""
    alarms: dict[int, str] = {}
    notes = []
    first_value = _first(order, lambda t: not labels.is_finite(t.data))
    if first_value is not None:
        alarms[id(first_value)] = "first NaN/Inf value"
        if id(first_value) not in drawn_ids:
            notes.append((f"first NaN/Inf value: {_describe(first_value)}, not drawn (max_nodes)", True))
    if backward:
        first_grad = _first(reversed(order), lambda t: t.grad is not None and not labels.is_finite(t.grad))
        if first_grad is not None:
            both = id(first_grad) in alarms
            alarms[id(first_grad)] = "first NaN/Inf value and gradient" if both else "first NaN/Inf gradient"
            if id(first_grad) not in drawn_ids:
                where = _describe(first_grad)
                notes.append((f"first NaN/Inf gradient: {where}, not drawn (max_nodes)", True))
    return alarms, notes


# ---------------------------------------------------------------------------------------------
# The picture
# ---------------------------------------------------------------------------------------------


def draw(
    root: Tensor,
    *,
    show_values: bool = False,
    show_grads: bool | None = None,
    show_tangents: bool | None = None,
    badges: bool = True,
    backward: bool = False,
    gradients: GradientRecord | None = None,
    max_nodes: int | None = DEFAULT_MAX_NODES,
    show_constants: bool = True,
    rankdir: str = "TB",
    title: str | None = None,
    collapse: bool | int = False,
) -> GraphPicture:
    """The computation graph that produced ``root``, as a ``graphviz.Digraph``.

    Options:

    - ``show_values``: summarise each tensor's values (in full up to 4 elements, else
      min/mean/max and the norm ‖·‖).
    - ``show_grads``: summarise ``.grad`` where backward left one (leaves, ``retain_grad``);
      on by default in the backward picture.
    - ``show_tangents``: summarise forward-mode tangents; by default shown when present.
    - ``badges``: each op's Jacobian shortcut (``diag``, ``Σ axis 1``, ``G·Xᵀ / Wᵀ·G``) and the
      bytes its dense Jacobians would take, Σ out.size × in.size × itemsize.
    - ``backward``: draw the backward pass: only the tensors gradients flow through, arrows from the
      output to the inputs, each labelled with its VJP formula.
    - ``gradients``: a :func:`record_gradients` record; the backward picture then labels each arrow
      with the gradient that flowed along it.
    - ``max_nodes``: draw at most this many tensors, those nearest to the output; the picture says
      how many were left out and where they connect. ``None`` draws everything.
    - ``show_constants``: draw the numbers and arrays written into expressions.
    - ``rankdir``: Graphviz's direction, ``"TB"`` (top to bottom), ``"LR"``, ``"BT"`` or ``"RL"``.
    - ``title``: a caption above the picture.
    - ``collapse``: one box per name scope instead of one per tensor, for graphs too large to read
      (:func:`autograd.viz.collapsed.draw_collapsed`); an integer keeps that many parts of
      nested scope names (``1``: ``layer1.neuron0`` is drawn as ``layer1``).

    The first tensor (in topological order) holding a NaN or Inf is outlined in red; in the
    backward picture, so is the first gradient (from the output down) holding one.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"draw: expected a Tensor, got {type(root).__name__}")
    if collapse:
        from .collapsed import draw_collapsed  # it builds on this module's boxes

        depth = None if collapse is True else int(collapse)
        return draw_collapsed(root, depth=depth, title=title)  # constants would only clutter it
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"draw: max_nodes must be at least 1 or None; got {max_nodes}")
    if rankdir not in _CORNERS:
        raise ValueError(f"draw: rankdir must be one of {', '.join(_CORNERS)}; got {rankdir!r}")
    if show_grads is None:
        show_grads = backward
    options = _Options(show_values, show_grads, show_tangents, badges, backward, gradients)

    follow = _follow(backward, show_constants)
    order = walk(root, follow)
    drawn = order
    if max_nodes is not None and len(order) > max_nodes:
        kept = nearest(root, max_nodes, follow)
        drawn = [t for t in order if id(t) in kept]
    ids = {id(t): f"t{k}" for k, t in enumerate(drawn)}

    notes: list[tuple[str, bool]] = [(title, False)] if title else []
    if backward:
        notes.append((_BACKWARD_CAPTION, False))
        if not root.requires_grad:
            notes.append(("nothing here requires grad: no gradient flows", False))
    alarms, alarm_notes = _alarms(order, set(ids), backward)
    notes.extend(alarm_notes)

    picture = GraphPicture(
        name="vecgrad",
        format="svg",
        graph_attr={
            "rankdir": rankdir,
            "fontname": _FONT,
            "nodesep": "0.25",
            "ranksep": "0.35",
            "labelloc": "t",
            "newrank": "true",
        },
        node_attr={"fontname": _FONT, "fontsize": "11", "fontcolor": _INK},
        edge_attr={"color": "#6b7785", "arrowsize": "0.6", "fontname": _FONT},
    )

    scopes = _scopes(drawn)
    clusters = {scope: _cluster(name, scope) for scope, name in _cluster_names(set(scopes.values())).items()}
    for t in drawn:
        target = clusters.get(scopes.get(id(t)), picture)
        target.node(ids[id(t)], **_node(t, options, t is root, alarms.get(id(t))))
    # Attach the clusters innermost first: a subgraph's text is copied into its parent.
    for scope in sorted(clusters, key=len, reverse=True):
        parent = _parent_scope(scope, clusters)
        (clusters[parent] if parent is not None else picture).subgraph(clusters[scope])

    frontier = _add_edges(picture, drawn, ids, follow, options, rankdir)
    left_out = len(order) - len(drawn)
    if left_out:
        notes.append(
            (
                f"showing {len(drawn):,} of {len(order):,} tensors (max_nodes={max_nodes}): "
                f"the {left_out:,} farthest from the output are left out",
                True,
            )
        )
        picture.node(
            "elided",
            label=f"<{_text(f'… {left_out:,} more tensors not drawn', _MUTED, 10)}>",
            shape="box",
            style="rounded,dashed",
            color=_LIGHT,
        )
        for node_id in frontier:
            ends = (node_id, "elided") if backward else ("elided", node_id)
            picture.edge(*ends, style="dashed", color=_LIGHT)
    if notes:
        picture.attr(label=_graph_label(notes))
    return picture


def _add_edges(
    picture: GraphPicture,
    drawn: list[Tensor],
    ids: dict[int, str],
    follow: Callable[[Tensor], bool],
    options: _Options,
    rankdir: str,
) -> list[str]:
    """Draw an arrow per (input, op) pair; return the boxes with inputs that were left out."""
    frontier = []
    for t in drawn:
        cut = False
        style = {"color": _LIGHT} if _is_broadcast(t) else {}
        for i, parent in enumerate(t.parents):
            if not follow(parent):
                continue
            if id(parent) not in ids:
                cut = True
                continue
            if options.backward:
                flow = options.gradients.get(t, i) if options.gradients is not None else None
                label = _edge_label(labels.vjp_formula(t, i), flow)
                picture.edge(ids[id(t)], ids[id(parent)], label=label, **style)
            else:
                port = _operand_port(t, i, rankdir, options.backward)
                picture.edge(ids[id(parent)], ids[id(t)] + port, **style)
        if cut:
            frontier.append(ids[id(t)])
    return frontier
