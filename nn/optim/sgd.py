"""``SGD``: stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from autograd import Tensor

from .optimizer import Optimizer, ParamGroup, StepRecording, check_flag, check_number


class SGD(Optimizer):
    """Stochastic gradient descent, with PyTorch's update (``torch.optim.SGD``).

    With ``λ`` the weight decay, ``μ`` the momentum, ``τ`` the dampening::

        g = dW + λ W                                  (L2 weight decay, if λ ≠ 0)
        b = g on the first step, else μ b + (1 - τ) g  (if μ ≠ 0)
        g = g + μ b if nesterov else b
        W = W - lr g

    With ``μ = λ = 0`` this is plain ``W = W - lr dW``. The state of each parameter is its
    ``momentum_buffer`` ``b`` (kept only when ``μ ≠ 0``).
    """

    state_keys = frozenset({"momentum_buffer"})

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[ParamGroup],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
        }
        super().__init__(params, defaults)

    def _check_group(self, where: str, group: ParamGroup) -> None:
        super()._check_group(where, group)
        group["momentum"] = check_number(where, "momentum", group["momentum"], at_least=0.0)
        group["dampening"] = check_number(where, "dampening", group["dampening"])
        group["nesterov"] = check_flag(where, "nesterov", group["nesterov"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"{where}: Nesterov momentum needs momentum > 0 and dampening = 0, got momentum "
                f"{group['momentum']!r} and dampening {group['dampening']!r}"
            )

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, Any], group: ParamGroup) -> np.ndarray:
        weight_decay, momentum = float(group["weight_decay"]), float(group["momentum"])
        if weight_decay:
            g = g + weight_decay * w
        if momentum:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = np.array(g)  # a copy: the gradient array is not ours to keep
            else:
                buffer = momentum * buffer + (1 - float(group["dampening"])) * g
            state["momentum_buffer"] = buffer
            g = g + momentum * buffer if group["nesterov"] else buffer
        return w - float(group["lr"]) * g

    def _record_update(
        self, step: StepRecording, w: np.ndarray, g: np.ndarray, state: dict[str, Any], group_index: int
    ) -> bool:
        """:meth:`_update` as kernels: each of its operations, in its order, into scratch arrays;
        the momentum buffer is updated in place and the result written into ``w``."""
        group = self.param_groups[group_index]
        weight_decay, momentum = float(group["weight_decay"]), float(group["momentum"])
        dtype = w.dtype
        first, second = step.scratch(w, 0), step.scratch(w, 1)
        if weight_decay:  # g = g + λ w
            step.kernel(np.multiply, w, step.constant(weight_decay, dtype), first)
            step.kernel(np.add, g, first, first)
            g = first
        free = second if g is first else first  # a scratch array that g is not
        if momentum:
            buffer = state.get("momentum_buffer")
            later = buffer is not None
            # Updated in place from now on (an array the state alone holds; one that another
            # recording updates already: both keep updating the same array).
            if buffer is None:
                buffer = np.empty_like(w)
            elif buffer.dtype != dtype or not (buffer.flags.writeable and buffer.flags.c_contiguous):
                buffer = np.array(buffer, dtype=dtype)
            state["momentum_buffer"] = buffer
            if not later:  # the first step copies the gradient, the later ones do what follows
                step.kernel(np.copyto, buffer, g, replay=False)
            # b = μ b + (1 - τ) g; with τ = 0 the product with 1 is skipped (it is exact).
            keep = 1 - float(group["dampening"])
            step.kernel(np.multiply, buffer, step.constant(momentum, dtype), buffer, now=later)
            if keep != 1.0:
                step.kernel(np.multiply, g, step.constant(keep, dtype), free, now=later)
                step.kernel(np.add, buffer, free, buffer, now=later)
            else:
                step.kernel(np.add, buffer, g, buffer, now=later)
            if group["nesterov"]:  # g = g + μ b
                step.kernel(np.multiply, buffer, step.constant(momentum, dtype), free)
                step.kernel(np.add, g, free, free)
                g = free
            else:
                g = buffer
        # w = w - lr g, the product in a scratch array that is not g (unless g is scratch).
        product = g if g is first or g is second else free
        step.kernel(np.multiply, g, step.lr(group_index, dtype), product)
        step.kernel(np.subtract, w, product, w)
        return True
