"""The optimizer and schedule runs compared with PyTorch, shared by the reference script and tests.

Both ``torch.optim`` and ``nn.optim`` are built from these same names and keyword arguments, so the
comparison also checks that the two APIs agree. Nothing here imports PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

STEPS = 100
SHAPES = [(2, 3), (4,)]
DTYPES = ["float32", "float64"]


def initial_values() -> list[np.ndarray]:
    """The parameters' starting values (float64)."""
    rng = np.random.default_rng(0)
    return [rng.normal(size=shape) for shape in SHAPES]


def gradient_sequence() -> list[np.ndarray]:
    """For each parameter, its gradient at every step: shape ``(STEPS, *shape)`` (float64)."""
    rng = np.random.default_rng(1)
    return [rng.normal(size=(STEPS, *shape)) for shape in SHAPES]


def _decay(epoch: int) -> float:
    return 1.0 / (1.0 + 0.1 * epoch)


def _geometric(epoch: int) -> float:
    return 0.97**epoch


def _warmup(epoch: int) -> float:
    return min(1.0, (epoch + 1) / 10)


#: name -> (optimizer class, keyword arguments, parameter groups as indices or None, schedule or None)
OPTIMIZER_CASES: dict[str, tuple[str, dict[str, Any], list[dict[str, Any]] | None, tuple | None]] = {
    "sgd": ("SGD", {"lr": 0.1}, None, None),
    "sgd_momentum": ("SGD", {"lr": 0.1, "momentum": 0.9}, None, None),
    "sgd_dampening": ("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3}, None, None),
    "sgd_nesterov": ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, None, None),
    "sgd_weight_decay": ("SGD", {"lr": 0.1, "weight_decay": 0.05}, None, None),
    "sgd_momentum_weight_decay": ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.05}, None, None),
    "adam": ("Adam", {"lr": 0.01}, None, None),
    "adam_weight_decay": ("Adam", {"lr": 0.01, "weight_decay": 0.1}, None, None),
    "adam_amsgrad": ("Adam", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "amsgrad": True}, None, None),
    "adamw": ("AdamW", {"lr": 0.01}, None, None),
    "adamw_weight_decay": ("AdamW", {"lr": 0.02, "weight_decay": 0.2, "betas": (0.85, 0.995)}, None, None),
    "sgd_groups": (
        "SGD",
        {"lr": 0.1, "momentum": 0.9},
        [{"params": [0], "lr": 0.03, "weight_decay": 0.1}, {"params": [1], "nesterov": True}],
        None,
    ),
    "adam_groups": (
        "Adam",
        {"lr": 0.01},
        [{"params": [0], "lr": 0.03, "weight_decay": 0.1}, {"params": [1], "betas": (0.5, 0.9)}],
        None,
    ),
    "adamw_cosine": ("AdamW", {"lr": 0.02, "weight_decay": 0.1}, None, ("CosineAnnealingLR", {"T_max": 40})),
    "sgd_step": ("SGD", {"lr": 0.1, "momentum": 0.5}, None, ("StepLR", {"step_size": 10, "gamma": 0.5})),
}

#: name -> (scheduler class, keyword arguments); each runs on SGD with two groups (lr 0.1 and 0.02).
SCHEDULER_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "step": ("StepLR", {"step_size": 7, "gamma": 0.5}),
    "exponential": ("ExponentialLR", {"gamma": 0.95}),
    "cosine": ("CosineAnnealingLR", {"T_max": 100}),
    "cosine_restarting": ("CosineAnnealingLR", {"T_max": 30, "eta_min": 0.001}),
    "lambda": ("LambdaLR", {"lr_lambda": _decay}),
    "lambda_per_group": ("LambdaLR", {"lr_lambda": [_geometric, _warmup]}),
}

SCHEDULER_GROUP_LRS = (0.1, 0.02)


def make_optimizer(optim: Any, case: str, params: list[Any]) -> Any:
    """The optimizer of ``case`` from the module ``optim`` (``torch.optim`` or ``nn.optim``)."""
    name, kwargs, groups, _ = OPTIMIZER_CASES[case]
    if groups is None:
        return getattr(optim, name)(params, **kwargs)
    groups = [{**group, "params": [params[i] for i in group["params"]]} for group in groups]
    return getattr(optim, name)(groups, **kwargs)


def make_case_scheduler(lr_scheduler: Any, case: str, optimizer: Any) -> Any:
    """The schedule of optimizer ``case`` (or None), from ``lr_scheduler``."""
    schedule = OPTIMIZER_CASES[case][3]
    if schedule is None:
        return None
    name, kwargs = schedule
    return getattr(lr_scheduler, name)(optimizer, **kwargs)


def make_scheduler(optim: Any, lr_scheduler: Any, case: str, params: list[Any]) -> Any:
    """Scheduler ``case`` on an SGD with two parameter groups, from ``optim`` and ``lr_scheduler``."""
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, SCHEDULER_GROUP_LRS)]
    name, kwargs = SCHEDULER_CASES[case]
    return getattr(lr_scheduler, name)(optim.SGD(groups, lr=0.1), **kwargs)
