"""Turning DOT text into SVG or PNG, with or without a system Graphviz.

A system ``dot`` is used when there is one. Otherwise the ``graphviz-pure`` command, installed
from PyPI with this package, does the layout: a self-contained port of Graphviz's ``dot`` with
its fonts built in, which writes SVG and PNG itself. Both take the same command line
(``-Tsvg -o out.svg``, DOT text on stdin).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

#: Formats that :func:`render` writes. ``dot`` is the DOT text itself and needs no renderer.
FORMATS = ("svg", "png", "dot")

_PURE = "graphviz-pure"


def _script_dirs() -> list[str]:
    """Where pip put this interpreter's console commands (``bin/`` or ``Scripts/``)."""
    dirs = [sysconfig.get_path("scripts"), os.path.dirname(sys.executable)]
    return [d for d in dict.fromkeys(dirs) if d]


def find_renderer() -> str | None:
    """The Graphviz command to run: a system ``dot`` on PATH, else ``graphviz-pure``.

    ``graphviz-pure`` is looked for next to this interpreter first (the copy pip installed with
    this package, found even in a virtual environment that is not activated), then on PATH.
    """
    system_dot = shutil.which("dot")
    if system_dot:
        return system_dot
    suffix = ".exe" if os.name == "nt" else ""
    for directory in _script_dirs():
        candidate = os.path.join(directory, _PURE + suffix)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which(_PURE)


class RendererNotFoundError(RuntimeError):
    """Neither a system ``dot`` nor the ``graphviz-pure`` command could be found."""


def _missing() -> RendererNotFoundError:
    return RendererNotFoundError(
        "render: no Graphviz renderer found: there is no `dot` command and no `graphviz-pure` "
        "command on PATH or next to this Python. Install the pure-Python-wheel renderer with "
        "`pip install graphviz-pure` (a dependency of vecgrad), or a system Graphviz. The DOT "
        'text needs no renderer: render(y, path, format="dot") or y.draw().source.'
    )


def render_source(source: str, format: str) -> bytes:
    """Lay out the DOT ``source`` and return the picture in ``format`` (``svg`` or ``png``)."""
    if format not in ("svg", "png"):
        raise ValueError(f"render: unsupported format {format!r}; use one of {', '.join(FORMATS)}")
    command = find_renderer()
    if command is None:
        raise _missing()
    result = subprocess.run(
        [command, f"-T{format}"], input=source.encode("utf-8"), capture_output=True, check=False
    )
    if result.returncode != 0 or not result.stdout:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"render: {Path(command).name} failed (exit {result.returncode}): {message}")
    return result.stdout


def write(source: str, path: str | os.PathLike, format: str) -> str:
    """Write the picture of ``source`` to ``path`` (``.format`` appended unless present)."""
    if format not in FORMATS:
        raise ValueError(f"render: unsupported format {format!r}; use one of {', '.join(FORMATS)}")
    target = Path(path)
    if target.suffix != f".{format}":
        target = target.with_name(target.name + f".{format}")
    data = source.encode("utf-8") if format == "dot" else render_source(source, format)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return str(target)
