"""Dependencies go one way: the engine core imports neither the pictures (viz) nor nn.

Referees: a fresh interpreter's sys.modules after importing the engine, and the source text of
the engine's modules.
"""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_engine_loads_neither_viz_nor_nn():
    code = (
        "import sys, autograd, autograd.compare, autograd.anomaly, autograd.sparsity, autograd.checks\n"
        "print(sorted(m for m in sys.modules if m == 'nn' or m.startswith(('nn.', 'autograd.viz'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_no_engine_module_names_nn_or_its_directory():
    """No module of autograd (outside viz) imports nn or builds a path to it."""
    for path in sorted((ROOT / "autograd").glob("*.py")):
        text = path.read_text()
        assert not re.search(r"^\s*(import nn\b|from nn\b)", text, re.M), path.name
        assert '"nn"' not in text and "'nn'" not in text, path.name
