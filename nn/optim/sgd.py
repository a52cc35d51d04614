"""``SGD``: stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from autograd import Tensor

from .optimizer import Optimizer, ParamGroup, check_flag, check_number


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
