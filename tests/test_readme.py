"""The README's examples run, and print exactly what their comments say."""

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def _expected_output(block: str) -> list[str]:
    """The comments after each print(...) call, continuation comment lines included."""
    expected, in_print = [], False
    for line in block.splitlines():
        code, _, comment = line.partition("#")
        if code.strip().startswith("print("):
            in_print = True
            expected.append(comment.strip())
        elif in_print and not code.strip() and comment:
            expected.append(comment.strip())
        else:
            in_print = False
    return expected


def _normalise(lines: list[str]) -> list[str]:
    return [" ".join(line.split()) for line in lines if line.strip()]


@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_readme_example_prints_what_its_comments_say(index):
    """Each python block of the README, executed, prints the values written in its comments."""
    block = _python_blocks()[index]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, f"README block {index}", "exec"), {})
    printed = _normalise(out.getvalue().splitlines())
    assert printed == _normalise(_expected_output(block))


def test_readme_has_the_two_commands():
    """The install-and-train and install-and-test commands appear verbatim."""
    text = README.read_text()
    assert "pip install -e . && python -m nn.train" in text
    assert 'pip install -e ".[test]" && pytest' in text
