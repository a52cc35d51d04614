"""What the numbers were measured on: cores, CPU model, NumPy and its BLAS, peers' versions."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

import numpy as np

from . import threads


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def blas() -> str:
    try:
        config = np.show_config(mode="dicts")
        info = config["Build Dependencies"]["blas"]
        return f"{info.get('name')} {info.get('version')} ({info.get('openblas configuration', '').strip()})"
    except Exception:  # noqa: BLE001  (purely informative)
        return "unknown"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def describe() -> dict:
    info = {
        "nproc": threads.NPROC,
        "cpu": cpu_model(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "blas": blas(),
        "threads": threads.report(),
    }
    for package in ("torch", "jax", "jaxlib", "micrograd"):
        info[package] = _version(package)
    return info
