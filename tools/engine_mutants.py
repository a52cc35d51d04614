"""Faults beyond the derivative rules: forward functions, the structure of JVP rules, the engine.

:mod:`tools.mutants` slips a wrong VJP into the primitive table. The engine can be wrong in
other places that a test of the VJP rules alone never sees, and each gets faults here:

* **Forward functions** (:func:`kind_faults`, by the primitive's kind, so a primitive added later
  gets them too): the value scaled by 1.01; an elementwise value shifted by 1e-6; and, for some
  primitives (:data:`FORWARD_SLIPS`), a slip of their own: a sum over the wrong axis, a
  transpose that ignores its permutation, the fused linear without its bias.
* **The structure of JVP rules** (by kind too): the incoming tangent ignored (replaced by
  ones); a linear op whose JVP returns the tangent without applying the op; a JVP of several
  inputs that ignores one input's tangent (a term dropped from ``f(ẋ, y) + f(x, ẏ)``).
* **The engine's machinery** (:data:`ENGINE`, target ``engine``): backward's accumulation,
  constant copying, the mutation and consumed-graph checks, broadcasting, dtype casts, the
  retry after a failed sweep, recording and grad mode, ``retain_grad``, the recording pass of
  higher derivatives (``create_graph`` dropped, a sum or a cast done on raw arrays) and the
  levels of forward mode (perturbation confusion). Each is a monkeypatch: a function of the
  engine replaced by a copy of its own source with one line changed (:func:`source_patched`),
  or by a small wrapper, and put back on exit. Every module that holds a reference to the
  function sees the faulty one.

Every fault is a plausible slip, not a deliberate crash: most compute a wrong number with no
error, which is what the suite has to catch. Mutants that compute exactly what the engine computes
(equivalent mutants) are left out, each with its reason in :data:`EQUIVALENT`.
"""

from __future__ import annotations
import __future__

import contextlib
import inspect
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from autograd import backward as B
from autograd import primitives as P
from autograd import tensor as T
from autograd.primitives import Primitive, lift

#: The mutant target that names the engine's faults: ``engine:<fault>``.
ENGINE_TARGET = "engine"

#: What undoes a patch of the engine.
Undo = Callable[[], None]


@dataclass(frozen=True)
class KindFault:
    """A fault of a primitive's forward or JVP: ``patch(prim)`` returns the replaced fields."""

    name: str
    description: str
    patch: Callable[[Primitive], dict]


# ---------------------------------------------------------------------------------------------
# Forward functions
# ---------------------------------------------------------------------------------------------


def _on_value(forward: Callable, slip: Callable) -> Callable:
    """``forward`` with ``slip`` applied to its value (a fused forward's residual kept as is)."""

    def slipped(*args):
        out = forward(*args)
        if out.__class__ is tuple:
            ans, residual = out
            return slip(np.asarray(ans)), residual
        return slip(np.asarray(out))

    return slipped


def _scaled(ans: np.ndarray) -> np.ndarray:
    return np.asarray(ans * 1.01).astype(ans.dtype, copy=False)


def _shifted(ans: np.ndarray) -> np.ndarray:
    return np.asarray(ans + 1e-6).astype(ans.dtype, copy=False)


def _forward_scaled(prim: Primitive) -> dict:
    return {"forward": _on_value(prim.forward, _scaled)}


def _forward_shifted(prim: Primitive) -> dict:
    return {"forward": _on_value(prim.forward, _shifted)}


def _sum_wrong_axis(prim: Primitive) -> dict:
    forward = prim.forward

    def wrong(x, axis, keepdims):
        # The neighbouring axis: the slip of a (classes, m) layout read as (m, classes).
        if axis is not None and x.ndim > 1:
            axis = tuple((a + 1) % x.ndim for a in axis)
        return forward(x, axis, keepdims)

    return {"forward": wrong}


def _transpose_unpermuted(prim: Primitive) -> dict:
    return {"forward": lambda x, axes: np.transpose(x)}


def _reshape_column_major(prim: Primitive) -> dict:
    return {"forward": lambda x, shape: np.reshape(x, shape, order="F")}


def _astype_not_cast(prim: Primitive) -> dict:
    return {"forward": lambda x, dtype: x.copy()}


def _linear_without_bias(prim: Primitive) -> dict:
    return {"forward": lambda w, x, b: w @ x}


def _ce_over_classes(prim: Primitive) -> dict:
    forward = prim.forward

    def wrong(z, y):
        # The mean over the classes (rows) instead of the examples (columns).
        value, softmax = forward(z, y)
        return np.asarray(value * z.shape[1] / z.shape[0]), softmax

    return {"forward": wrong}


#: Forward slips particular to one primitive, by name.
FORWARD_SLIPS: dict[str, KindFault] = {
    "sum": KindFault(
        "forward_wrong_axis", "forward sums over the next axis instead of the given one", _sum_wrong_axis
    ),
    "transpose": KindFault(
        "forward_unpermuted", "forward reverses the axes, ignoring the permutation", _transpose_unpermuted
    ),
    "reshape": KindFault(
        "forward_column_major", "forward reshapes in column-major order", _reshape_column_major
    ),
    "astype": KindFault("forward_not_cast", "forward copies without casting to the dtype", _astype_not_cast),
    "linear (matmul+add)": KindFault(
        "forward_no_bias", "forward computes W X, the bias forgotten", _linear_without_bias
    ),
    "softmax_cross_entropy (log_softmax+mul+sum)": KindFault(
        "forward_mean_over_classes", "forward divides by the number of classes instead of m", _ce_over_classes
    ),
}

# ---------------------------------------------------------------------------------------------
# The structure of JVP rules
# ---------------------------------------------------------------------------------------------


def _jvp_ignores_tangent(prim: Primitive) -> dict:
    rule = prim.jvp

    def wrong(x_dots, ans, *args):
        return rule([d if d is None else d * 0 + 1 for d in x_dots], ans, *args)

    return {"jvp": wrong}


def _jvp_not_applied(prim: Primitive) -> dict:
    # The tangent passed through as it came: L(ẋ) = ẋ, right only for the identity.
    return {"jvp": lambda x_dots, ans, *args: x_dots[0]}


def _jvp_ignores_input(i: int) -> Callable[[Primitive], dict]:
    def patch(prim: Primitive) -> dict:
        rule = prim.jvp

        def wrong(x_dots, ans, *args):
            dots = [None if k == i else d for k, d in enumerate(x_dots)]
            if all(d is None for d in dots):
                return None  # no tangent left: the output carries none
            return rule(dots, ans, *args)

        return {"jvp": wrong}

    return patch


#: Unary linear ops whose JVP "not applied" is an equivalent mutant (see :data:`EQUIVALENT`):
#: their forward map is the identity on values.
JVP_NOT_APPLIED_EQUIVALENT = frozenset({"identity", "astype"})


def kind_faults(prim: Primitive) -> dict[str, KindFault]:
    """The forward and JVP faults of ``prim``, from its kind and number of inputs (and, for a
    few, from :data:`FORWARD_SLIPS`)."""
    faults = [
        KindFault("forward_scaled", "forward value scaled by 1.01", _forward_scaled),
        KindFault(
            "jvp_ignores_tangent", "JVP ignores the incoming tangent (tangent -> ones)", _jvp_ignores_tangent
        ),
    ]
    if prim.kind == "elementwise":
        faults.append(KindFault("forward_shifted", "forward value shifted by 1e-6", _forward_shifted))
    if prim.name in FORWARD_SLIPS:
        faults.append(FORWARD_SLIPS[prim.name])
    if prim.kind == "linear" and prim.n_inputs == 1 and prim.name not in JVP_NOT_APPLIED_EQUIVALENT:
        faults.append(
            KindFault("jvp_not_applied", "JVP returns the tangent without applying the op", _jvp_not_applied)
        )
    n_inputs = 2 if prim.n_inputs == -1 else prim.n_inputs
    if n_inputs >= 2:
        for i in range(n_inputs):
            faults.append(
                KindFault(
                    f"jvp_ignores_input_{i}",
                    f"JVP ignores the tangent of input {i} (its term f(..., ẋ{i}, ...) dropped)",
                    _jvp_ignores_input(i),
                )
            )
    return {fault.name: fault for fault in faults}


# ---------------------------------------------------------------------------------------------
# The engine: monkeypatches of its functions
# ---------------------------------------------------------------------------------------------

#: Packages whose modules may hold a reference to an engine function (``from .x import f``).
_PACKAGES = ("autograd", "nn", "tests", "tools")


def source_patched(function: Callable, *replacements: tuple[str, str]) -> Callable:
    """A copy of ``function`` compiled from its own source with each ``(old, new)`` replaced.

    Each ``old`` must occur exactly once, so a fault never lands on the wrong line; when the
    engine's code changes under it, this raises (the fault must then be rewritten) rather than
    inject nothing. The copy runs in the function's module namespace, as the original does.
    """
    source = textwrap.dedent(inspect.getsource(function))
    for old, new in replacements:
        count = source.count(old)
        if count != 1:
            raise LookupError(
                f"{function.__module__}.{function.__qualname__}: the line {old!r} occurs {count} times "
                "in its source (expected once); the engine changed, so this fault must be updated"
            )
        source = source.replace(old, new)
    code = compile(
        source,
        f"<mutant of {function.__module__}.{function.__qualname__}>",
        "exec",
        flags=__future__.annotations.compiler_flag,
        dont_inherit=True,
    )
    namespace: dict = {}
    exec(code, function.__globals__, namespace)
    return namespace[function.__name__]


def _swap_everywhere(old: object, new: object) -> Undo:
    """Point every module-level name of the project that refers to ``old`` at ``new``; returns
    the undo."""
    swapped = []
    for module_name, module in list(sys.modules.items()):
        if module is None or not module_name.startswith(_PACKAGES):
            continue
        for attr, value in list(vars(module).items()):
            if value is old:
                setattr(module, attr, new)
                swapped.append((module, attr))
    if not swapped:
        raise LookupError(f"no module refers to {old!r}")

    def undo() -> None:
        for module, attr in swapped:
            setattr(module, attr, old)

    return undo


def _patch_function(function: Callable, *replacements: tuple[str, str]) -> Callable[[], Undo]:
    return lambda: _swap_everywhere(function, source_patched(function, *replacements))


def _patch_all(*patches: Callable[[], Undo]) -> Callable[[], Undo]:
    """Several patches as one fault (the same slip in each of the engine's sweeps)."""

    def apply() -> Undo:
        undos = [patch() for patch in patches]

        def undo() -> None:
            for each in reversed(undos):
                each()

        return undo

    return apply


def _patch_sweeps(*replacements: tuple[str, str]) -> Callable[[], Undo]:
    """The same slip in both reverse sweeps: ``backward()``'s and ``gradients()``'."""
    return _patch_all(
        _patch_function(B._sweep, *replacements), _patch_function(B._backward_sweep, *replacements)
    )


def _patch_method(cls: type, name: str, *replacements: tuple[str, str]) -> Callable[[], Undo]:
    def apply() -> Undo:
        original = cls.__dict__[name]
        setattr(cls, name, source_patched(original, *replacements))
        return lambda: setattr(cls, name, original)

    return apply


def _wrap_function(function: Callable, make: Callable[[Callable], Callable]) -> Callable[[], Undo]:
    return lambda: _swap_everywhere(function, make(function))


def _sum_to_first_replica(original: Callable) -> Callable:
    def sum_to(g, shape):
        # The leading axes that broadcasting added: the first replica kept instead of the sum.
        lead = g.ndim - len(shape)
        if lead > 0:
            g = lift(P.GETITEM, (g,), ((0,) * lead,))
        return original(g, shape)

    return sum_to


@dataclass(frozen=True)
class EngineFault:
    """A slip in the engine: ``apply()`` puts it in place and returns the function that undoes it."""

    name: str
    description: str
    apply: Callable[[], Undo]


_FAULTS = [
    # backward's accumulation
    EngineFault(
        "sweep_overwrites",
        "backward: a second contribution to a gradient this sweep owns replaces it instead of adding",
        _patch_sweeps(("np.add(previous, gi, out=previous)", "grads[pkey] = gi")),
    ),
    EngineFault(
        "sweep_adds_into_shared",
        "backward: a second contribution is added in place into a gradient the sweep does not own",
        _patch_sweeps(("grads[pkey] = np.asarray(previous + gi)", "np.add(previous, gi, out=previous)")),
    ),
    EngineFault(
        "sweep_adopts_shared",
        "backward: every rule's result is taken as the sweep's own array (g, views and operands too)",
        _patch_sweeps(("fresh = not (", "fresh = True or not (")),
    ),
    EngineFault(
        "leaf_grad_overwritten",
        "backward: a leaf's .grad is replaced by the new gradient instead of accumulated",
        _patch_function(
            B._accumulate_leaf,
            ("leaf._grad = np.asarray(leaf._grad + g)", "leaf._grad = np.array(g, dtype=leaf._data.dtype)"),
        ),
    ),
    EngineFault(
        "leaf_grad_added_in_place",
        "backward: a gradient is added into the leaf's existing .grad array in place (a caller may hold it)",
        _patch_function(
            B._accumulate_leaf,
            (
                "leaf._grad = np.asarray(leaf._grad + g)",
                "np.add(leaf._grad, g, out=leaf._grad, casting='unsafe')",
            ),
        ),
    ),
    EngineFault(
        "leaf_grad_shared",
        "backward: a leaf adopts the gradient array without a copy even when it is not its own",
        _patch_function(B._accumulate_leaf, ("leaf._grad = g if owned else", "leaf._grad = g if True else")),
    ),
    # constants
    EngineFault(
        "constant_not_copied",
        "_constant: a caller's float array saved for backward is wrapped without a copy",
        _patch_function(T._constant, ("array = array.copy()", "pass")),
    ),
    # the checks of the graph's state
    EngineFault(
        "mutation_check_disabled",
        "backward: replacing a saved input's or output's data after recording is not detected",
        _patch_sweeps(
            ("if node._mutated_at > clock:", "if False:"),
            ("if parent._mutated_at > clock:", "if False:"),
        ),
    ),
    EngineFault(
        "mutation_clock_not_bumped",
        "Tensor.assign: new data does not advance the mutation clock",
        _patch_method(
            T.Tensor,
            "assign",
            ("self._mutated_at = _tick()", "self._mutated_at = state.mutation_clock"),
        ),
    ),
    EngineFault(
        "consumed_check_disabled",
        "backward: a second backward through a used graph is not detected (gradients doubled)",
        _patch_sweeps(("if node._consumed:", "if False:")),
    ),
    EngineFault(
        "retain_graph_ignored",
        "backward: retain_graph=True still marks the graph used",
        _patch_sweeps(
            (
                "if not retain_graph:\n                node._consumed = token",
                "if True:\n                node._consumed = token",
            ),
        ),
    ),
    EngineFault(
        "retry_not_unmarked",
        "backward: a sweep that failed part-way leaves its nodes marked used, so the retry raises",
        _patch_all(
            _patch_function(B._sweep, ("_unconsume(roots, token)", "pass")),
            _patch_function(B._backward_sweep, ("_unconsume((root,), token)", "pass")),
        ),
    ),
    # broadcasting
    EngineFault(
        "sum_to_first_replica",
        "sum_to: the leading axes broadcasting added keep their first replica instead of the sum",
        _wrap_function(P.sum_to, _sum_to_first_replica),
    ),
    EngineFault(
        "sum_to_first_column",
        "sum_to: a bias (n, 1) takes the first column of g instead of the row sums",
        _patch_function(P.sum_to, ("return sum_keepdims(g, 1)", "return g[:, :1]")),
    ),
    EngineFault(
        "binary_no_broadcast_node",
        "_binary: a tracked operand of a smaller shape is not put through broadcast_to",
        _patch_function(T._binary, ("x = apply(P.BROADCAST_TO, (x,), (shape,))", "pass")),
    ),
    # dtypes
    EngineFault(
        "gradient_not_cast",
        "backward: a rule's gradient of another dtype is not cast to its input's dtype",
        _patch_sweeps(("if gi.dtype != data.dtype:", "if False:")),
    ),
    EngineFault(
        "tangent_not_cast",
        "forward mode: a JVP's tangent of another dtype is not cast to the output's dtype",
        _patch_function(
            T._push_tangents, ("tangents[level] = _as_dtype(dot, ans.dtype)", "tangents[level] = dot")
        ),
    ),
    # recording
    EngineFault(
        "record_first_input_only",
        "apply: a two-input op is recorded only when its first input requires grad",
        _patch_function(
            T.apply, ("record = x._requires_grad or y._requires_grad\n", "record = x._requires_grad\n")
        ),
    ),
    EngineFault(
        "no_grad_ignored",
        "apply: operations are recorded inside no_grad()",
        _patch_function(T.apply, ("record = local.grad_enabled or local.taping", "pass")),
    ),
    EngineFault(
        "retain_grad_ignored",
        "backward: a non-leaf's retain_grad() keeps no gradient",
        _patch_sweeps(("if node._retains_grad:", "if False:")),
    ),
    EngineFault(
        "create_graph_dropped",
        "gradients(create_graph=True): the rules run on arrays, so the result is not recorded",
        _patch_function(
            B.gradients,
            (
                "differentiable = create_graph or len(_local.levels) > 1",
                "differentiable = len(_local.levels) > 1",
            ),
        ),
    ),
    # the recording pass (create_graph): right first derivatives, a cut graph behind them
    EngineFault(
        "recorded_sum_detached",
        "backward with create_graph: two contributions to a gradient are added as raw arrays, so "
        "the sum is not recorded",
        _patch_function(
            B._sweep,
            ("grads[pkey] = previous + gi", "grads[pkey] = type(previous)(previous._data + gi._data)"),
        ),
    ),
    EngineFault(
        "recorded_cast_detached",
        "backward with create_graph: a gradient is cast to its input's dtype on the raw array, not "
        "by a recorded astype",
        _patch_function(
            B._checked_tensor,
            (
                "gi = apply(P.ASTYPE, (gi,), (parent._data.dtype,))",
                "gi = Tensor(gi._data.astype(parent._data.dtype))",
            ),
        ),
    ),
    # forward mode
    EngineFault(
        "tangents_of_first_input_only",
        "apply: a two-input op pushes tangents only when its first input carries one",
        _patch_function(
            T.apply,
            (
                "tangents = x._tangents is not None or y._tangents is not None\n",
                "tangents = x._tangents is not None\n",
            ),
        ),
    ),
    EngineFault(
        "levels_confused",
        "forward mode: each level's rule reads every input's innermost tangent, whatever its level "
        "(perturbation confusion)",
        _patch_function(
            T._push_tangents,
            (
                "dots = [None if t._tangents is None else t._tangents.get(level) for t in inputs]",
                "dots = [None if not t._tangents else t._tangents[max(t._tangents)] for t in inputs]",
            ),
        ),
    ),
]

#: Mutants left out as equivalent (they compute what the engine computes), with the reason.
EQUIVALENT: dict[str, str] = {
    "identity:jvp_not_applied": "identity's forward is the identity on values: returning the tangent "
    "unchanged is what its JVP computes.",
    "astype:jvp_not_applied": "the tangent returned uncast equals the cast one in value; on arrays the "
    "engine casts every tangent to its output's dtype, so only a nested level's tangent (a tensor, "
    "not cast) could differ, and only in dtype, not in value.",
    "engine:level_cap_ignored": "with the cap on visible levels ignored, a JVP rule of level L also "
    "pushes level-L (and inner) tangents through its own operations, which gives the tangent a "
    "tangent of its own level (an ε_L² term). No value ever reads it: a level's tangent is computed "
    "from the values of the inputs' tangents, and the term is dropped when the level closes. The "
    "suite passes and only the cost grows (about 20 times on the higher-order tests); perturbation "
    "confusion proper is `engine:levels_confused`.",
}

#: The engine's faults, by name.
ENGINE: dict[str, EngineFault] = {fault.name: fault for fault in _FAULTS}


@contextlib.contextmanager
def engine_injected(fault: str) -> Iterator[EngineFault]:
    """Put engine fault ``fault`` in place for the duration of the block."""
    try:
        chosen = ENGINE[fault]
    except KeyError:
        raise KeyError(f"no fault {fault!r} for the engine; known: {sorted(ENGINE)}") from None
    undo = chosen.apply()
    try:
        yield chosen
    finally:
        undo()


def engine_mutants() -> list[tuple[str, str]]:
    """Every engine fault as a ``(target, fault)`` pair."""
    return [(ENGINE_TARGET, name) for name in ENGINE]
