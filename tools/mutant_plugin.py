"""A pytest plugin that runs the suite against one faulty rule: ``VECGRAD_MUTANT=exp:vjp_scaled``.

Load it with ``python -m pytest -p tools.mutant_plugin``; without the variable it does nothing.
"""

from __future__ import annotations

import os

import pytest

ENV = "VECGRAD_MUTANT"


def pytest_configure(config: pytest.Config) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    from tools.mutants import inject

    try:
        inject(spec)
    except KeyError as error:
        raise pytest.UsageError(f"{ENV}={spec}: {error}") from None


def pytest_report_header(config: pytest.Config) -> str | None:
    spec = os.environ.get(ENV)
    return f"mutant: {spec}" if spec else None
