"""docs/adding_an_op.md's worked example runs and prints what its comments say.

It runs in a fresh interpreter: the example registers a primitive, which must not join the
table of this test session (whose completeness other tests check).
"""

import subprocess
import sys
from pathlib import Path

from tests.test_readme import _expected_output, _normalise

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "adding_an_op.md"


def _example() -> str:
    text = DOC.read_text()
    start = text.index("```python\n") + len("```python\n")
    return text[start : text.index("```", start)]


def test_the_softplus_example_draws_counts_checks_and_differentiates_twice():
    block = _example()
    result = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    expected = _normalise(_expected_output(block))
    assert expected == ["True True", "1 0.5", "True", "0.25"]
    assert _normalise(result.stdout.splitlines()) == expected
