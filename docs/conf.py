"""Sphinx configuration of vecgrad's documentation site.

    pip install -e ".[docs]" && sphinx-build -W -b html docs docs/_build/html

The front page is the README, the benchmark page ``benchmarks/README.md`` and the data page
``nn/data/DIGITS.md``, read in at build time (``_include_outside_pages``) with their links
rewritten for the site, so each text lives in one place. The notebooks, every
``notebooks/[0-9][0-9]_*.md``, are copied into ``docs/_notebooks/`` (not committed) when the
build starts, and myst-nb executes each once, in a kernel that imports this checkout; a notebook
that raises, including a failed ``assert`` of a worked example's numbers, fails the build. When
the test suite ran first with ``VECGRAD_EXECUTED_NOTEBOOKS=docs/_notebooks`` (as ``.ci/run``
does), it left each notebook executed there, and the build shows those outputs instead of
running the notebooks a second time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _import_this_checkout() -> None:
    """autodoc imports this checkout; the notebook kernels, separate processes, find it through
    PYTHONPATH. Done when the build starts (setup), not when this file is merely loaded."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)


project = "vecgrad"
author = "the vecgrad authors"
copyright = "vecgrad authors, MIT licence"

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.mathjax", "sphinx.ext.viewcode"]
exclude_patterns = ["_build", "make_pictures.py", "**/.ipynb_checkpoints"]

myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# Each notebook runs once: the text sources here, unless the test suite already ran that source
# and left the executed notebook (same name, .ipynb) in docs/_notebooks.
nb_execution_mode = "force"
nb_execution_excludepatterns = ["_notebooks/*.ipynb"]
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_inherit_docstrings = False  # graphviz.Digraph's docstrings are not written for docutils
autodoc_default_options = {"members": True, "show-inheritance": False}

html_theme = "furo"
html_title = "vecgrad"
html_static_path = ["_static"]
html_css_files = ["custom.css"]

# Pages whose text lives outside docs/: docname -> (file, [(old, new) link rewrites]).
OUTSIDE = {
    "index": (
        ROOT / "README.md",
        [
            ("](docs/", "]("),
            ("](notebooks/", "](_notebooks/"),
            ("](benchmarks/README.md)", "](benchmarks.md)"),
            ("](nn/data/DIGITS.md)", "](data.md)"),
        ],
    ),
    "benchmarks": (ROOT / "benchmarks" / "README.md", [("](results/", "](../benchmarks/results/")]),
    "data": (ROOT / "nn" / "data" / "DIGITS.md", []),
}


NOTEBOOKS = ROOT / "notebooks"
NOTEBOOK_COPIES = Path(__file__).resolve().parent / "_notebooks"


def source_digest(text: str) -> str:
    """What an executed copy records of the source it ran (tests/test_notebooks.py writes it)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _executed_copy_matches(executed: Path, text: str) -> bool:
    try:
        notebook = json.loads(executed.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return notebook.get("metadata", {}).get("vecgrad", {}).get("source_sha256") == source_digest(text)


def copy_notebooks() -> list[Path]:
    """Put each notebook into docs/_notebooks: the notebook already executed by the test suite
    (same name, ``.ipynb``, with outputs, kept when it ran the current source; see ``.ci/run``),
    else the source (``.md``), which the build executes. Links are rewritten for the new
    place (to the maths page, and to the other notebooks under their copies' names); everything
    else in the folder is removed. Returns the copies."""
    NOTEBOOK_COPIES.mkdir(exist_ok=True)
    copies = []
    for source in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.md")):
        executed = NOTEBOOK_COPIES / (source.stem + ".ipynb")
        matches = _executed_copy_matches(executed, source.read_text(encoding="utf-8"))
        copies.append((source, executed if matches else NOTEBOOK_COPIES / source.name))
    COPY_NAMES.clear()
    COPY_NAMES.update({source.name: copy.name for source, copy in copies})
    for source, copy in copies:
        text = (copy if copy.suffix == ".ipynb" else source).read_text(encoding="utf-8")
        text = text.replace("](../docs/", "](../")
        for name, copy_name in COPY_NAMES.items():
            text = text.replace(f"]({name}", f"]({copy_name}")
        if not copy.exists() or copy.read_text(encoding="utf-8") != text:
            copy.write_text(text, encoding="utf-8")
    kept = {copy for _, copy in copies}
    for stale in set(NOTEBOOK_COPIES.iterdir()) - kept:
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    return sorted(kept)


#: Notebook source name -> the name of its copy in docs/_notebooks (.md or executed .ipynb).
COPY_NAMES: dict[str, str] = {}


def _include_outside_pages(app, docname: str, source: list[str]) -> None:
    """Put the outside file's text, links rewritten, in front of the stub page's own text."""
    if docname not in OUTSIDE:
        return
    path, rewrites = OUTSIDE[docname]
    text = path.read_text(encoding="utf-8")
    for old, new in rewrites:
        text = text.replace(old, new)
    for name, copy_name in COPY_NAMES.items():
        text = text.replace(f"](_notebooks/{name})", f"](_notebooks/{copy_name})")
    source[0] = text + "\n\n" + source[0]


def setup(app):
    _import_this_checkout()
    app.connect("builder-inited", lambda app: copy_notebooks())
    app.connect("source-read", _include_outside_pages)
