"""Suite-wide checks.

The suite must leave nothing in the temporary directory: whatever a test, a notebook kernel or
a subprocess writes there goes to pytest's ``tmp_path`` or is removed. To check that even while
other test runs share the machine, the session runs with a temporary directory of its own
(``TMPDIR``, which subprocesses inherit, and ``tempfile.tempdir``) and fails if anything is
left in it at the end. pytest's own ``tmp_path`` directories, also those of a pytest run by a
test, stay where pytest puts them (``PYTEST_DEBUG_TEMPROOT``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def temporary_directory_left_clean(tmp_path_factory):
    tmp_path_factory.getbasetemp()  # pytest's directories first, in the usual place
    saved_env = {name: os.environ.get(name) for name in ("TMPDIR", "PYTEST_DEBUG_TEMPROOT")}
    saved_tempdir = tempfile.tempdir
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", tempfile.gettempdir())
    private = Path(tempfile.mkdtemp(prefix="vecgrad-test-session-"))
    os.environ["TMPDIR"] = str(private)
    tempfile.tempdir = str(private)
    try:
        yield private
    finally:
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        tempfile.tempdir = saved_tempdir
        left = sorted(entry.name for entry in private.iterdir())
        shutil.rmtree(private, ignore_errors=True)
    assert not left, f"the test session left these entries in the temporary directory: {left}"
