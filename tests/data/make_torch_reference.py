"""Compute PyTorch's optimizer and schedule trajectories once: ``python tests/data/make_torch_reference.py``.

Writes ``tests/data/torch_optim_reference.npz``, which tests/test_nn_optim_torch.py replays
against ``nn.optim`` (so the test suite does not need PyTorch). The runs are those of
``tests/optim_cases.py``: the same starting parameters and the same seeded gradient sequence,
in float32 and float64, with PyTorch's single-tensor (``foreach=False``) implementations.
Requires ``torch`` (made with torch 2.13.0).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.optim_cases import (  # noqa: E402
    DTYPES,
    OPTIMIZER_CASES,
    SCHEDULER_CASES,
    STEPS,
    gradient_sequence,
    initial_values,
    make_case_scheduler,
    make_optimizer,
    make_scheduler,
)

OUT = Path(__file__).with_name("torch_optim_reference.npz")


class SingleTensorOptim:
    """``torch.optim`` with ``foreach=False``: the per-parameter loops, not the fused kernels."""

    def __getattr__(self, name):
        cls = getattr(torch.optim, name)
        return lambda params, **kwargs: cls(params, foreach=False, **kwargs)


def optimizer_trajectory(case: str, dtype: str) -> np.ndarray:
    """The parameters (flattened, concatenated) after each of the STEPS steps."""
    params = [
        torch.tensor(value, dtype=getattr(torch, dtype), requires_grad=True) for value in initial_values()
    ]
    optimizer = make_optimizer(SingleTensorOptim(), case, params)
    scheduler = make_case_scheduler(torch.optim.lr_scheduler, case, optimizer)
    gradients = gradient_sequence()
    rows = []
    for t in range(STEPS):
        for p, g in zip(params, gradients):
            p.grad = torch.tensor(g[t], dtype=p.dtype)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        rows.append(np.concatenate([p.detach().numpy().ravel() for p in params]))
    return np.array(rows)


def schedule(case: str) -> np.ndarray:
    """``get_last_lr()`` after construction and after each of the STEPS steps: (STEPS + 1, groups)."""
    params = [torch.zeros(1, requires_grad=True) for _ in range(2)]
    scheduler = make_scheduler(torch.optim, torch.optim.lr_scheduler, case, params)
    rates = [scheduler.get_last_lr()]
    for _ in range(STEPS):
        scheduler.optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr())
    return np.array(rates, dtype=np.float64)


def main() -> None:
    arrays = {"torch_version": np.array(torch.__version__)}
    for case in OPTIMIZER_CASES:
        for dtype in DTYPES:
            arrays[f"optimizer/{case}/{dtype}"] = optimizer_trajectory(case, dtype)
    for case in SCHEDULER_CASES:
        arrays[f"schedule/{case}"] = schedule(case)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size} bytes, torch {torch.__version__})")


if __name__ == "__main__":
    main()
