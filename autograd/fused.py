"""Fused primitives: one node where the composed graph would record several.

A network layer ``Z = W A + b`` recorded op by op is three nodes (``matmul``, ``broadcast_to``,
``add``) and softmax cross-entropy from the logits about a dozen. Each node costs a few
microseconds of bookkeeping and each intermediate a full array, which on small layers costs more
than the arithmetic. A fused primitive computes the same function in one node, with VJP and JVP
rules that are the closed forms of the composed graph's (docs/maths.md), and is tested equal to it,
gradients and tangents, in float64 (``tests/test_fused.py``).

Its label says what it fuses, so a picture of the graph shows it, and ``Primitive.fuses`` lists
the primitives it stands for:

* ``linear (matmul+add)``: ``Z = W X + b``, ``b`` broadcast over the columns.
  ``dW = G Xᵀ``, ``dX = Wᵀ G``, ``db = Σ_axis1 G`` (``sum_to``); ``Ż = Ẇ X + W Ẋ + ḃ``.
* ``softmax_cross_entropy (log_softmax+mul+sum)``: ``J = -(1/m) Σ Y ⊙ log softmax(Z)``, the
  softmax over axis 0 (classes are rows) and max-shifted, so logits of ±1000 stay finite.
  With ``A = softmax(Z)`` and ``s = Σ_axis0 Y`` (1 for one-hot columns):
  ``dZ = g (A ⊙ s - Y)/m``, ``dY = -g log A / m``, ``J̇ = -(1/m) Σ (Ẏ ⊙ log A + Ż ⊙ (Y - A ⊙ s))``.
  The node keeps ``A`` (a residual of its forward) for the VJP that normally follows it.

Both are differentiable again: their rules use only operations arrays and tensors share, and
on tensors the softmax is recorded from core primitives, so second derivatives (Hessians of a
network's cost) come from the same rules.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .primitives import (
    BROADCAST_TO,
    MATMUL,
    PRIMITIVES,
    Primitive,
    broadcast,
    broadcast_axes,
    product,
    register,
    sum_keepdims,
    sum_to,
)
from .tensor import Tensor, _constant, _fmt, apply

_dot = np.dot


def _operands(*values: Any) -> list[Tensor]:
    """Tensors for ``values``: non-tensors become constants of the first tensor's float dtype."""
    like = None
    for v in values:
        if isinstance(v, Tensor):
            like = v
            break
    else:
        like = Tensor(values[0])
    return [v if isinstance(v, Tensor) else _constant(v, like) for v in values]


def _fits(b_shape: tuple, z_shape: tuple) -> bool:
    """Whether broadcasting ``b_shape`` to ``z_shape`` leaves ``z_shape`` as it is.

    Written out: ``np.broadcast_shapes`` costs more than a small layer's whole forward.
    """
    if len(b_shape) > len(z_shape):
        return False
    for n_b, n_z in zip(reversed(b_shape), reversed(z_shape)):
        if n_b != 1 and n_b != n_z:
            return False
    return True


# ---------------------------------------------------------------------------------------------
# Dense Jacobians and dependency patterns, from the composed graphs
# ---------------------------------------------------------------------------------------------


def _linear_dense(w, x, b):
    """``[I ⊗ Xᵀ, W ⊗ I, selection of b's broadcast]``: matmul's and broadcast_to's Jacobians."""
    z_shape = (w.shape[0], x.shape[1])
    dense_w, dense_x = MATMUL.dense(w, x)
    (dense_b,) = BROADCAST_TO.dense(b, z_shape)
    return [dense_w, dense_x, dense_b]


def _ce_dense(z, y):
    """Per column, ``d log softmax(z)/dz = I - 1 aᵀ`` chained with ``J = -(1/m) Σ y ⊙ log a``."""
    n, m = z.shape
    logp = _softmax_parts(z)[0]
    a = np.exp(logp)
    dz = np.zeros((n, m))
    for j in range(m):
        log_softmax_jacobian = np.eye(n) - np.outer(np.ones(n), a[:, j])
        dz[:, j] = log_softmax_jacobian.T @ (-y[:, j] / m)
    return [dz.reshape(1, -1), (-logp / m).reshape(1, -1)]


def _bias_formula(in_shapes, out_shape, static):
    axes = broadcast_axes(tuple(in_shapes[2]), tuple(out_shape))
    return f"Σ G over axis {axes[0]}" if len(axes) == 1 else (
        "Σ G over axes " + ", ".join(map(str, axes)) if axes else "G"
    )


def _linear_pattern(deps, xs, ans):
    """The matmul's pattern or'ed with the bias's broadcast."""
    w, x, b = xs
    dw, dx, db = deps
    product = w @ x
    parts = []
    if dw is not None or dx is not None:
        parts.append(MATMUL.pattern([dw, dx], [w, x], product))
    if db is not None:
        parts.append(BROADCAST_TO.pattern([db], [b], ans, ans.shape))
    return parts[0] if len(parts) == 1 else parts[0] | parts[1]


def _ce_pattern(deps, xs, ans, residual=None):
    """J depends on every tracked ``Y``, and on column j of ``Z`` where that column of ``Y`` can
    be nonzero (``dZ[:, j] = (A s - Y)[:, j]/m`` vanishes with ``Y[:, j]``); with a single class
    it is constant."""
    z, y = xs
    dz, dy = deps
    n = (dz if dz is not None else dy).shape[-1]
    out = np.zeros((n,), dtype=bool)
    if z.shape[0] == 1:
        return out  # one class: log softmax is identically 0, and so is J
    if dy is not None:
        out |= dy.reshape(-1, n).any(axis=0)
    if dz is not None:
        live = np.ones(z.shape[1], dtype=bool) if dy is not None else (y != 0).any(axis=0)
        out |= dz[:, live].reshape(-1, n).any(axis=0)
    return out


# ---------------------------------------------------------------------------------------------
# linear: Z = W X + b
# ---------------------------------------------------------------------------------------------


def _linear_forward(w, x, b):
    z = _dot(w, x)  # 2-D arrays (linear checks): np.dot is matmul's BLAS call, cheaper to reach
    if z.dtype == b.dtype:
        z += b  # the product is a new array: add the bias in place, no second (n, m) buffer
        return z
    return z + b  # mixed dtypes promote as NumPy does


def _linear_vjp_w(g, ans, w, x, b):
    return product(g, x.T)


def _linear_vjp_x(g, ans, w, x, b):
    return product(w.T, g)


def _linear_vjp_b(g, ans, w, x, b):
    return sum_to(g, b.shape)


def _linear_jvp(x_dots, ans, w, x, b):
    w_dot, x_dot, b_dot = x_dots
    out = None
    if w_dot is not None:
        out = w_dot @ x
    if x_dot is not None:
        term = w @ x_dot
        out = term if out is None else out + term
    if b_dot is not None:
        out = broadcast(b_dot, tuple(ans.shape)) if out is None else out + b_dot
    return out


LINEAR = register(
    Primitive(
        "linear",
        "fused",
        3,
        _linear_forward,
        (_linear_vjp_w, _linear_vjp_x, _linear_vjp_b),
        _linear_jvp,
        "G·Xᵀ / Wᵀ·G / Σ₁G",
        fuses=("matmul", "broadcast_to", "add"),
        label="linear (matmul+add)",
        pattern=_linear_pattern,
        dense=_linear_dense,
        flops=lambda xs, ans: MATMUL.flops(xs[:2], ans) + ans.size,  # the product, then + b
        # dW and dX are products of G; db a sum of G (told apart by the result's shape)
        vjp_flops=lambda xs, ans, g_in: ans.size if g_in.shape == xs[2].shape else MATMUL.flops(xs[:2], ans),
        formulas=("G·Xᵀ", "Wᵀ·G", _bias_formula),
        inputs=("W", "X", "b"),  # Z = W X + b
    )
)


def linear(w: Any, x: Any, b: Any) -> Tensor:
    """``Z = W @ X + b`` as one node: ``W`` ``(n_out, n_in)``, ``X`` ``(n_in, m)``, ``b`` ``(n_out, 1)``.

    ``b`` may have any 2-D shape that broadcasts to ``(n_out, m)`` without growing it, or be a
    scalar; a 1-D bias is refused (it would broadcast along the examples). Same values,
    gradients and tangents as ``W @ X + b``, with one node instead of three.
    """
    if not (isinstance(w, Tensor) and isinstance(x, Tensor) and isinstance(b, Tensor)):
        w, x, b = _operands(w, x, b)
    w_shape, x_shape, b_shape = w._data.shape, x._data.shape, b._data.shape
    if len(w_shape) != 2 or len(x_shape) != 2 or w_shape[1] != x_shape[0]:
        raise ValueError(
            f"linear: W of shape {_fmt(w_shape)} and X of shape {_fmt(x_shape)} are not aligned for "
            "W @ X: both must be 2-D with W's columns equal to X's rows"
        )
    z_shape = (w_shape[0], x_shape[1])
    if len(b_shape) == 1:
        # A bias of shape (n_out,) would broadcast as a row, along the examples: wrong, and
        # silently so when m == n_out.
        raise ValueError(
            f"linear: the bias has shape {_fmt(b_shape)}; a layer's bias is a column of shape "
            f"{_fmt((w_shape[0], 1))} (examples are columns), e.g. b.reshape(-1, 1)"
        )
    if b_shape != (z_shape[0], 1) and not _fits(b_shape, z_shape):  # (a layer's column first)
        raise ValueError(
            f"linear: the bias of shape {_fmt(b_shape)} does not broadcast to W @ X's shape {_fmt(z_shape)}"
        )
    return apply(LINEAR, (w, x, b))


# ---------------------------------------------------------------------------------------------
# softmax cross-entropy from the logits
# ---------------------------------------------------------------------------------------------


def _softmax_parts(z):
    """``(log softmax(Z), softmax(Z))`` over axis 0, shifted by each column's maximum, so no
    exp overflows and no log sees less than 1. On a tensor ``Z`` both are recorded graphs of
    core primitives (the shift is a constant: the result does not depend on it)."""
    if isinstance(z, Tensor):
        shifted = z - z.data.max(axis=0, keepdims=True)
        e = shifted.exp()
        total = e.sum(axis=0, keepdims=True)
        return shifted - total.log(), e * total.reciprocal()
    # NumPy's reductions called directly: the array methods' Python layer costs more than these
    # small reductions (the same kernels).
    s = z - np.maximum.reduce(z, 0, None, None, True)
    e = np.exp(s)
    total = sum_keepdims(e, 0)
    s -= np.log(total)
    e /= total
    return s, e


def _ce_forward(z, y):
    # The softmax is returned with the value: apply keeps it with the node (a residual, the
    # last static argument of the rules), so the VJP that normally follows reuses it.
    logp, a = _softmax_parts(z)
    # Σ/(-m) is bitwise -(Σ/m) (IEEE division rounds symmetrically), one scalar operation
    # fewer; apply makes the NumPy scalar a 0-d array.
    return cost_sum(y, logp) / -z.shape[1], a


def cost_sum(y, logp):
    """``Σ Y ⊙ log A`` (a NumPy scalar), with a masked class's terms left out.

    One dot product: BLAS raises none of NumPy's floating-point warnings, so a masked class
    (0 · -inf) shows in the result, NaN, instead of being looked for in ``log A`` first. A logit
    of -inf has ``log A = -inf``, and a class with no target weight then contributes nothing,
    as in the limit: the sum is taken again where ``Y ≠ 0``. NaN inputs stay NaN.
    """
    total = np.vdot(y, logp)
    if total != total:
        terms = np.zeros_like(logp, dtype=np.result_type(y, logp))
        np.multiply(y, logp, out=terms, where=y != 0)
        total = terms.sum()
    return total


def _softmax_of(z, a):
    """``softmax(Z)``: the node's residual on arrays; on a tensor ``Z``, recorded anew, so the
    rule stays differentiable."""
    return _softmax_parts(z)[1] if isinstance(z, Tensor) else a


def _ce_vjp_z(g, ans, z, y, a):
    # dZ = g (A ⊙ s - Y)/m
    # In place on arrays (dz is this rule's own); on tensors ``-=`` and ``*=`` make new nodes.
    dz = _softmax_of(z, a) * sum_keepdims(y, 0)
    dz -= y
    scale = 1.0 / z.shape[1]
    # The seed of backward() is 1: g · (1/m) is then 1/m itself (the same number NumPy makes of
    # the Python float), without an operation on a 0-d array.
    dz *= scale if g.__class__ is np.ndarray and g.ndim == 0 and g.item() == 1.0 else g * scale
    return dz


def _ce_vjp_y(g, ans, z, y, a):
    # dY = -g log A / m
    logp = _softmax_parts(z)[0]
    return logp * (g * (-1.0 / z.shape[1]))


def _ce_jvp(x_dots, ans, z, y, a):
    z_dot, y_dot = x_dots
    total = None
    if y_dot is not None:
        total = (y_dot * _softmax_parts(z)[0]).sum()
    if z_dot is not None:
        term = (z_dot * (y - _softmax_of(z, a) * y.sum(axis=0, keepdims=True))).sum()
        total = term if total is None else total + term
    return total * (-1.0 / z.shape[1])


SOFTMAX_CROSS_ENTROPY = register(
    Primitive(
        "softmax_cross_entropy",
        "fused",
        2,
        _ce_forward,
        (_ce_vjp_z, _ce_vjp_y),
        _ce_jvp,
        "(A ⊙ Σ₀Y - Y)/m / -log A/m",
        fuses=("exp", "sum", "log", "neg", "broadcast_to", "add", "mul", "sum"),
        label="softmax_cross_entropy (log_softmax+mul+sum)",
        pattern=_ce_pattern,
        dense=_ce_dense,
        flops=lambda xs, ans, *residual: 6 * xs[0].size,  # shift, exp, sums, log, product
        vjp_flops=lambda xs, ans, g_in: 3 * xs[0].size,
        formulas=("g (A ⊙ Σ₀Y - Y)/m", "-g log A / m"),
        inputs=("Z", "Y"),
    )
)


def softmax_cross_entropy(z: Any, y: Any) -> Tensor:
    """``J = -(1/m) Σ Y ⊙ log softmax(Z)`` from logits ``Z`` of shape ``(n, m)`` as one node.

    ``Y`` has ``Z``'s shape (one-hot columns, or any weights: the rules hold for every ``Y``).
    The softmax is over axis 0, max-shifted, so logits of ±1000 give finite values and gradients.
    """
    if not (isinstance(z, Tensor) and isinstance(y, Tensor)):
        z, y = _operands(z, y)
    if z._data.ndim != 2 or y._data.shape != z._data.shape or 0 in z._data.shape:
        raise ValueError(
            f"softmax_cross_entropy: logits Z of shape {_fmt(z._data.shape)} and targets Y of shape "
            f"{_fmt(y._data.shape)} must be the same non-empty 2-D shape (classes, m)"
        )
    return apply(SOFTMAX_CROSS_ENTROPY, (z, y))


__all__ = ["LINEAR", "PRIMITIVES", "SOFTMAX_CROSS_ENTROPY", "linear", "softmax_cross_entropy"]
