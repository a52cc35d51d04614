"""The teaching notebooks run top to bottom in a fresh kernel, so none of them can rot.

The notebooks are stored as MyST Markdown text (jupytext's ``myst`` format): every file
``notebooks/[0-9][0-9]_*.md`` (two digits, an underscore, a name) is one. Each is read with
jupytext and executed with nbclient in a new ``python3`` kernel (this interpreter, through
ipykernel's kernelspec), from ``notebooks/`` as its working directory, as when it is opened in
Jupyter, with this checkout first on ``PYTHONPATH`` so that the kernel imports the packages
under test. It must finish without an error output (the worked examples ``assert`` the
hand-computed numbers, so a wrong number is an error), show at least one picture, and create no
file beside the notebooks or at the top of the repository. Its code cells pass ``ruff check``
with the project's settings.

With ``VECGRAD_EXECUTED_NOTEBOOKS=DIR`` set (``.ci/run`` sets ``docs/_notebooks``), each notebook
that passes is also written, with its outputs, into DIR (same name, ``.ipynb``), recording the SHA-256 of
its source; the documentation build shows those outputs instead of executing the notebooks again.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.md"))
PICTURES = {"image/png", "image/svg+xml"}
CELL_TIMEOUT_SECONDS = 240
# Written by the tools that run the tests, not by the notebooks.
# Where to keep the executed notebooks for the documentation build, if anywhere.
EXECUTED = os.environ.get("VECGRAD_EXECUTED_NOTEBOOKS")
IGNORED = {"__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache", ".ipynb_checkpoints"}


def kernel_env() -> dict[str, str]:
    """This process's environment with the checkout first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return env


def execute(notebook: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_SECONDS,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute(env=kernel_env())
    return notebook


def written_places() -> set[str]:
    """Where a notebook run from ``notebooks/`` could leave a file: everything under
    ``notebooks/`` and the entries at the top of the repository (tool caches left out)."""
    places = {name for name in os.listdir(REPO) if name not in IGNORED}
    for root, dirs, names in os.walk(NOTEBOOKS):
        dirs[:] = [d for d in dirs if d not in IGNORED]
        places.update(os.path.relpath(os.path.join(root, name), REPO) for name in names + dirs)
    return places


def keep_executed(notebook: nbformat.NotebookNode, source: Path, folder: Path) -> Path:
    """Write the executed ``notebook`` into ``folder`` (same name, ``.ipynb``) with its source digest."""
    digest = hashlib.sha256(source.read_text(encoding="utf-8").encode("utf-8")).hexdigest()
    notebook.metadata["vecgrad"] = {"source_sha256": digest}
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (source.stem + ".ipynb")
    nbformat.write(notebook, target)
    return target


def outputs(notebook: nbformat.NotebookNode) -> list:
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]


def test_the_notebooks_are_found():
    """The glob finds the four original notebooks and the worked examples (a typo in it would
    otherwise test nothing)."""
    names = [path.name for path in SOURCES]
    for expected in ("01_operator_overloading.md", "04_training.md", "06_worked_examples.md"):
        assert expected in names, names
    assert not list(NOTEBOOKS.glob("*.ipynb")), "notebooks are stored as .md text, not .ipynb"


def test_kernel_is_this_python(tmp_path):
    """The "python3" kernel runs the interpreter that runs the tests and imports this checkout."""
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import sys, autograd\nprint(sys.prefix)\nprint(autograd.__file__)")]
    )
    execute(notebook, tmp_path)
    printed = "".join(o.get("text", "") for o in outputs(notebook)).splitlines()
    assert Path(printed[0]).resolve() == Path(sys.prefix).resolve()
    assert Path(printed[1]).resolve().is_relative_to(REPO)


def test_a_failing_assert_fails_the_run(tmp_path):
    """A worked example whose number is wrong stops the run: the check the notebooks rely on."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("assert 0.21 == 0.24")])
    with pytest.raises(Exception, match="AssertionError"):
        execute(notebook, tmp_path)


def test_the_docs_build_reuses_only_a_matching_executed_notebook(tmp_path):
    """docs/conf.py takes an executed copy only when it was run from the current source text."""
    conf = load_docs_conf()
    source = SOURCES[0]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    executed = keep_executed(notebook, source, tmp_path)
    assert conf._executed_copy_matches(executed, source.read_text(encoding="utf-8"))
    assert not conf._executed_copy_matches(executed, source.read_text(encoding="utf-8") + "\nchanged\n")
    assert conf.source_digest("x") == hashlib.sha256(b"x").hexdigest()


def load_docs_conf():
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_conf", REPO / "docs" / "conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_code_is_ruff_clean(source, tmp_path):
    """The code cells pass ``ruff check`` with the project's configuration (ruff reads .ipynb)."""
    notebook = jupytext.read(source)
    target = tmp_path / (source.stem + ".ipynb")
    nbformat.write(notebook, target)
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--config", REPO / "pyproject.toml", target],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_runs_and_shows_a_picture(source, tmp_path, monkeypatch):
    """The notebook runs top to bottom without an error, shows a picture and writes nothing here."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the kernel's temporary files go to tmp_path
    notebook = jupytext.read(source)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells, f"{source.name} has no code cell"
    before = written_places()
    execute(notebook, NOTEBOOKS)
    produced = outputs(notebook)

    errors = [f"{o.ename}: {o.evalue}" for o in produced if o.output_type == "error"]
    assert not errors, f"{source.name} produced errors: {errors}"
    pictures = [o for o in produced if o.output_type == "display_data" and PICTURES & set(o.data)]
    assert pictures, f"{source.name} displayed no PNG or SVG picture"
    created = written_places() - before
    assert not created, f"{source.name} wrote into the repository: {sorted(created)}"
    if EXECUTED:
        keep_executed(notebook, source, REPO / EXECUTED)
