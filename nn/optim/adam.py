"""``Adam`` (L2 weight decay added to the gradient) and ``AdamW`` (decoupled weight decay)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from autograd import Tensor

from .optimizer import Optimizer, ParamGroup, StepRecording, check_flag, check_number


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

    def _record_update(
        self, step: StepRecording, w: np.ndarray, g: np.ndarray, state: dict[str, Any], group_index: int
    ) -> bool:
        """:meth:`_update` as kernels: each of its operations, in its order, into scratch arrays;
        the moments updated in place and the result written into ``w``. The numbers that change
        from step to step (the step count, the bias corrections, and AdamW's ``1 - lr λ``) are
        computed in Python as :meth:`_update` computes them, by a kernel that runs before the
        others, and written into 0-d arrays of the dtype (the values NumPy converts them to)."""
        group = self.param_groups[group_index]
        weight_decay, eps = float(group["weight_decay"]), float(group["eps"])
        beta1, beta2 = (float(beta) for beta in group["betas"])
        decoupled = bool(weight_decay) and group["decoupled_weight_decay"]
        dtype = w.dtype
        m, v = (_own_buffer(state, key, w) for key in ("exp_avg", "exp_avg_sq"))
        step_size, correction = np.empty((), dtype), np.empty((), dtype)
        decay = np.empty((), dtype) if decoupled else None
        scalars = _StepScalars(step.states, state, group, (beta1, beta2, weight_decay))
        scalars.step_size, scalars.correction, scalars.decay = step_size, correction, decay
        step.recorder.kernel(scalars)  # once per replay, before the elementwise kernels
        first, second = step.scratch(w, 0), step.scratch(w, 1)
        if weight_decay:
            if decoupled:  # w = w (1 - lr λ)
                step.kernel(np.multiply, w, decay, w)
            else:  # g = g + λ w
                third = step.scratch(w, 2)
                step.kernel(np.multiply, w, step.constant(weight_decay, dtype), third)
                step.kernel(np.add, g, third, third)
                g = third
        # m = lerp(m, g, 1 - β1), in lerp's form for that weight
        weight = 1 - beta1
        step.kernel(np.subtract, g, m, first)
        if abs(weight) < 0.5:
            step.kernel(np.multiply, first, step.constant(weight, dtype), first)
            step.kernel(np.add, m, first, m)
        else:
            step.kernel(np.multiply, first, step.constant(1 - weight, dtype), first)
            step.kernel(np.subtract, g, first, m)
        # v = β2 v + ((1 - β2) g) g
        step.kernel(np.multiply, v, step.constant(beta2, dtype), v)
        step.kernel(np.multiply, g, step.constant(1 - beta2, dtype), first)
        step.kernel(np.multiply, first, g, first)
        step.kernel(np.add, v, first, v)
        if group["amsgrad"]:  # v̂ = max(v̂, v), kept in the state (v itself after the first step)
            later = state.get("max_exp_avg_sq") is not None
            if state.get("max_exp_avg_sq") is v:  # eager's first step keeps one array for both
                state["max_exp_avg_sq"] = v.copy()
            v_max = _own_buffer(state, "max_exp_avg_sq", w, zeros=False)
            if not later:
                step.kernel(np.copyto, v_max, v, replay=False)
            step.kernel(_maximum_into, v_max, v, v_max, now=later)
            v = v_max
        # w = w - (step_size m) / (sqrt(v) / correction + ε)
        step.kernel(np.sqrt, v, second)
        step.kernel(np.divide, second, correction, second)
        step.kernel(np.add, second, step.constant(eps, dtype), second)
        step.kernel(np.multiply, m, step_size, first)
        step.kernel(np.divide, first, second, first)
        step.kernel(np.subtract, w, first, w)
        return True


def _maximum_into(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    np.maximum(x, y, out=out)  # (np.maximum's positional out is deprecated in NumPy 2.4)


def _own_buffer(state: dict[str, Any], key: str, like: np.ndarray, zeros: bool = True) -> np.ndarray:
    """``state[key]`` as an array the kernels may update in place (like's dtype, contiguous,
    writeable; a copy otherwise), made (zeros, as eager's first step starts from) if missing."""
    buffer = state.get(key)
    if buffer is None:
        buffer = np.zeros_like(like) if zeros else np.empty_like(like)
    elif buffer.dtype != like.dtype or not (buffer.flags.writeable and buffer.flags.c_contiguous):
        buffer = np.array(buffer, dtype=like.dtype)
    state[key] = buffer
    return buffer


class _StepScalars:
    """A compiled Adam step's numbers of the step: each parameter's step count ``t``, then
    ``lr / (1 - β1^t)``, ``(1 - β2^t)^½`` and, for AdamW, ``1 - lr λ``, with the learning rate
    read from the group (schedules change it), as :meth:`Adam._update` computes them."""

    __slots__ = (
        "states", "state", "group", "beta1", "beta2", "weight_decay", "step_size", "correction", "decay"
    )

    def __init__(self, states: list[dict], state: dict, group: ParamGroup, hyper: tuple) -> None:
        self.states, self.state, self.group = states, state, group
        self.beta1, self.beta2, self.weight_decay = hyper
        self.step_size = self.correction = self.decay = None  # 0-d arrays of the dtype (decay: AdamW's)

    def __call__(self) -> None:
        # Read from the parameters' own states: another recording (another batch size) may have
        # stepped them since.
        t = self.states[0].get("step", 0) + 1
        for state in self.states:
            state["step"] = t
        self.state["step"] = t  # (a group's merged state, split into the parameters' after recording)
        lr = float(self.group["lr"])
        self.step_size[()] = lr / (1 - self.beta1**t)
        self.correction[()] = (1 - self.beta2**t) ** 0.5
        if self.decay is not None:
            self.decay[()] = 1 - lr * self.weight_decay


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
