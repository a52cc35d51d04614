"""Faults to inject into the primitive table, to show that the tests catch wrong rules.

A test suite that passes proves little until it is seen to fail. Each fault below is a
plausible slip in a derivative rule; :func:`injected` swaps it into the live primitive table
(the :class:`~autograd.primitives.Primitive` objects themselves, so every reference to them,
``PRIMITIVES[name]`` and the ``P.EXP`` constants alike, sees the fault) and puts the rule back
on exit. Every primitive gets four faults:

* ``ignore_g``: the VJP ignores its upstream gradient (``g`` replaced by ones);
* ``vjp_scaled``: the VJP's result is 1% too large;
* ``jvp_scaled``: the JVP's result is 1% too large (forward mode's rule);
* a structural slip of its own kind (:data:`STRUCTURAL`): the unbroadcast dropped, an operand
  not transposed, a permutation not inverted, a sign or a mask forgotten;
* where a rule reads a value that must stay differentiable, a recording slip
  (:data:`RECORDING`): the rule reads the raw array (``values(x)``) where it should use the
  tensor, which is right at first order and cuts the graph of the second derivative.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from autograd.primitives import GETITEM, POWER, PRIMITIVES, SIN, Primitive, _PerInput, _select, lift, values


@dataclass(frozen=True)
class Fault:
    """One injected slip: ``patch(prim)`` returns the replaced fields of the primitive."""

    name: str
    description: str
    patch: Callable[[Primitive], dict]


def _each_vjp(wrap: Callable[[Callable, int], Callable]) -> Callable[[Primitive], dict]:
    def patch(prim: Primitive) -> dict:
        if isinstance(prim.vjps, _PerInput):  # any number of inputs: wrap each as it is made
            make = prim.vjps.make
            return {"vjps": _PerInput(lambda i: wrap(make(i), i))}
        return {"vjps": tuple(wrap(rule, i) for i, rule in enumerate(prim.vjps))}

    return patch


def _ignore_g(rule, i):
    return lambda g, ans, *args: rule(g * 0 + 1, ans, *args)


def _vjp_scaled(rule, i):
    return lambda g, ans, *args: rule(g, ans, *args) * 1.01


def _jvp_scaled(prim):
    rule = prim.jvp
    return {"jvp": lambda x_dots, ans, *args: rule(x_dots, ans, *args) * 1.01}


GENERIC = (
    Fault("ignore_g", "VJP ignores the upstream gradient (g -> ones)", _each_vjp(_ignore_g)),
    Fault("vjp_scaled", "VJP result scaled by 1.01", _each_vjp(_vjp_scaled)),
    Fault("jvp_scaled", "JVP result scaled by 1.01", _jvp_scaled),
)


def _vjps(*rules) -> Callable[[Primitive], dict]:
    """Replace the VJPs of the inputs named by position; ``None`` keeps the original rule."""
    return lambda prim: {"vjps": tuple(new or old for new, old in zip(rules, prim.vjps))}


def _one_replica(g, ans, x, shape):
    # The gradient of the first copy only, where the sum over all copies is due.
    lead = g.ndim - x.ndim
    index = (0,) * lead + tuple(
        slice(0, 1) if n == 1 and m != 1 else slice(None) for n, m in zip(x.shape, g.shape[lead:])
    )
    return g[index]


def _sum_no_expand(g, ans, x, axis, keepdims):
    # Broadcasting g back without restoring the summed axes: lines up with the wrong axes.
    return np.broadcast_to(g, x.shape)


def _matmul_transposed(rule, which):
    def wrong(g, ans, x, y):
        if which == 0:
            return rule(g, ans, x, y.T)
        return rule(g, ans, x.T, y)

    return wrong


STRUCTURAL: dict[str, Fault] = {
    "exp": Fault("wrong_point", "VJP g * x instead of g * ans", _vjps(lambda g, ans, x: g * x)),
    "log": Fault("wrong_point", "VJP g * x instead of g / x", _vjps(lambda g, ans, x: g * x)),
    "reciprocal": Fault(
        "sign_dropped", "VJP g * ans**2 instead of -g * ans**2", _vjps(lambda g, ans, x: g * ans * ans)
    ),
    "relu": Fault("mask_dropped", "VJP g instead of g * (x > 0)", _vjps(lambda g, ans, x: g)),
    "neg": Fault("sign_dropped", "VJP g instead of -g", _vjps(lambda g, ans, x: g)),
    "add": Fault(
        "input_dropped", "VJP of input 1 is zero", _vjps(None, lambda g, ans, x, y: np.zeros_like(g))
    ),
    "mul": Fault(
        "operands_swapped",
        "VJPs g * x and g * y",
        _vjps(lambda g, ans, x, y: g * x, lambda g, ans, x, y: g * y),
    ),
    "matmul": Fault(
        "operand_transposed",
        "VJPs G X and W G instead of G X^T and W^T G",
        lambda prim: {"vjps": tuple(_matmul_transposed(rule, i) for i, rule in enumerate(prim.vjps))},
    ),
    "broadcast_to": Fault(
        "unbroadcast_dropped", "VJP keeps one replica of g instead of summing", _vjps(_one_replica)
    ),
    "sum": Fault("unexpanded", "VJP broadcasts g without restoring the summed axes", _vjps(_sum_no_expand)),
    "transpose": Fault(
        "not_inverted",
        "VJP permutes g by axes instead of their inverse",
        _vjps(lambda g, ans, x, axes: np.transpose(g, axes)),
    ),
    "reshape": Fault(
        "wrong_order",
        "VJP reshapes g in column-major order",
        _vjps(lambda g, ans, x, shape: np.reshape(g, x.shape, order="F")),
    ),
    "identity": Fault("sign_flipped", "VJP -g instead of g", _vjps(lambda g, ans, x: -g)),
    "astype": Fault("zeroed", "VJP 0 instead of g cast back", _vjps(lambda g, ans, x, dtype: g * 0)),
    "getitem": Fault(
        "not_accumulated",
        "VJP writes g at the index instead of adding (repeated indices lose contributions)",
        _vjps(lambda g, ans, x, index: _assigned(g, index, x.shape)),
    ),
    "scatter_add": Fault(
        "sign_flipped", "VJP -g[index] instead of g[index]",
        _vjps(lambda g, ans, x, index, shape: -lift(GETITEM, (g,), (index,))),
    ),
    "concatenate": Fault(
        "offset_dropped",
        "VJP of every input takes the first slice of g",
        lambda prim: (lambda make: {"vjps": _PerInput(lambda i: make(0))})(prim.vjps.make),
    ),
    "abs": Fault("sign_dropped", "VJP g instead of g * sign(x)", _vjps(lambda g, ans, x: g)),
    "sqrt": Fault("half_dropped", "VJP g / ans instead of g / (2 ans)", _vjps(lambda g, ans, x: g / ans)),
    "tanh": Fault(
        "sign_flipped",
        "VJP g * (1 + ans²) instead of g * (1 - ans²)",
        _vjps(lambda g, ans, x: g * (1 + ans * ans)),
    ),
    "sigmoid": Fault(
        "factor_dropped", "VJP g * ans instead of g * ans * (1 - ans)", _vjps(lambda g, ans, x: g * ans)
    ),
    "sin": Fault(
        "wrong_function", "VJP g * sin(x) instead of g * cos(x)", _vjps(lambda g, ans, x: g * lift(SIN, (x,)))
    ),
    "cos": Fault(
        "sign_dropped", "VJP g * sin(x) instead of -g * sin(x)", _vjps(lambda g, ans, x: g * lift(SIN, (x,)))
    ),
    "clip": Fault(
        "mask_dropped", "VJP g everywhere, also where x was clipped", _vjps(lambda g, ans, x, lo, hi: g)
    ),
    "divide": Fault(
        "sign_dropped",
        "VJP of y g * ans / y instead of -g * ans / y",
        _vjps(None, lambda g, ans, x, y: g * ans / y),
    ),
    "power": Fault(
        "exponent_not_lowered",
        "VJP of x g * y * x^y instead of g * y * x^(y-1)",
        _vjps(lambda g, ans, x, y: g * (y * lift(POWER, (x, y)))),
    ),
    "maximum": Fault(
        "ties_doubled", "VJPs give g in full to both tied inputs instead of half each",
        _vjps(lambda g, ans, x, y: _select(values(x) >= values(y), g),
              lambda g, ans, x, y: _select(values(y) >= values(x), g)),
    ),
    "minimum": Fault(
        "ties_doubled", "VJPs give g in full to both tied inputs instead of half each",
        _vjps(lambda g, ans, x, y: _select(values(x) <= values(y), g),
              lambda g, ans, x, y: _select(values(y) <= values(x), g)),
    ),
    "where": Fault(
        "condition_inverted", "VJP of x takes g where the condition is false",
        _vjps(lambda g, ans, x, y, cond: _select(~cond, g)),
    ),
    "max": Fault("ties_doubled", "VJP gives g in full to every tied maximum", _vjps(
        lambda g, ans, x, axis, keepdims: _full_share(g, ans, x, axis, keepdims))),
    "min": Fault("ties_doubled", "VJP gives g in full to every tied minimum", _vjps(
        lambda g, ans, x, axis, keepdims: _full_share(g, ans, x, axis, keepdims))),
    # The fused primitives of autograd.fused.
    "linear": Fault(
        "bias_not_summed",
        "VJP of b keeps one column of G instead of summing over the columns",
        _vjps(None, None, lambda g, ans, w, x, b: _one_replica(g, ans, b, None)),
    ),
    "softmax_cross_entropy": Fault(
        "one_hot_assumed",
        "VJP of Z is (A - Y)/m for any Y, instead of (A ⊙ Σ₀Y - Y)/m",
        _vjps(
            lambda g, ans, z, y, a: g * (np.exp(z - z.max(0)) / np.exp(z - z.max(0)).sum(0) - y) / z.shape[1],
            None,
        ),
    ),
}


def _assigned(g, index, shape):
    out = np.zeros(shape, dtype=values(g).dtype)
    out[index] = values(g)
    return out


def _full_share(g, ans, x, axis, keepdims):
    kept = tuple(1 if axis is None or k in axis else n for k, n in enumerate(x.shape))
    hits = values(x) == values(ans).reshape(kept)
    return np.broadcast_to(values(g).reshape(kept), x.shape) * hits


def _raw(rule: Callable, *positions: int) -> Callable:
    """``rule`` with the arguments at ``positions`` (of ``g, ans, *xs``) read as raw arrays."""

    def slipped(*args):
        return rule(*(values(a) if k in positions else a for k, a in enumerate(args)))

    return slipped


def _raw_vjps(*positions: int) -> Callable[[Primitive], dict]:
    return lambda prim: {"vjps": tuple(_raw(rule, *positions) for rule in prim.vjps)}


#: Recording slips: the rule reads a raw array (the output or an input) where it should keep the
#: tensor, so first derivatives stay right and second derivatives lose a term.
RECORDING: dict[str, Fault] = {
    name: Fault("reads_raw", f"VJP reads {what} as a raw array (not differentiable)", _raw_vjps(*positions))
    for name, what, positions in [
        ("exp", "ans", (1,)),
        ("log", "x", (2,)),
        ("reciprocal", "ans", (1,)),
        ("mul", "x and y", (2, 3)),
        ("sqrt", "ans", (1,)),
        ("tanh", "x", (2,)),
        ("sigmoid", "x", (2,)),
        ("sin", "x", (2,)),
        ("cos", "x", (2,)),
        ("divide", "ans and y", (1, 3)),
        ("power", "ans, x and y", (1, 2, 3)),
        ("matmul", "x and y", (2, 3)),
        ("linear", "W and X", (2, 3)),
        ("softmax_cross_entropy", "Z", (2,)),
    ]
}


def faults_for(name: str) -> dict[str, Fault]:
    """The faults of primitive ``name``: the generic three, its structural one and, where a
    rule reads a differentiable value, its recording slip.

    A primitive without a structural fault raises KeyError: a new primitive needs one here.
    """
    faults = {fault.name: fault for fault in GENERIC}
    structural = STRUCTURAL[name]
    faults[structural.name] = structural
    if name in RECORDING:
        faults[RECORDING[name].name] = RECORDING[name]
    # The forward and JVP faults, by the primitive's kind (tools.engine_mutants).
    from tools.engine_mutants import kind_faults

    faults.update(kind_faults(PRIMITIVES[name]))
    return faults


def all_mutants() -> list[tuple[str, str]]:
    """Every (primitive, fault) pair, in the order of the primitive table, then the engine's
    faults as ``("engine", fault)`` pairs (tools.engine_mutants)."""
    from tools.engine_mutants import engine_mutants

    return [(name, fault) for name in PRIMITIVES for fault in faults_for(name)] + engine_mutants()


@contextlib.contextmanager
def injected(name: str, fault: str) -> Iterator[Any]:
    """Swap ``fault`` into primitive ``name`` (or into the engine, ``name`` "engine") for the
    duration of the block."""
    from tools.engine_mutants import ENGINE_TARGET, engine_injected

    if name == ENGINE_TARGET:
        with engine_injected(fault) as chosen:
            yield chosen
        return
    prim = PRIMITIVES[name]
    try:
        patch = faults_for(name)[fault].patch(prim)
    except KeyError:
        raise KeyError(
            f"no fault {fault!r} for primitive {name!r}; known: {sorted(faults_for(name))}"
        ) from None
    saved = {field: getattr(prim, field) for field in patch}
    # Primitive is a frozen dataclass: bypass the freeze, in place, so every reference sees it.
    for field, value in patch.items():
        object.__setattr__(prim, field, value)
    try:
        yield prim
    finally:
        for field, value in saved.items():
            object.__setattr__(prim, field, value)


# Faults injected for the rest of the process. Holding the managers matters: a dropped
# generator-based context manager is closed by the garbage collector, which restores the rule.
_PERMANENT: list = []


def inject(spec: str) -> Any:
    """Apply ``"name:fault"`` for the rest of the process (used by the pytest plugin)."""
    name, _, fault = spec.partition(":")
    manager = injected(name, fault)
    prim = manager.__enter__()
    _PERMANENT.append(manager)
    return prim
