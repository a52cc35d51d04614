"""Learning-rate schedules, with PyTorch's semantics (``torch.optim.lr_scheduler``).

A scheduler sets ``group["lr"]`` of each of its optimizer's parameter groups. Construction
records each group's starting rate as ``group["initial_lr"]`` (``base_lrs``) and counts as epoch
0; each ``step()`` (called after ``optimizer.step()``) advances ``last_epoch`` by one and sets the
new rates, which ``get_last_lr()`` returns. The rates follow PyTorch's recurrences, which act on
the current ``group["lr"]``, so they compose with other changes to it exactly as PyTorch's do:

* ``StepLR``: ``lr ← γ lr`` whenever ``last_epoch`` is a positive multiple of ``step_size``;
* ``ExponentialLR``: ``lr ← γ lr`` every epoch;
* ``CosineAnnealingLR``: ``lr_t = η_min + (lr_0 - η_min)(1 + cos(π t / T_max)) / 2``, computed by
  the recurrence ``lr_t = η_min + (lr_{t-1} - η_min)(1 + cos(π t/T_max)) / (1 + cos(π (t-1)/T_max))``
  (and, past ``T_max``, PyTorch's rule for rising again);
* ``LambdaLR``: ``lr_t = lr_0 · λ(t)``.

``state_dict()`` holds every attribute but the optimizer (and, for ``LambdaLR``, only the
``__dict__`` of callable objects, never functions), as in PyTorch.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .optimizer import Optimizer, check_number


class LRScheduler:
    """Base class: subclasses compute the next rates in ``get_lr()`` from ``last_epoch``."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        name = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: expected an nn.optim optimizer, got {type(optimizer).__name__}")
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < -1:
            raise ValueError(f"{name}: last_epoch must be an int >= -1, got {last_epoch!r}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for k, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{name}: param_groups[{k}] has no 'initial_lr', which resuming with "
                        f"last_epoch={last_epoch} needs (load the optimizer's state dict first)"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The rates for ``last_epoch`` (already advanced), one per parameter group."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set each group's ``lr``."""
        self._step_count += 1
        self.last_epoch += 1
        rates = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, rates, strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The rates set by the last ``step()`` (or by construction)."""
        return list(self._last_lr)

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (only known attributes are accepted)."""
        unknown = sorted(set(state_dict) - set(self.state_dict()))
        if unknown:
            raise KeyError(f"{type(self).__name__}.load_state_dict: unknown entries {unknown}")
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs: ``lr_t = lr_0 γ^⌊t / step_size⌋``."""

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive int, got {step_size!r}")
        self.step_size = step_size
        self.gamma = check_number("StepLR", "gamma", gamma, above=0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every epoch: ``lr_t = lr_0 γ^t``."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = check_number("ExponentialLR", "gamma", gamma, above=0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:  # construction sets no new rate, even when resuming
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class CosineAnnealingLR(LRScheduler):
    """Anneal from ``lr_0`` to ``eta_min`` over ``T_max`` epochs along half a cosine.

    ``lr_t = η_min + (lr_0 - η_min)(1 + cos(π t / T_max)) / 2`` for ``0 <= t <= T_max``, computed by
    PyTorch's recurrence (so that other changes to ``lr`` compose as in PyTorch); past ``T_max``
    the rate rises again along the cosine, as PyTorch's does.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        if isinstance(T_max, bool) or not isinstance(T_max, int) or T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive int, got {T_max!r}")
        self.T_max = T_max
        self.eta_min = check_number("CosineAnnealingLR", "eta_min", eta_min, at_least=0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, period, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and t > 0:  # resumed at epoch t: the closed form
            return [
                eta_min + (base - eta_min) * (1 + math.cos(t * math.pi / period)) / 2
                for base in self.base_lrs
            ]
        if (t - 1 - period) % (2 * period) == 0:  # leaving a minimum: the first step back up
            return [
                lr + (base - eta_min) * (1 - math.cos(math.pi / period)) / 2
                for base, lr in zip(self.base_lrs, self._current_lrs(), strict=True)
            ]
        ratio = (1 + math.cos(math.pi * t / period)) / (1 + math.cos(math.pi * (t - 1) / period))
        return [ratio * (lr - eta_min) + eta_min for lr in self._current_lrs()]


class LambdaLR(LRScheduler):
    """``lr_t = lr_0 · λ(t)``, with one function for every group or one per group."""

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        groups = len(optimizer.param_groups) if isinstance(optimizer, Optimizer) else 0
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != groups:
                raise ValueError(
                    f"LambdaLR: expected {groups} lr_lambdas (one per group), got {len(lr_lambda)}"
                )
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * groups
        for k, function in enumerate(self.lr_lambdas):
            if not callable(function):
                raise TypeError(f"LambdaLR: lr_lambda {k} must be callable, got {function!r}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        rates = []
        for k, (function, base) in enumerate(zip(self.lr_lambdas, self.base_lrs, strict=True)):
            factor = function(self.last_epoch)
            check_number("LambdaLR", f"lr_lambda {k}({self.last_epoch})", factor, at_least=0.0)
            rates.append(base * factor)
        return rates

    def state_dict(self) -> dict[str, Any]:
        """As the base class's, with ``lr_lambdas`` holding the ``__dict__`` of callable objects
        and None for plain functions (which cannot be saved)."""
        state = {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [
            None if isinstance(function, types.FunctionType) else dict(function.__dict__)
            for function in self.lr_lambdas
        ]
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        unknown = sorted(set(state) - set(self.__dict__))
        if unknown:
            raise KeyError(f"LambdaLR.load_state_dict: unknown entries {unknown}")
        self.__dict__.update(state)
        for function, attributes in zip(self.lr_lambdas, saved, strict=True):
            if attributes is not None:
                function.__dict__.update(attributes)
