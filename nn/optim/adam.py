"""``Adam`` (L2 weight decay added to the gradient) and ``AdamW`` (decoupled weight decay)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from autograd import Tensor

from .optimizer import Optimizer, ParamGroup, check_flag, check_number


def lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """``start + weight (end - start)``, evaluated as ``torch.lerp`` does (the same roundings)."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), with PyTorch's update (``torch.optim.Adam``).

    With ``t`` the number of steps the parameter has taken (this one included) and ``λ`` the
    weight decay::

        g = dW + λ W                        (L2 weight decay, if λ ≠ 0 and not decoupled)
        W = W (1 - lr λ)                    (decoupled weight decay: AdamW)
        m = β1 m + (1 - β1) g               (exp_avg)
        v = β2 v + (1 - β2) g ⊙ g           (exp_avg_sq)
        v̂ = max(v̂, v) if amsgrad else v     (max_exp_avg_sq)
        W = W - (lr / (1 - β1^t)) m / (sqrt(v̂) / sqrt(1 - β2^t) + ε)

    The state of each parameter is ``step`` (``t``, an int; PyTorch keeps it as a 0-d tensor),
    ``exp_avg``, ``exp_avg_sq`` and, with ``amsgrad``, ``max_exp_avg_sq``.
    """

    state_keys = frozenset({"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"})

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[ParamGroup],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _check_group(self, where: str, group: ParamGroup) -> None:
        super()._check_group(where, group)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"{where}: betas must be a pair (β1, β2), got {betas!r}")
        group["betas"] = tuple(
            check_number(where, f"betas[{i}]", beta, at_least=0.0, below=1.0) for i, beta in enumerate(betas)
        )
        group["eps"] = check_number(where, "eps", group["eps"], above=0.0)
        group["amsgrad"] = check_flag(where, "amsgrad", group["amsgrad"])
        group["decoupled_weight_decay"] = check_flag(
            where, "decoupled_weight_decay", group["decoupled_weight_decay"]
        )

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, Any], group: ParamGroup) -> np.ndarray:
        lr, weight_decay, eps = float(group["lr"]), float(group["weight_decay"]), float(group["eps"])
        beta1, beta2 = (float(beta) for beta in group["betas"])
        step = state.get("step", 0) + 1
        if weight_decay:
            if group["decoupled_weight_decay"]:
                w = w * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * w
        m, v = state.get("exp_avg"), state.get("exp_avg_sq")
        if m is None:
            m, v = np.zeros_like(w), np.zeros_like(w)
        m = lerp(m, g, 1 - beta1)
        v = beta2 * v + ((1 - beta2) * g) * g
        state.update(step=step, exp_avg=m, exp_avg_sq=v)
        if group["amsgrad"]:
            v_max = state.get("max_exp_avg_sq")
            v = v if v_max is None else np.maximum(v_max, v)
            state["max_exp_avg_sq"] = v
        # Bias corrections are Python floats, so they never upcast float32 state.
        step_size = lr / (1 - beta1**step)
        denominator = np.sqrt(v) / (1 - beta2**step) ** 0.5 + eps
        return w - (step_size * m) / denominator


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``.

    The weights shrink by ``W = W (1 - lr λ)`` before the Adam step, instead of ``λ W`` joining
    the gradient (and its moments); the default ``λ`` is ``1e-2``, as in PyTorch.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[ParamGroup],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay=True)

    def _check_group(self, where: str, group: ParamGroup) -> None:
        group["decoupled_weight_decay"] = True  # what makes it AdamW, whatever a loaded state says
        super()._check_group(where, group)
