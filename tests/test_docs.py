"""The documents the project cites exist, cited sections are real headings, and the README's
tables that a tool writes are exactly what the tool prints.

Referees: the file system and the headings of the cited page (for citations), and
``python -m autograd.compare`` run here (for the README's comparison table).
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

from autograd import compare

REPO = Path(__file__).resolve().parent.parent
# Where the project speaks: its code, tests, tools, notebooks and Markdown pages.
CITING = sorted(
    {
        *REPO.glob("*.md"),
        *(p for folder in ("autograd", "nn", "benchmarks", "tools", "tests", "docs", "notebooks")
          for p in (REPO / folder).rglob("*") if p.suffix in (".py", ".md")),
    }
    - set((REPO / "docs" / "_build").rglob("*"))
)
# A path ending in .md or .ipynb, not part of a URL.
DOCUMENT = re.compile(r"(?<![\w/.:-])((?:\.\./|\./)?[\w.-]+(?:/[\w.-]+)*\.(?:md|ipynb))\b")
SECTION = re.compile(r"docs/maths\.md\s*,\s*\"([^\"]+)\"")


def prose(path: Path) -> str:
    """The text a reader reads: a Markdown page whole, a Python file's comments and docstrings
    (its other strings are data, such as the names of files a test writes)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".py":
        return text
    parts = []
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    starts = {tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
    for before, token, after in zip([None, *tokens], tokens, [*tokens[1:], None]):
        if token.type == tokenize.COMMENT:
            parts.append(token.string)
        elif token.type == tokenize.STRING and (before is None or before.type in starts):
            if after is None or after.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                parts.append(token.string)  # a string statement: a docstring
    return "\n".join(parts)


def cited_documents(path: Path) -> list[str]:
    text = re.sub(r"https?://\S+", "", prose(path))  # links to other sites are not ours to check
    return DOCUMENT.findall(text)


def resolves(citation: str, citing: Path) -> bool:
    """A citation names a file relative to the repository root or to the citing file."""
    return any((base / citation).resolve().is_file() for base in (REPO, citing.parent))


def test_the_scan_reads_the_places_that_cite():
    """The scan covers the README, the code, the tests and the notebooks, and finds citations."""
    names = {p.relative_to(REPO).as_posix() for p in CITING}
    assert {"README.md", "autograd/compare.py", "tests/test_docs.py", "notebooks/06_worked_examples.md"} <= (
        names
    )
    assert "docs/maths.md" in cited_documents(REPO / "autograd" / "primitives.py")


def test_a_missing_document_is_caught(tmp_path):
    """A citation of a file that is not there does not resolve (the check can fail)."""
    page = tmp_path / "page.md"
    page.write_text("See Missing.md and [the notes](notes/missing.md), not https://x.org/a.md.\n")
    found = cited_documents(page)
    assert found == ["Missing.md", "notes/missing.md"]
    assert not any(resolves(c, page) for c in found)
    module = tmp_path / "module.py"
    module.write_text('"""As Missing.md says."""\n\nNAME = "data.md"  # see notes/missing.md\n')
    assert cited_documents(module) == ["Missing.md", "notes/missing.md"]


def test_every_cited_document_exists():
    """Every .md or .ipynb path written in the project's files is a file in the repository."""
    missing = [
        f"{path.relative_to(REPO)}: {citation}"
        for path in CITING
        for citation in cited_documents(path)
        if not resolves(citation, path)
    ]
    assert not missing, "cited documents that do not exist:\n" + "\n".join(missing)


def headings(page: Path) -> set[str]:
    return {m.group(1).strip() for m in re.finditer(r"^#+\s+(.+)$", page.read_text(encoding="utf-8"), re.M)}


def test_every_cited_section_is_a_heading_of_the_maths_page():
    """Citations of a section of the maths page (its path, a comma, the section in double
    quotes, possibly across a line break) name headings of the page."""
    sections = headings(REPO / "docs" / "maths.md")
    cited = {}
    for path in CITING:
        text = path.read_text(encoding="utf-8")
        flat = re.sub(r"\s*\n\s*(?:#\s*)?", " ", text)  # join lines, and comment continuations
        for section in SECTION.findall(flat):
            cited.setdefault(section, []).append(str(path.relative_to(REPO)))
    assert {"Primitive rules", "Forward vs reverse accumulation", "Costs"} <= set(cited)
    unknown = {section: where for section, where in cited.items() if section not in sections}
    assert not unknown, f"sections cited but not on docs/maths.md: {unknown}"
    for required in ("Primitive rules", "Activations", "Costs", "Layer recurrences", "Checking"):
        assert required in sections


def test_every_notebook_is_linked_from_the_readme():
    """The README lists each notebook source."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for source in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.md")):
        assert f"(notebooks/{source.name})" in readme, source.name


class TestComparisonTable:
    def test_readme_table_is_what_the_tool_prints(self):
        """The README's table between the markers equals the one python -m autograd.compare writes
        (regenerate it with ``python -m autograd.compare --readme README.md``)."""
        results = [(p, compare.compare_modes(p.f, p.x, repeats=1)) for p in compare.problems()]
        readme = (REPO / "README.md").read_text(encoding="utf-8")
        assert compare.readme_block(readme) == compare.readme_table(results)

    def test_the_readme_table_is_part_of_the_printed_one(self):
        """Each README row is the printed row without its timings and agreement columns."""
        results = [(p, compare.compare_modes(p.f, p.x, repeats=1)) for p in compare.problems(quick=True)]
        printed = compare.markdown_table(results).splitlines()[2:]
        short = compare.readme_table(results).splitlines()[2:]
        keep = [compare.COLUMNS.index(name) for name in compare.README_COLUMNS]
        for full, row in zip(printed, short):
            cells = full.strip("| ").split(" | ")
            assert row == "| " + " | ".join(cells[k] for k in keep) + " |"

    def test_replacing_the_block(self):
        """--readme rewrites only the text between the markers; missing markers are an error."""
        text = f"intro\n{compare.README_BEGIN}\nold\n{compare.README_END}\noutro\n"
        new = compare.replace_readme_block(text, "| new |")
        assert new == f"intro\n{compare.README_BEGIN}\n| new |\n{compare.README_END}\noutro\n"
        assert compare.readme_block(new) == "| new |"
        with pytest.raises(ValueError, match="markers"):
            compare.replace_readme_block("no markers here", "| new |")

    def test_the_command_rewrites_a_readme(self, tmp_path):
        """python -m autograd.compare --quick --readme FILE writes the counted table into FILE."""
        readme = tmp_path / "README.md"
        readme.write_text(f"a\n{compare.README_BEGIN}\n{compare.README_END}\nb\n", encoding="utf-8")
        argv = ["--quick", "--repeats", "1", "--out", str(tmp_path / "p.png"), "--readme", str(readme)]
        results = compare.main(argv)
        assert compare.readme_block(readme.read_text(encoding="utf-8")) == compare.readme_table(results)
