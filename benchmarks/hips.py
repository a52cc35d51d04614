"""Drive HIPS autograd, which lives in its own virtualenv, through ``hips_worker.py``.

The environment is found at ``$VECGRAD_HIPS_PYTHON`` or ``/tmp/hips-venv/bin/python``. Create
it with ``python -m benchmarks.hips --setup`` (a virtualenv with NumPy and HIPS autograd from
the package index). Without it, every HIPS autograd column is skipped and the notes say so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

VENV = Path("/tmp/hips-venv")
WORKER = Path(__file__).with_name("hips_worker.py")


def python() -> str | None:
    candidate = os.environ.get("VECGRAD_HIPS_PYTHON") or str(VENV / "bin" / "python")
    return candidate if Path(candidate).exists() else None


def call(notes: list, timeout: float = 900, **request) -> dict | None:
    """Run one worker command; None (and a note) when HIPS autograd is not available."""
    exe = python()
    if exe is None:
        note = "HIPS autograd skipped: no virtualenv (python -m benchmarks.hips --setup)"
        if note not in notes:
            notes.append(note)
        return None
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [exe, str(WORKER), json.dumps(request)], capture_output=True, text=True, timeout=timeout, env=env
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        notes.append(f"HIPS autograd skipped ({request['command']}): {last}")
        return None
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    versions = answer["versions"]
    version = f"HIPS autograd {versions['autograd']} (NumPy {versions['numpy']}, own virtualenv)"
    if version not in notes:
        notes.append(version)
    return answer["result"]


def setup() -> None:
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run(pip + [f"numpy=={np.__version__}", "autograd"], check=True)


if __name__ == "__main__":
    if "--setup" in sys.argv:
        setup()
    print(python() or "no HIPS autograd virtualenv")
