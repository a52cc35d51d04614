"""Outside referees for one function ``f`` of tensors, in float64, used by the property suite.

* :func:`reverse_vjp` / :func:`forward_jvp`: what the engine says (``uᵀJ`` by one backward,
  ``J v`` by one forward sweep with tangents set on the inputs).
* :func:`numerical_vjp` / :func:`numerical_jvp`: the same products by central differences,
  ``(f(x + ε e) - f(x - ε e)) / 2ε``, with no derivative rule involved.
* :func:`dot_product_gap`: the adjoint test ``<u, J v> = <Jᵀ u, v>``, exact up to rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from autograd import Tensor, no_grad

Function = Callable[..., Tensor]


def evaluate(f: Function, arrays: Sequence[np.ndarray]) -> np.ndarray:
    """``f`` at ``arrays`` as a float64 array, with no graph recorded."""
    with no_grad():
        return np.asarray(f(*[Tensor(a) for a in arrays]).data, dtype=np.float64)


def reverse_vjp(f: Function, arrays: Sequence[np.ndarray], u: np.ndarray) -> list[np.ndarray]:
    """``uᵀ J`` for each input, from one backward pass seeded with ``u``."""
    leaves = [Tensor(a, requires_grad=True) for a in arrays]
    out = f(*leaves)
    out.backward(u)
    return [leaf.grad for leaf in leaves]


def forward_jvp(f: Function, arrays: Sequence[np.ndarray], vs: Sequence[np.ndarray]) -> np.ndarray:
    """``J v`` from one forward sweep: each input carries its tangent ``v``."""
    leaves = []
    for a, v in zip(arrays, vs):
        leaf = Tensor(a)
        leaf._tangents = {0: np.asarray(v, dtype=leaf.dtype)}
        leaves.append(leaf)
    out = f(*leaves)
    return out.tangent if out.tangent is not None else np.zeros_like(out.data)


def numerical_vjp(
    f: Function, arrays: Sequence[np.ndarray], u: np.ndarray, eps: float = 1e-6
) -> list[np.ndarray]:
    """``uᵀ J`` by central differences of the scalar ``<u, f(x)>``, one element at a time."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    grads = []
    for a in arrays:
        grad = np.zeros_like(a)
        flat, gflat = a.reshape(-1), grad.reshape(-1)
        for j in range(a.size):
            original = flat[j]
            flat[j] = original + eps
            plus = np.vdot(u, evaluate(f, arrays))
            flat[j] = original - eps
            minus = np.vdot(u, evaluate(f, arrays))
            flat[j] = original
            gflat[j] = (plus - minus) / (2 * eps)
        grads.append(grad)
    return grads


def numerical_jvp(
    f: Function, arrays: Sequence[np.ndarray], vs: Sequence[np.ndarray], eps: float = 1e-6
) -> np.ndarray:
    """``J v`` by central differences along the direction ``v``."""
    plus = evaluate(f, [np.asarray(a, np.float64) + eps * v for a, v in zip(arrays, vs)])
    minus = evaluate(f, [np.asarray(a, np.float64) - eps * v for a, v in zip(arrays, vs)])
    return (plus - minus) / (2 * eps)


def dot_product_gap(
    f: Function, arrays: Sequence[np.ndarray], u: np.ndarray, vs: Sequence[np.ndarray]
) -> float:
    """``|<u, J v> - Σ <Jᵀ u, v>|``, relative to the size of the problem (0 when exact).

    The size is the larger of the sums of ``|terms|`` on either side and ``‖u‖ ‖v‖``: the second
    covers a product that is zero up to rounding (a cost at its minimum, where ``J`` is the sum
    of terms of size 1 that cancel), whose two sides may round to different tiny numbers.
    """
    jv = forward_jvp(f, arrays, vs)
    jtu = reverse_vjp(f, arrays, u)
    left = np.vdot(u, jv)
    right = sum(np.vdot(g, v) for g, v in zip(jtu, vs))
    terms = np.vdot(np.abs(u), np.abs(jv)) + sum(np.vdot(np.abs(g), np.abs(v)) for g, v in zip(jtu, vs))
    norms = np.linalg.norm(u) * np.sqrt(sum(np.linalg.norm(v) ** 2 for v in vs))
    size = max(terms, norms)
    return float(abs(left - right) / size) if size else float(abs(left - right))
