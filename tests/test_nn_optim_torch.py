"""nn.optim against PyTorch: every optimizer and schedule, 100 steps, float32 and float64.

The reference values were computed once by tests/data/make_torch_reference.py (torch.optim with
foreach=False) from the runs of tests/optim_cases.py: the same starting parameters and the same
seeded gradient sequence, replayed here.
"""

from pathlib import Path

import numpy as np
import pytest

import nn
from autograd import Tensor
from tests.optim_cases import (
    OPTIMIZER_CASES,
    SCHEDULER_CASES,
    STEPS,
    gradient_sequence,
    initial_values,
    make_case_scheduler,
    make_optimizer,
    make_scheduler,
)

pytestmark = pytest.mark.filterwarnings("error")

REFERENCE = Path(__file__).parent / "data" / "torch_optim_reference.npz"
#: Largest difference from PyTorch allowed, absolute and relative, per dtype.
TOLERANCE = {"float32": 1e-6, "float64": 1e-12}


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def trajectory(case, dtype):
    """nn.optim's parameters (flattened, concatenated) after each step of the run ``case``."""
    params = [Tensor(value.astype(dtype), requires_grad=True) for value in initial_values()]
    optimizer = make_optimizer(nn.optim, case, params)
    scheduler = make_case_scheduler(nn.optim.lr_scheduler, case, optimizer)
    gradients = gradient_sequence()
    rows = []
    for t in range(STEPS):
        for p, g in zip(params, gradients):
            p.grad = g[t].astype(dtype)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        assert all(p.dtype == np.dtype(dtype) for p in params)
        rows.append(np.concatenate([p.data.ravel() for p in params]))
    return np.array(rows), optimizer


def test_reference_covers_every_case(reference):
    """The stored data holds a 100-step run of every case, made by PyTorch."""
    assert str(reference["torch_version"]).startswith("2.")
    for case in OPTIMIZER_CASES:
        for dtype in TOLERANCE:
            assert reference[f"optimizer/{case}/{dtype}"].shape == (STEPS, 10)
    for case in SCHEDULER_CASES:
        assert reference[f"schedule/{case}"].shape == (STEPS + 1, 2)


@pytest.mark.parametrize("dtype", list(TOLERANCE))
@pytest.mark.parametrize("case", list(OPTIMIZER_CASES))
def test_optimizer_matches_pytorch(reference, case, dtype):
    """After each of 100 steps, the parameters equal PyTorch's (1e-6 in float32, 1e-12 in float64)."""
    ours, optimizer = trajectory(case, dtype)
    theirs = reference[f"optimizer/{case}/{dtype}"]
    assert theirs.dtype == np.dtype(dtype)
    tolerance = TOLERANCE[dtype]
    np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance)
    # The run moved the parameters far beyond the tolerance, so the comparison has teeth.
    assert np.abs(theirs[-1] - np.concatenate([v.ravel() for v in initial_values()])).max() > 0.05
    for entry in optimizer.state.values():
        for value in entry.values():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.dtype(dtype)


@pytest.mark.parametrize("case", list(SCHEDULER_CASES))
def test_scheduler_matches_pytorch(reference, case):
    """get_last_lr() after construction and each of 100 steps equals PyTorch's, to 1e-12."""
    params = [Tensor(np.zeros(1), requires_grad=True) for _ in range(2)]
    scheduler = make_scheduler(nn.optim, nn.optim.lr_scheduler, case, params)
    rates = [scheduler.get_last_lr()]
    for _ in range(STEPS):
        scheduler.optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr())
        assert [group["lr"] for group in scheduler.optimizer.param_groups] == rates[-1]
    theirs = reference[f"schedule/{case}"]
    np.testing.assert_allclose(np.array(rates), theirs, rtol=1e-12, atol=1e-15)
    assert scheduler.last_epoch == STEPS
    assert np.ptp(theirs[:, 0]) > 0.01  # the rate really changes
