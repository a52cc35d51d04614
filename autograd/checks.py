"""Outside referees for gradients: central finite differences and dense Jacobians.

The engine never builds a Jacobian. These tools do, on tiny shapes, to show that the sparse
shortcuts of the primitive table are right:

* :func:`numerical_jacobian`: ``J[:, j] = (f(x + ε e_j) - f(x - ε e_j)) / 2ε`` in float64.
* :func:`gradcheck`: reverse mode's and forward mode's Jacobians against it, and with
  ``order=2`` the derivatives of the derivatives in both modes.
* :func:`dense_jacobian`: a primitive's full Jacobian, a fact its table entry states from the
  maths (diagonals of ``f'(x)``, identity blocks, selections), independently of its VJP and JVP
  rules, so a test can check ``vjp(g) == Jᵀ g`` and ``jvp(ẋ) == J ẋ``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from . import state
from .primitives import PRIMITIVES
from .state import no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Reverse mode and finite differences disagree."""


# ---------------------------------------------------------------------------------------------
# Finite differences and gradcheck
# ---------------------------------------------------------------------------------------------


def _is_checked(value: Any) -> bool:
    """Inputs that are differentiated: arrays and numbers, and tensors that require grad."""
    if isinstance(value, Tensor):
        return value.requires_grad
    return np.asarray(value).dtype.kind in "biuf"


def _as_float64(value: Any) -> np.ndarray:
    return np.array(value._data if isinstance(value, Tensor) else value, dtype=np.float64)


def _call(f: Callable, arrays: list, checked: list[bool], inputs: tuple, requires_grad: bool) -> Tensor:
    args = [
        Tensor(a, requires_grad=requires_grad) if c else inp
        for a, c, inp in zip(arrays, checked, inputs)
    ]
    out = f(*args)
    return out if isinstance(out, Tensor) else Tensor(out)


def numerical_jacobian(f: Callable, *inputs: Any, eps: float = 1e-6) -> list[np.ndarray]:
    """Central-difference Jacobians of ``f`` in float64, one ``(out.size, x.size)`` per input.

    ``J[:, j] = (f(x + ε e_j) - f(x - ε e_j)) / 2ε``, evaluated without recording a graph.
    Tensors that do not require grad are held constant (and get no Jacobian: ``None``).
    """
    checked = [_is_checked(x) for x in inputs]
    arrays = [_as_float64(x) if c else None for x, c in zip(inputs, checked)]
    with no_grad():
        out_size = _call(f, arrays, checked, inputs, False)._data.size
        jacobians: list = []
        for array in arrays:
            if array is None:
                jacobians.append(None)
                continue
            jacobian = np.zeros((out_size, array.size))
            flat = array.reshape(-1)
            for j in range(array.size):
                original = flat[j]
                flat[j] = original + eps
                plus = _call(f, arrays, checked, inputs, False)._data.astype(np.float64)
                flat[j] = original - eps
                minus = _call(f, arrays, checked, inputs, False)._data.astype(np.float64)
                flat[j] = original
                jacobian[:, j] = (plus - minus).reshape(-1) / (2 * eps)
            jacobians.append(jacobian)
    return jacobians


def reverse_jacobian(f: Callable, *inputs: Any) -> list[np.ndarray]:
    """Jacobians of ``f`` from reverse mode: one backward per output element (row by row)."""
    checked = [_is_checked(x) for x in inputs]
    arrays = [_as_float64(x) if c else None for x, c in zip(inputs, checked)]
    leaves = [Tensor(a, requires_grad=True) if c else inp for a, c, inp in zip(arrays, checked, inputs)]
    # Inside a transform's scope, so that transforms f calls return tensors recorded for this one.
    with state.transforming(), state.reversing():
        out = f(*leaves)
    if not isinstance(out, Tensor):
        out = Tensor(out)
    jacobians = [np.zeros((out.size, a.size)) if a is not None else None for a in arrays]
    for row in range(out.size if out.requires_grad else 0):
        seed = np.zeros(out.size, dtype=out.dtype)
        seed[row] = 1
        for leaf, c in zip(leaves, checked):
            if c:
                leaf.grad = None
        out.backward(seed.reshape(out.shape), retain_graph=True)
        for k, (leaf, c) in enumerate(zip(leaves, checked)):
            if c and leaf.grad is not None:
                jacobians[k][row] = leaf.grad.reshape(-1)
    return jacobians


MODES = ("fwd", "rev")


def gradcheck(
    f: Callable,
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    order: int = 1,
    modes: tuple[str, ...] = MODES,
) -> bool:
    """Check the derivatives of ``f`` against float64 central differences, in both modes.

    ``f`` takes tensors and returns a tensor. Arrays, numbers and tensors that require grad are
    differentiated; tensors that do not are held constant. Every Jacobian is computed in
    float64 (float32 inputs are promoted, with a warning: finite differences in float32 carry
    errors near 1e-3). An entry passes when ``|analytic - numeric| <= atol + rtol |numeric|``.

    * ``order=1``: reverse mode's Jacobian (``"rev"``, one backward per output element) and
      forward mode's (``"fwd"``, one sweep per input element) against central differences.
    * ``order=2`` also checks the derivatives of the derivatives, as PyTorch's gradgradcheck
      and HIPS autograd's ``check_grads(order=2)`` do: for a fixed random cotangent ``u`` the
      gradient ``x ↦ uᵀ J(x)`` differentiated by reverse mode (reverse over reverse), and for
      a fixed random tangent ``v`` the directional derivative ``x ↦ J(x) v`` differentiated by
      forward mode (forward over forward), each against central differences of the
      first-order values.

    Returns True, or raises :class:`GradcheckError` with the worst entry of each failing check.
    """
    if order not in (1, 2):
        raise ValueError(f"gradcheck: order must be 1 or 2, got {order!r}")
    unknown = set(modes) - set(MODES)
    if not modes or unknown:
        raise ValueError(f"gradcheck: modes must be a non-empty subset of {MODES}, got {modes!r}")
    for k, x in enumerate(inputs):
        dtype = np.asarray(x._data if isinstance(x, Tensor) else x).dtype
        if _is_checked(x) and dtype.kind == "f" and dtype.itemsize < 8:
            warnings.warn(
                f"gradcheck: input {k} is {dtype}; the check runs in float64, since finite "
                "differences in single precision are too inaccurate to judge a gradient",
                stacklevel=2,
            )
    failures: list[str] = []
    numeric = numerical_jacobian(f, *inputs, eps=eps)
    if "rev" in modes:
        failures += _compare("reverse mode", reverse_jacobian(f, *inputs), numeric, inputs, atol, rtol)
    if "fwd" in modes:
        failures += _compare("forward mode", forward_jacobian(f, *inputs), numeric, inputs, atol, rtol)
    if order == 2:
        failures += _second_order(f, inputs, modes, eps, atol, rtol)
    if failures:
        raise GradcheckError("gradcheck failed:\n  " + "\n  ".join(failures))
    return True


def _compare(what: str, analytic: list, numeric: list, inputs: tuple, atol: float, rtol: float) -> list[str]:
    failures = []
    for k, (a, n) in enumerate(zip(analytic, numeric)):
        if n is None:
            continue
        error = np.abs(a - n)
        bad = error > atol + rtol * np.abs(n)
        if bad.any():
            row, col = np.unravel_index(np.argmax(np.where(bad, error, -1)), error.shape)
            failures.append(
                f"{what}, input {k} (shape {np.shape(inputs[k])}): {int(bad.sum())} of {bad.size} "
                f"Jacobian entries differ; worst at output {row}, input element {col}: "
                f"{what} {a[row, col]:.6g} vs finite differences {n[row, col]:.6g} "
                f"(|diff| {error[row, col]:.3g})"
            )
    return failures


def forward_jacobian(f: Callable, *inputs: Any) -> list[np.ndarray]:
    """Jacobians of ``f`` from forward mode: one sweep per input element (column by column)."""
    from .functional import jacfwd

    checked = [_is_checked(x) for x in inputs]
    arrays = [_as_float64(x) if c else None for x, c in zip(inputs, checked)]
    positions = [k for k, c in enumerate(checked) if c]
    if not positions:
        return [None] * len(inputs)

    def of_checked(*xs):
        args = list(inputs)
        for k, x in zip(positions, xs):
            args[k] = x
        return f(*args)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # an input f ignores has a zero column
        blocks = jacfwd(of_checked, argnums=tuple(range(len(positions))))(*[arrays[k] for k in positions])
    jacobians: list = [None] * len(inputs)
    for k, block in zip(positions, blocks):
        block = np.asarray(block, dtype=np.float64)
        out_size = int(np.prod(block.shape[: block.ndim - arrays[k].ndim]))
        jacobians[k] = block.reshape(out_size, arrays[k].size)
    return jacobians


def _second_order(f: Callable, inputs: tuple, modes: tuple, eps: float, atol: float, rtol: float) -> list:
    """The derivatives of ``x ↦ uᵀ J(x)`` (reverse) and ``x ↦ J(x) v`` (forward) against
    central differences of those first-order maps."""
    from .functional import jvp, vjp

    checked = [_is_checked(x) for x in inputs]
    positions = [k for k, c in enumerate(checked) if c]
    if not positions:
        return []
    arrays = [_as_float64(inputs[k]) for k in positions]
    rng = np.random.default_rng(0)
    with no_grad():
        first = [_as_float64(x) if c else None for x, c in zip(inputs, checked)]
        out_shape = _call(f, first, checked, inputs, False)._data.shape
    u = rng.standard_normal(out_shape)
    vs = [rng.standard_normal(a.shape) for a in arrays]

    def call(xs):
        args = list(inputs)
        for k, x in zip(positions, xs):
            args[k] = x
        return f(*args)

    def flat(parts) -> Any:
        """One vector of the parts (tensors when nested, arrays at top level)."""
        from .primitives import CONCATENATE
        from .tensor import apply

        if all(isinstance(p, Tensor) for p in parts):
            pieces = tuple(p.reshape(-1) for p in parts)
            return pieces[0] if len(pieces) == 1 else apply(CONCATENATE, pieces, (0,))
        return np.concatenate([np.asarray(getattr(p, "_data", p)).reshape(-1) for p in parts])

    def pulled(*xs):  # x ↦ uᵀ J(x), all inputs' parts in one vector
        return flat(vjp(lambda *ys: call(ys), *xs)[1](u))

    def pushed(*xs):  # x ↦ J(x) v
        return jvp(lambda *ys: call(ys), tuple(xs), tuple(vs))[1]

    failures = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # second derivatives that vanish are fine
        if "rev" in modes:
            numeric = numerical_jacobian(pulled, *arrays, eps=eps)
            analytic = reverse_jacobian(pulled, *arrays)
            failures += _compare("reverse over reverse", analytic, numeric, tuple(arrays), atol, rtol)
        if "fwd" in modes:
            numeric = numerical_jacobian(pushed, *arrays, eps=eps)
            analytic = forward_jacobian(pushed, *arrays)
            failures += _compare("forward over forward", analytic, numeric, tuple(arrays), atol, rtol)
    return failures


# ---------------------------------------------------------------------------------------------
# Dense Jacobians of the primitives, as their entries state them
# ---------------------------------------------------------------------------------------------


def dense_jacobian(name: str, *args: Any) -> list[np.ndarray]:
    """The full Jacobian of primitive ``name`` at ``args`` (inputs, then static arguments).

    One float64 matrix of shape ``(ans.size, x.size)`` per input, as the primitive's entry
    states it (``Primitive.dense``: from the Jacobian's closed form, docs/maths.md, not from
    its rules). For tiny shapes only: a matmul of
    (2048, 2048) @ (2048, 128) would need 4.4 TB.
    """
    prim = PRIMITIVES.get(name)
    if prim is None or prim.dense is None:
        raise KeyError(f"dense_jacobian: no dense Jacobian is written for primitive {name!r}")
    n_inputs = prim.n_inputs
    if n_inputs < 0:  # any number of inputs, then one static argument (concatenate's axis)
        n_inputs = len(args) - 1
    xs = [np.asarray(a, dtype=np.float64) for a in args[:n_inputs]]
    return prim.dense(*xs, *args[n_inputs:])


def dense_jacobian_bytes(out_size: int, in_size: int, itemsize: int = 4) -> int:
    """Bytes a dense Jacobian of an ``out_size``-by-``in_size`` map would take."""
    return int(out_size) * int(in_size) * int(itemsize)
