"""Benchmark 6: peak memory of one backward pass through ``Y = W @ X``.

``W`` is ``(2048, 2048)`` and ``X`` ``(2048, 128)``, float32, both requiring grad, and the seed
``G`` (the shape of ``Y``) exists before backward starts. The results themselves take
``dW = G X^T`` 16 MiB plus ``dX = W^T G`` 1 MiB = 17 MiB; anything above is the engine's.

Two measures, each in a fresh process per contender so that nothing earlier pollutes it:

* tracemalloc peak during backward, above what was allocated before it (NumPy reports its
  buffers to tracemalloc, so this sees every array the NumPy-based contenders allocate);
* the rise of the process's peak resident set (``VmHWM``, reset through
  ``/proc/self/clear_refs``), which also sees allocators that tracemalloc cannot (PyTorch's);
  page-granular, and run with a fixed glibc mmap threshold (:data:`FRESH_PAGES`).

Run ``python -m benchmarks.memory CONTENDER`` to measure one contender; it prints JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc

import numpy as np

SHAPES = ((2048, 2048), (2048, 128))
#: glibc serves a large allocation from memory freed earlier (already resident) once its mmap
#: threshold has adapted, which hides it from the resident-set meter. A fixed threshold gives
#: every allocation over 128 KiB fresh pages, for every contender alike.
FRESH_PAGES = {"MALLOC_MMAP_THRESHOLD_": "131072"}
MIB = 1024 * 1024
CONTENDERS = ("NumPy by hand", "vecgrad", "PyTorch eager")


def _vm(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _measure(backward) -> dict:
    """Run ``backward()`` under both meters; bytes above the state just before it."""
    rss_ok = _reset_peak_rss()
    rss_before = _vm("VmRSS")
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    keep = backward()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_peak = _vm("VmHWM")
    del keep
    return {
        "tracemalloc_peak": peak - before,
        "rss_peak": (rss_peak - rss_before) if rss_ok and rss_peak and rss_before else None,
    }


def _inputs():
    rng = np.random.default_rng(0)
    W = rng.standard_normal(SHAPES[0]).astype(np.float32)
    X = rng.standard_normal(SHAPES[1]).astype(np.float32)
    G = rng.standard_normal((SHAPES[0][0], SHAPES[1][1])).astype(np.float32)
    return W, X, G


def _hand(W, X, G):
    return lambda: (G @ X.T, W.T @ G)


def _vecgrad(W, X, G):
    from autograd import Tensor

    Wt, Xt = Tensor(W, requires_grad=True), Tensor(X, requires_grad=True)
    Y = Wt @ Xt
    return lambda: (Y.backward(G), Wt.grad, Xt.grad)


def _torch(W, X, G):
    import torch

    torch.set_num_threads(1)
    Wt = torch.tensor(W, requires_grad=True)
    Xt = torch.tensor(X, requires_grad=True)
    Y = Wt @ Xt
    return lambda: (Y.backward(torch.from_numpy(G)), Wt.grad, Xt.grad)


SETUPS = {"NumPy by hand": _hand, "vecgrad": _vecgrad, "PyTorch eager": _torch}


def measure(contender: str) -> dict:
    setup = SETUPS[contender]
    # A small warm-up pass first: code pages and caches loaded on first use are not backward's.
    setup(*(a[:8, :8] for a in _inputs()))()
    backward = setup(*_inputs())
    result = _measure(backward)
    if contender == "PyTorch eager":
        # tracemalloc cannot see PyTorch's allocator: only the resident-set measure counts.
        result["tracemalloc_peak"] = None
    return result


def run(notes: list) -> dict:
    """Each contender in its own process; MiB."""
    result = {
        "workload": "backward peak memory, (2048,2048)@(2048,128) float32",
        "tracemalloc": {},
        "rss": {},
    }
    for contender in CONTENDERS:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.memory", contender],
            capture_output=True,
            text=True,
            env={**os.environ, **FRESH_PAGES},
        )
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            notes.append(f"{contender} skipped (memory): {last}")
            continue
        measured = json.loads(proc.stdout.strip().splitlines()[-1])
        for key, column in (("tracemalloc_peak", "tracemalloc"), ("rss_peak", "rss")):
            if measured[key] is not None:
                result[column][contender] = measured[key] / MIB
    return result


if __name__ == "__main__":
    from . import threads  # noqa: F401

    print(json.dumps(measure(sys.argv[1])))
