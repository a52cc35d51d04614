"""Pictures of computation graphs: what was built, and what backward does with it.

>>> g = y.draw(show_values=True)                    # doctest: +SKIP
>>> viz.render(y, "out/graph", format="svg")        # doctest: +SKIP
'out/graph.svg'

``draw`` returns a ``graphviz.Digraph`` (``g.source`` is the DOT text; it shows inline in
Jupyter). ``render`` writes SVG or PNG with a system ``dot`` when there is one, else with the
``graphviz-pure`` command installed from PyPI alongside this package, and DOT text with no
renderer at all. Both work before and after backward: backward marks the graph used but keeps
its structure.
"""

from __future__ import annotations

import os
from typing import Any

from ..tensor import Tensor
from .gradients import GradientRecord, record_gradients
from .graph import DEFAULT_MAX_NODES, GraphPicture, draw
from .renderer import FORMATS, RendererNotFoundError, find_renderer, render_source
from .traversal import walk


def render(root: Tensor, path: str | os.PathLike, format: str = "svg", **options: Any) -> str:
    """Draw ``root``'s graph (``draw``'s ``options``) and write it to ``path`` in ``format``.

    ``format`` is ``"svg"``, ``"png"`` or ``"dot"``; the extension is appended to ``path``
    unless it is already there. Returns the path of the written file.
    """
    from .renderer import write

    return write(draw(root, **options).source, path, format)


__all__ = [
    "DEFAULT_MAX_NODES",
    "FORMATS",
    "GradientRecord",
    "GraphPicture",
    "RendererNotFoundError",
    "draw",
    "find_renderer",
    "record_gradients",
    "render",
    "render_source",
    "walk",
]
