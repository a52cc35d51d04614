"""The words in the pictures: array summaries, Jacobian badges, VJP formulas, sizes.

Everything here returns plain text; the graph module escapes it for Graphviz. The symbols used
(``Σ · ᵀ ‖ ²``) are in the fonts that every Graphviz renderer ships, so SVG and PNG agree.
Elementwise products are written ``*`` as in NumPy (docs/maths.md's ``⊙``).
"""

from __future__ import annotations

import numpy as np

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


def _axes_text(axes: tuple[int, ...]) -> str:
    if len(axes) == 1:
        return f"axis {axes[0]}"
    return "axes " + ", ".join(str(a) for a in axes)


def broadcast_axes(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The axes of ``out_shape`` that broadcasting ``in_shape`` replicated (what the VJP sums)."""
    lead = len(out_shape) - len(in_shape)
    return tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(in_shape) if n == 1 and out_shape[lead + i] != 1
    )


def _sum_axes(t: Tensor) -> tuple[int, ...] | None:
    axes = t.static[0] if t.static else None
    return None if axes is None else tuple(axes)


def badge(t: Tensor) -> str:
    """The Jacobian shortcut of ``t``'s op: the primitive's pattern, with its axes where useful.

    ``broadcast_to`` replicates along some axes, so its VJP is a sum over them (``Σ axis 1``);
    ``sum`` is the reverse, a row of ones over the summed axes.
    """
    prim = t.op
    name = prim.name
    if name == "broadcast_to" and t.parents:
        axes = broadcast_axes(tuple(t.parents[0].shape), tuple(t.shape))
        return f"Σ {_axes_text(axes)}" if axes else "identity"
    if name == "sum":
        axes = _sum_axes(t)
        return "row of ones, all axes" if axes is None else f"row of ones, {_axes_text(axes)}"
    if name == "transpose" and t.static:
        return f"permutation {tuple(t.static[0])}"
    return prim.jacobian


def _input_names(t: Tensor) -> tuple[str, ...]:
    n = len(t.parents)
    if t.op.name == "matmul":
        return ("W", "X")  # docs/maths.md's Z = W X
    if t.op.name == "linear (matmul+add)":
        return ("W", "X", "b")  # Z = W X + b, fused
    if t.op.name == "softmax_cross_entropy (log_softmax+mul+sum)":
        return ("Z", "Y")
    if n == 1:
        return ("x",)
    if n == 2:
        return ("x", "y")
    return tuple(f"x{i}" for i in range(n))


def _vjp_right_side(t: Tensor, i: int) -> str:
    name = t.op.name
    if name == "exp":
        return "g * ans"
    if name == "log":
        return "g / x"
    if name == "reciprocal":
        return "-g * ans²"
    if name == "relu":
        return "g * (x > 0)"
    if name == "neg":
        return "-g"
    if name == "add":
        return "g"
    if name == "mul":
        return "g * y" if i == 0 else "g * x"
    if name == "matmul":
        return "G·Xᵀ" if i == 0 else "Wᵀ·G"
    if name == "linear (matmul+add)":
        if i < 2:
            return "G·Xᵀ" if i == 0 else "Wᵀ·G"
        axes = broadcast_axes(tuple(t.parents[2].shape), tuple(t.shape))
        return f"Σ G over {_axes_text(axes)}" if axes else "G"
    if name == "softmax_cross_entropy (log_softmax+mul+sum)":
        return "g (A ⊙ Σ₀Y - Y)/m" if i == 0 else "-g log A / m"
    if name == "broadcast_to":
        axes = broadcast_axes(tuple(t.parents[0].shape), tuple(t.shape))
        return f"Σ g over {_axes_text(axes)}" if axes else "g"
    if name == "sum":
        axes = _sum_axes(t)
        return "g broadcast over all axes" if axes is None else f"g broadcast over {_axes_text(axes)}"
    if name == "transpose":
        axes = tuple(t.static[0]) if t.static else ()
        if axes == (1, 0):
            return "gᵀ"
        return f"g permuted by {tuple(int(a) for a in np.argsort(axes))}"
    if name == "reshape":
        return f"g reshaped to {tuple(t.parents[i].shape)}"
    return f"vjp[{i}](g)"


def vjp_formula(t: Tensor, i: int) -> str:
    """The closed form that pulls ``g`` back to input ``i`` of ``t``'s op (docs/maths.md's table)."""
    name = _input_names(t)[i]
    gradient = f"d{name}"
    return f"{gradient} = {_vjp_right_side(t, i)}"
