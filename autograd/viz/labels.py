"""The words in the pictures: array summaries, Jacobian badges, VJP formulas, sizes.

Everything here returns plain text; the graph module escapes it for Graphviz. The symbols used
(``Σ · ᵀ ‖ ²``) are in the fonts that every Graphviz renderer ships, so SVG and PNG agree.
Elementwise products are written ``*`` as in NumPy (docs/maths.md's ``⊙``).
"""

from __future__ import annotations

import numpy as np

from ..primitives import broadcast_axes as _broadcast_axes
from ..tensor import Tensor

#: Arrays with at most this many elements are shown in full rather than summarised.
FULL_VALUES = 4


def _number(x: float) -> str:
    return f"{x + 0.0:.3g}"  # + 0.0 turns -0.0 into 0.0


def _norm(finite: np.ndarray) -> float:
    """The 2-norm of finite float64 values, ‖a‖ = s ‖a / s‖ with s = max |a|, so that the
    squares of large values do not overflow."""
    scale = np.abs(finite).max() if finite.size else 0.0
    if scale == 0:
        return 0.0
    with np.errstate(over="ignore"):  # a norm beyond the float64 range is inf
        return float(scale * np.sqrt(np.sum((finite / scale) ** 2)))


def scalar_text(x: float | int | bool) -> str:
    """A number in at most 4 significant digits, a float always looking like one (``1.0``)."""
    if isinstance(x, (bool, int)):
        return str(x)
    text = f"{x + 0.0:.4g}"
    return text + ".0" if text.lstrip("-").isdigit() else text


def summary(array: np.ndarray) -> str:
    """A one-line description of ``array``: its values when tiny, else min/mean/max and norm.

    Non-finite entries are counted and left out of the statistics, so a single NaN does not
    hide the scale of the rest.
    """
    a = np.asarray(array)
    if a.size == 0:
        return "empty"
    if a.size <= FULL_VALUES:
        if a.ndim == 0:
            return scalar_text(a.item())
        text = np.array2string(
            a, separator=", ", max_line_width=1_000, formatter={"float_kind": scalar_text}
        )
        return text.replace("\n", "")
    # Statistics in float64: float32 squares of large values would overflow in the norm.
    a = a.astype(np.float64, copy=False)
    finite_mask = np.isfinite(a)
    finite = a[finite_mask]
    notes = []
    if finite.size < a.size:
        n_nan = int(np.isnan(a).sum())
        n_inf = a.size - finite.size - n_nan
        if n_nan:
            notes.append(f"{n_nan} NaN")
        if n_inf:
            notes.append(f"{n_inf} Inf")
    if finite.size == 0:
        return ", ".join(notes)
    with np.errstate(over="ignore"):  # the mean of values near the float64 maximum is inf
        mean = finite.mean()
    stats = (
        f"min {_number(finite.min())}  mean {_number(mean)}  "
        f"max {_number(finite.max())}  ‖·‖ {_number(_norm(finite))}"
    )
    return stats + ("  (" + ", ".join(notes) + ")" if notes else "")


def short_summary(array: np.ndarray) -> str:
    """A few characters for an arrow: the values when tiny, else the norm ``‖·‖``."""
    a = np.asarray(array)
    if a.size <= FULL_VALUES or not is_finite(a):
        return summary(a)
    return f"‖·‖ {_number(_norm(a.astype(np.float64, copy=False)))}"


def is_finite(array: np.ndarray) -> bool:
    """Whether every entry of ``array`` is finite (integer arrays always are)."""
    a = np.asarray(array)
    return a.dtype.kind not in "fc" or bool(np.isfinite(a).all())


def shape_text(t: Tensor) -> str:
    return f"{tuple(t.shape)} {t.dtype}"


def format_bytes(n: int) -> str:
    """``n`` bytes in binary units: ``512 B``, ``1.5 KiB``, ``4.0 TiB``."""
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        value /= 1024
        if value < 1024 or unit == "EiB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def dense_jacobian_bytes(t: Tensor) -> int:
    """What the Jacobians of ``t``'s op would take as dense arrays: Σ out.size × in.size × itemsize.

    Only inputs that require grad count: the others never get a Jacobian in reverse mode.
    """
    itemsize = t.dtype.itemsize
    return sum(t.size * p.size * itemsize for p in t.parents if p.requires_grad)


def broadcast_axes(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The axes of ``out_shape`` that broadcasting ``in_shape`` replicated (what the VJP sums)."""
    return _broadcast_axes(tuple(in_shape), tuple(out_shape))


def _node_facts(t: Tensor) -> tuple[tuple, tuple, tuple]:
    return tuple(tuple(p.shape) for p in t.parents), tuple(t.shape), t.static


def op_label(t: Tensor) -> str:
    """What the picture calls ``t``'s op: its primitive's display label."""
    return t.op.label


def badge(t: Tensor) -> str:
    """The Jacobian shortcut of ``t``'s op, as its primitive's entry states it for this node
    (``broadcast_to``'s names the axes its VJP sums over, ``sum``'s the axes it sums)."""
    return t.op.badge(*_node_facts(t))


def vjp_formula(t: Tensor, i: int) -> str:
    """The closed form that pulls ``g`` back to input ``i`` of ``t``'s op, from its entry."""
    prim = t.op
    name = prim.input_name(i, len(t.parents))
    return f"d{name} = {prim.formula(i, *_node_facts(t))}"
