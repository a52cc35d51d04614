"""Pin every thread pool to one thread, and the process to one core, before NumPy, PyTorch or
JAX is imported.

The benchmarks compare per-step costs on a 2-core machine; a BLAS that spreads one matmul over
both cores while a peer does not would measure thread scheduling, not the engines. OpenBLAS,
MKL and OpenMP read these variables once, when they load, so this module must be imported first
(``benchmarks/__init__.py`` and ``hips_worker.py`` do so). Standard library only.
"""

from __future__ import annotations

import os
import sys

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
# XLA's CPU backend: no Eigen thread pool for matmuls, one intra-op thread.
XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

#: NumPy was already loaded when this module ran: its BLAS may have started more threads.
numpy_imported_first = "numpy" in sys.modules

for _name in THREAD_VARIABLES:
    os.environ[_name] = "1"
os.environ["XLA_FLAGS"] = XLA_FLAGS


#: The one core the whole process runs on. XLA's CPU runtime sizes its thread pools from the
#: process's CPU affinity and ignores the flags above (unpinned, JAX computed the large step on
#: both cores), and pinning only while JAX starts leaves its threads on one core and Python on
#: the other (a cross-core hand-off per call). So every thread of every contender shares one
#: core, set before any thread is started. ``VECGRAD_BENCH_CPU`` picks it; by default the last
#: core the process may use.
PINNED_CPU: int | None = None
#: How many cores the process could use before it was pinned (what ``nproc`` printed).
NPROC = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
if hasattr(os, "sched_setaffinity"):
    PINNED_CPU = int(os.environ.get("VECGRAD_BENCH_CPU", max(os.sched_getaffinity(0))))
    os.sched_setaffinity(0, {PINNED_CPU})


def limit_blas_threads() -> None:
    """Also cap the BLAS pool at run time when threadpoolctl is installed (belt and braces)."""
    try:
        import threadpoolctl
    except ImportError:
        return
    threadpoolctl.threadpool_limits(1)


def report() -> dict:
    """The thread settings in force: environment, BLAS pools, and PyTorch's if it is loaded."""
    info = {name: os.environ.get(name) for name in THREAD_VARIABLES + ("XLA_FLAGS",)}
    info["pinned_cpu"] = PINNED_CPU
    try:
        import threadpoolctl

        info["blas_pools"] = [
            f"{pool['internal_api']} {pool.get('version')}: {pool['num_threads']} thread(s)"
            for pool in threadpoolctl.threadpool_info()
        ]
    except ImportError:
        info["blas_pools"] = ["threadpoolctl not installed: pools not inspected"]
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch_threads"] = (
            f"{torch.get_num_threads()} intra-op, {torch.get_num_interop_threads()} inter-op"
        )
    if numpy_imported_first:
        info["warning"] = "numpy was imported before the thread variables were set"
    return info
