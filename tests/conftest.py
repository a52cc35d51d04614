"""Suite-wide checks.

The suite must leave nothing in the temporary directory: whatever a test, a notebook kernel or
a subprocess writes there goes to pytest's ``tmp_path`` or is removed. To check that even while
other test runs share the machine, the session runs with a temporary directory of its own
(``TMPDIR``, which subprocesses inherit, and ``tempfile.tempdir``) and fails if anything is
left in it at the end. pytest's own ``tmp_path`` directories stay where pytest puts them.
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
    private = Path(tempfile.mkdtemp(prefix="vecgrad-test-session-"))
    saved_env, saved_tempdir = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = str(private)
    tempfile.tempdir = str(private)
    try:
        yield private
    finally:
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env
        tempfile.tempdir = saved_tempdir
        left = sorted(entry.name for entry in private.iterdir())
        shutil.rmtree(private, ignore_errors=True)
    assert not left, f"the test session left these entries in the temporary directory: {left}"
