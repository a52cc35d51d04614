"""The teaching notebooks run top to bottom in a fresh kernel, so none of them can rot.

Each notebook is executed with nbclient in a new ``python3`` kernel (this interpreter, through
ipykernel's own kernelspec), from ``notebooks/`` as its working directory, as when it is opened
in Jupyter. It must finish without an error output, show at least one picture (PNG or SVG display
data), and create no file beside the notebooks or at the top of the repository: whatever it
writes goes to a temporary directory.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
NAMES = [
    "01_operator_overloading.ipynb",
    "02_rendering_graphs.ipynb",
    "03_forward_vs_reverse.ipynb",
    "04_training.ipynb",
]
PICTURES = {"image/png", "image/svg+xml"}
CELL_TIMEOUT_SECONDS = 240
# Written by the tools that run the tests, not by the notebooks.
IGNORED = {"__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache", ".ipynb_checkpoints"}


def execute(notebook: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_SECONDS,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    return notebook


def written_places() -> set[str]:
    """Where a notebook run from ``notebooks/`` could leave a file: everything under
    ``notebooks/`` and the entries at the top of the repository (tool caches left out)."""
    places = {name for name in os.listdir(REPO) if name not in IGNORED}
    for root, dirs, names in os.walk(NOTEBOOKS):
        dirs[:] = [d for d in dirs if d not in IGNORED]
        places.update(os.path.relpath(os.path.join(root, name), REPO) for name in names + dirs)
    return places


def outputs(notebook: nbformat.NotebookNode) -> list:
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]


def test_kernel_is_this_python(tmp_path):
    """The "python3" kernel runs the interpreter that runs the tests, so it sees this install."""
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import sys, autograd\nprint(sys.prefix)\nprint(autograd.__file__)")]
    )
    execute(notebook, tmp_path)
    printed = "".join(o.get("text", "") for o in outputs(notebook)).splitlines()
    assert Path(printed[0]).resolve() == Path(sys.prefix).resolve()
    assert Path(printed[1]).resolve().is_relative_to(REPO)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs(name):
    """The stored notebook has no outputs: the executed versions exist only in the test."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells, f"{name} has no code cell"
    for cell in code_cells:
        assert cell.outputs == [] and cell.execution_count is None, f"{name}: a cell keeps its outputs"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_and_shows_a_picture(name, tmp_path, monkeypatch):
    """The notebook runs top to bottom without an error, shows a picture and writes nothing here."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the kernel's temporary files go to tmp_path
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    before = written_places()
    execute(notebook, NOTEBOOKS)
    produced = outputs(notebook)

    errors = [f"{o.ename}: {o.evalue}" for o in produced if o.output_type == "error"]
    assert not errors, f"{name} produced errors: {errors}"
    pictures = [o for o in produced if o.output_type == "display_data" and PICTURES & set(o.data)]
    assert pictures, f"{name} displayed no PNG or SVG picture"
    created = written_places() - before
    assert not created, f"{name} wrote into the repository: {sorted(created)}"
