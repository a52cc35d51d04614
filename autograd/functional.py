"""The functional API: derivatives of a function, in the style of JAX, composable to any depth.

``f`` takes tensors and returns a tensor, written once with engine operations. Both modes reuse
the primitive table's rules through the choke point :func:`autograd.tensor.apply`:

* forward mode (:func:`jvp`, :func:`jacfwd`) seeds the inputs with tangents of a level of its
  own and evaluates ``f`` once per seed: dual numbers, no tape. One sweep gives ``J v``.
* reverse mode (:func:`vjp`, :func:`grad`, :func:`jacrev`) records ``f`` once and sweeps back
  once per cotangent (:func:`autograd.backward.gradients`). One sweep gives ``uᵀ J``.

For ``f: Rⁿ → Rᵐ`` the full Jacobian takes ``n`` forward sweeps or ``m`` reverse sweeps
(docs/maths.md, "Forward vs reverse accumulation"); ``jacfwd(f, sparse=True)`` takes one forward
sweep per colour of the Jacobian's columns (:mod:`autograd.sparsity`).

**Composition.** Called at top level, a transform returns ndarrays. Called while another
transform evaluates its function, it returns tensors recorded for that one: its inputs stay
connected to the enclosing graph (through an ``identity`` node), reverse sweeps run with
``create_graph`` (the rules on tensors), and each forward transform seeds a level of its own,
so ``grad(grad(f))``, ``jvp(grad(f))`` (a Hessian-vector product), ``jacfwd(jacrev(f))`` and
every other order compose, and closures over an outer transform's variables differentiate
correctly. Nested reverse sweeps return gradients and write no ``.grad``.

Primals may be pytrees (nested tuples, lists and dicts of arrays; :mod:`autograd.pytree`):
derivatives have the same structure. Values are used, never the caller's tensors changed; at
top level results are ndarrays with the dtype and shape of what they differentiate. Arguments
not selected by ``argnums`` are passed to ``f`` unchanged.

**No silent zeros.** When the output does not depend on a differentiated input (it went
through ``.data``, ``.numpy()`` or ``detach()``, or ``f`` returned an array), the derivative
is zero, and a warning says so and names the likely cause.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import primitives as P
from . import pytree, sparsity, state, sweep_tape
from .backward import gradients
from .counters import announce_forward_sweep
from .state import enable_grad, no_grad
from .tensor import Tensor, _visible_levels, _wrap, apply

Function = Callable[..., Any]
ArgNums = int | Sequence[int]

_local = state.local

#: The warning for an output that does not depend on a differentiated input.
INDEPENDENT = (
    "{op}: the output does not depend on {what}, so its derivative is zero. If it should, the "
    "computation was cut: reading .data, .numpy() or .item(), calling detach(), or building a "
    "new array (np.array(t), a function returning an ndarray) leaves the graph; use the "
    "tensor's own operations instead"
)


def _warn_independent(op: str, what: str) -> None:
    warnings.warn(INDEPENDENT.format(op=op, what=what), UserWarning, stacklevel=4)


# ---------------------------------------------------------------------------------------------
# Inputs and outputs
# ---------------------------------------------------------------------------------------------


def _is_tracked(value: Any) -> bool:
    """Whether an enclosing transform differentiates ``value``."""
    return isinstance(value, Tensor) and (
        (value.requires_grad and _local.grad_enabled) or bool(_visible_levels(value))
    )


def _float_check(op: str, tensor: Tensor, index: int) -> Tensor:
    if tensor.dtype.kind != "f":
        raise TypeError(
            f"{op}: input {index} has dtype {tensor.dtype}; only floating-point inputs can be "
            "differentiated (pass floats, e.g. x.astype(np.float64))"
        )
    return tensor


def _input(op: str, value: Any, index: int, nested: bool, reverse: bool) -> Tensor:
    """The tensor ``f`` is differentiated at, for one leaf of the primals.

    Nested in another transform, a tracked value enters through an ``identity`` node, so the
    enclosing transform still sees the dependence; otherwise a fresh leaf of its values.
    Reverse transforms make it require grad (a tensor a sweep can stop at).
    """
    if nested and _is_tracked(value):
        _float_check(op, value, index)
        with enable_grad():
            leaf = apply(P.IDENTITY, (value,))
    else:
        leaf = _float_check(op, Tensor(value.data if isinstance(value, Tensor) else value), index)
    if reverse and not leaf.requires_grad:
        leaf.requires_grad = True
    return leaf


def _argnums(op: str, argnums: ArgNums, n_args: int) -> tuple[tuple[int, ...], bool]:
    """``argnums`` as a tuple of indices, and whether a single one was asked for."""
    single = isinstance(argnums, (int, np.integer))
    if not single and not (isinstance(argnums, (tuple, list)) and argnums):
        raise TypeError(f"{op}: argnums must be an int or a non-empty tuple of ints, got {argnums!r}")
    nums = (int(argnums),) if single else tuple(int(k) for k in argnums)
    for k in nums:
        if not -n_args <= k < n_args:
            raise ValueError(f"{op}: argnums {argnums} is out of range for {n_args} positional arguments")
    nums = tuple(k % n_args for k in nums)
    if len(set(nums)) != len(nums):
        raise ValueError(f"{op}: argnums {argnums} repeats an argument")
    return nums, single


class _Inputs:
    """The selected arguments of ``f`` as pytrees of input tensors.

    ``leaves`` lists the tensors differentiated, in order; ``args`` are ``f``'s arguments with
    the selected ones rebuilt around them; :meth:`structure` puts per-leaf results back into the
    shape of the selection (one pytree, or a tuple of them for several ``argnums``).
    """

    def __init__(self, op: str, args: tuple, nums: tuple, single: bool, nested: bool, reverse: bool):
        self.args = list(args)
        self.leaves: list[Tensor] = []
        self.treedefs = []
        self.single = single
        for k in nums:
            values, treedef = pytree.flatten(args[k])
            tensors = [_input(op, v, k, nested, reverse) for v in values]
            self.args[k] = pytree.unflatten(treedef, tensors)
            self.leaves.extend(tensors)
            self.treedefs.append(treedef)

    def structure(self, per_leaf: Sequence) -> Any:
        trees, start = [], 0
        for treedef in self.treedefs:
            stop = start + treedef.n_leaves
            trees.append(pytree.unflatten(treedef, per_leaf[start:stop]))
            start = stop
        return trees[0] if self.single else tuple(trees)


def _as_output(op: str, out: Any) -> Tensor:
    if isinstance(out, Tensor):
        return out
    array = np.asarray(out)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{op}: f must return tensors or arrays (a pytree of them); got {type(out).__name__}"
        )
    return Tensor(array)


def _split_aux(op: str, result: Any, has_aux: bool) -> tuple[Any, Any]:
    if not has_aux:
        return result, None
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(f"{op}: with has_aux=True, f must return a pair (output, aux)")
    return result[0], result[1]


def _result(value: Any, nested: bool) -> Any:
    """What a transform hands back: tensors for an enclosing transform, else arrays."""
    if nested:
        return value if isinstance(value, Tensor) else _wrap(np.asarray(value))
    return np.array(value._data if isinstance(value, Tensor) else value)


def _aux_result(aux: Any, nested: bool) -> Any:
    if nested:
        return aux
    return pytree.tree_map(lambda a: np.array(a._data) if isinstance(a, Tensor) else a, aux)


def _own(array: np.ndarray) -> np.ndarray:
    """``array`` for the caller: made writable again when it owns its memory (a gradient the
    sweep made for this call alone, which nothing else refers to), else a copy."""
    if array.base is None and array.flags.owndata:
        array.flags.writeable = True
        return array
    return np.array(array)


def _zeros_like(t: Tensor, nested: bool, dtype: Any = None) -> Any:
    zeros = np.zeros(t.shape, dtype=dtype or t.dtype)
    return _wrap(zeros) if nested else zeros


def _stack_rows(rows: list, shape: tuple) -> Tensor:
    """Tensors of equal size stacked as the rows of one tensor, reshaped to ``shape``."""
    flat = tuple(apply(P.RESHAPE, (r,), ((1, r.size),)) if isinstance(r, Tensor) else _wrap(r.reshape(1, -1))
                 for r in rows)
    stacked = flat[0] if len(flat) == 1 else apply(P.CONCATENATE, flat, (0,))
    return apply(P.RESHAPE, (stacked,), (tuple(shape),))


# ---------------------------------------------------------------------------------------------
# Forward mode
# ---------------------------------------------------------------------------------------------


def _tangent_of(op: str, value: Any, tangent: Any, index: int, nested: bool) -> Any:
    """The seed tangent for one primal leaf: checked, in the leaf's dtype, never the caller's
    array itself (an array is copied; a tracked tensor is kept, so it can be differentiated)."""
    if tangent is None:
        raise TypeError(f"{op}: tangent {index} is None; pass an array of its primal's shape")
    if nested and _is_tracked(tangent):
        dot = tangent
        shape, kind = tangent.shape, tangent.dtype.kind
    else:
        try:
            dot = np.array(tangent.data if isinstance(tangent, Tensor) else tangent)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{op}: tangent {index} is not a numeric array ({error})") from None
        shape, kind = dot.shape, dot.dtype.kind
    primal_shape = np.shape(value.data if isinstance(value, Tensor) else value)
    if shape != primal_shape:
        raise ValueError(f"{op}: tangent {index} has shape {shape} but its primal has shape {primal_shape}")
    if kind not in "biuf":
        raise TypeError(f"{op}: tangent {index} has non-numeric dtype {dot.dtype}")
    return dot


def _seed(leaf: Tensor, level: int, tangent: Any) -> None:
    if tangent.__class__ is np.ndarray and tangent.dtype != leaf.dtype:
        tangent = tangent.astype(leaf.dtype)
    tangents = dict(leaf._tangents) if leaf._tangents else {}
    tangents[level] = tangent
    leaf._tangents = tangents


class _ForwardSweep:
    """Evaluate ``f`` once with tangent-carrying inputs: one forward sweep.

    At top level the sweep runs under ``no_grad`` (parameters that require grad record
    nothing); nested, the grad mode is left to the enclosing transform. Only the outermost of
    nested sweeps is counted: nested dual numbers evaluate ``f`` once.
    """

    def __init__(self, nested: bool):
        self.nested = nested

    def __call__(self, f: Function, args: list, record: bool = False) -> Any:
        """``f(*args)``; with ``record`` (top level), operations on inputs that require grad
        are recorded, so that the sweep's rule calls can be read back for a tape (``f`` still
        runs under ``no_grad``, as in every other sweep)."""
        if not _local.sweeps:
            announce_forward_sweep()
        _local.sweeps += 1
        try:
            with state.transforming():
                if self.nested:
                    return f(*args)
                with no_grad(), state.taping() if record else contextlib.nullcontext():
                    return f(*args)
        finally:
            _local.sweeps -= 1


def _output_tangent(out: Tensor, level: int) -> Any:
    tangents = out._tangents
    return None if not tangents else tangents.get(level)


def jvp(f: Function, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """``(f(x), J ẋ)`` from one forward sweep.

    ``primals`` and ``tangents`` are tuples with one entry per argument of ``f``, each a pytree
    (tangents of the primals' structure and shapes). ``f`` may return a pytree of outputs; the
    output tangents have its structure.
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples, one entry per argument of f")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    nested = _local.depth > 0
    flat_tangents, tangent_defs = [], []
    for k, (p, t) in enumerate(zip(primals, tangents)):
        if t is None and p is not None:
            raise TypeError(f"jvp: tangent {k} is None; pass an array of its primal's shape")
        p_leaves, p_def = pytree.flatten(p)
        t_leaves, t_def = pytree.flatten(t)
        if p_def != t_def:
            raise ValueError(f"jvp: tangent {k} does not have the structure of its primal")
        flat_tangents.extend(_tangent_of("jvp", pv, tv, k, nested) for pv, tv in zip(p_leaves, t_leaves))
        tangent_defs.append(t_def)
    with state.new_level() as level:
        inputs = _Inputs("jvp", tuple(primals), tuple(range(len(primals))), False, nested, reverse=False)
        for leaf, dot in zip(inputs.leaves, flat_tangents):
            _seed(leaf, level, dot)
        result = _ForwardSweep(nested)(f, inputs.args)
        outs, out_def = pytree.flatten(result)
        outs = [_as_output("jvp", o) for o in outs]
        values, dots = [], []
        for o in outs:
            dot = _output_tangent(o, level)
            if dot is None:
                if inputs.leaves:
                    _warn_independent("jvp", "the inputs")
                dot = _zeros_like(o, nested)
            values.append(_result(o, nested))
            if nested:
                dots.append(dot if isinstance(dot, Tensor) else _wrap(dot))
            else:
                dots.append(np.asarray(_result(dot, nested), dtype=o.dtype))
    return pytree.unflatten(out_def, values), pytree.unflatten(out_def, dots)


def jacfwd(f: Function, argnums: ArgNums = 0, *, sparse: bool = False) -> Callable[..., Any]:
    """The Jacobian of ``f`` by forward mode: ``jacfwd(f)(x)`` has shape ``out.shape + x.shape``.

    Column ``j`` is ``J e_j``, one forward sweep per input element. With ``sparse=True`` the
    Jacobian's pattern is found first and columns that touch disjoint rows share a sweep
    seeded with the sum of their basis vectors: one sweep per colour (so ``jacfwd(grad(f),
    sparse=True)`` is a sparse Hessian by colouring). For several ``argnums`` the result is a
    tuple, one Jacobian per selected argument; pytree arguments and outputs give Jacobians of
    the same structure (outputs outside, inputs inside).
    """

    @functools.wraps(f)
    def jacobian(*args: Any) -> Any:
        nums, single = _argnums("jacfwd", argnums, len(args))
        nested = _local.depth > 0
        with state.new_level() as level:
            inputs = _Inputs("jacfwd", args, nums, single, nested, reverse=False)
            sweep = _ForwardSweep(nested)
            if sparse:
                blocks, outs, out_def = _sparse_columns(f, inputs, level, sweep)
            else:
                blocks, outs, out_def = _dense_columns(f, inputs, level, sweep, nested)
        return _assemble(blocks, outs, out_def, inputs, nested)

    return jacobian


def _dense_columns(f, inputs: _Inputs, level: int, sweep: _ForwardSweep, nested: bool):
    """``blocks[o][i]``: the Jacobian of output ``o`` with respect to input ``i`` as a list of
    ``x.size`` columns (arrays of the output's size, or tensors when nested), one sweep each.

    At top level the first sweep of each input goes through the engine and the others replay
    it on a tape where that is possible (:mod:`autograd.sweep_tape`): the same sweeps, the
    same columns.
    """
    leaves = inputs.leaves
    outs = out_def = None
    columns: list = [[] for _ in leaves]  # columns[i][j] = list over outputs
    for i, leaf in enumerate(leaves):
        seed = np.zeros(leaf.size, dtype=leaf.dtype)
        tape = None
        seeds: list = [None] * len(leaves)
        for j in range(leaf.size):
            if nested:
                seed = np.zeros(leaf.size, dtype=leaf.dtype)  # tangents may keep a view of it
            seed[j] = 1
            if tape is not None:
                seeds[i] = seed.reshape(leaf.shape)
                dots = tape.run(seeds)
                columns[i].append([None if d is None else np.array(d).reshape(-1) for d in dots])
                seed[j] = 0
                continue
            _seed(leaf, level, seed.reshape(leaf.shape))
            for other in leaves:
                if other is not leaf and other._tangents:
                    other._tangents = {k: v for k, v in other._tangents.items() if k != level} or None
            record = j == 0 and not nested and sweep_tape.usable(leaf.size)
            result = _recorded_sweep(sweep, f, inputs, (i,)) if record else sweep(f, inputs.args)
            flat, out_def = pytree.flatten(result)
            outs = [_as_output("jacfwd", o) for o in flat]
            dots = [_output_tangent(o, level) for o in outs]
            column = []
            for dot in dots:
                if dot is None:
                    column.append(None)
                elif nested:
                    column.append(dot if isinstance(dot, Tensor) else _wrap(np.array(dot)))
                else:
                    column.append(np.array(dot if dot.__class__ is np.ndarray else dot._data).reshape(-1))
            columns[i].append(column)
            if record:
                seeds[i] = seed.reshape(leaf.shape)
                tape = _forward_tape(leaves, (i,), outs, level, seeds, dots)
                # The recorded graph is not needed past the tape: outs keep values and shapes.
                outs = [_wrap(o._data) for o in outs]
            if not nested:
                seed[j] = 0  # nested, the recorded tangents keep the seed: each gets its own
        if leaf._tangents:
            leaf._tangents = {k: v for k, v in leaf._tangents.items() if k != level} or None
    if outs is None:  # no input elements: evaluate once for the outputs' shapes
        with no_grad(), state.transforming():
            flat, out_def = pytree.flatten(f(*inputs.args))
        outs = [_as_output("jacfwd", o) for o in flat]
    blocks = [[[col[o] for col in columns[i]] for i in range(len(leaves))] for o in range(len(outs))]
    return blocks, outs, out_def


def _recorded_sweep(sweep: _ForwardSweep, f: Function, inputs: _Inputs, seeded: Sequence[int]) -> Any:
    """One forward sweep (top level) that also records the graph of the seeded inputs, from
    which :func:`_forward_tape` reads the sweep's rule calls."""
    leaves = [inputs.leaves[k] for k in seeded]
    for leaf in leaves:
        leaf.requires_grad = True
    try:
        return sweep(f, inputs.args, record=True)
    finally:
        for leaf in leaves:
            leaf.requires_grad = False


def _forward_tape(leaves: list, seeded: Sequence[int], outs: list, level: int, seeds: list, dots: list):
    """The tape of the recorded sweep that has just run with ``seeds``, if it reproduces the
    sweep's output tangents ``dots`` exactly; else ``None`` (the sweeps stay eager)."""
    tape = sweep_tape.ForwardTape.build(leaves, seeded, outs, level)
    if tape is None:
        return None
    wanted = [None if d is None else (d if d.__class__ is np.ndarray else d._data) for d in dots]
    return tape.checked(seeds, wanted)


def _sparse_columns(f, inputs: _Inputs, level: int, sweep: _ForwardSweep):
    """As :func:`_dense_columns`, with one sweep per colour of the Jacobian's columns (arrays).

    The sweep seeded with ``v = Σ_{j of colour c} e_j`` gives ``J v``, whose row ``i`` is
    ``J[i, j]`` for the one column ``j`` of colour ``c`` that touches row ``i`` (if any): the
    possible nonzeros of the pattern, grouped by their column's colour, say where each goes.
    """
    leaves = inputs.leaves
    if _local.depth > 0:
        raise NotImplementedError(
            "jacfwd(sparse=True) inside another transform is not supported: use jacfwd(f) there, "
            "or put the sparse jacfwd outermost (jacfwd(grad(f), sparse=True) is a sparse Hessian)"
        )
    pattern, out = _pattern(f, inputs)  # (out.size, n)
    colours = sparsity.colour_columns(pattern)
    n_colours = int(colours.max()) + 1 if colours.size else 0
    rows, columns = np.nonzero(pattern)
    by_colour = np.argsort(colours[columns], kind="stable")
    rows, columns = rows[by_colour], columns[by_colour]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(colours[columns], minlength=n_colours))]).astype(int)
    offsets = np.cumsum([0] + [leaf.size for leaf in leaves])
    seeds = [np.zeros(leaf.size, dtype=leaf.dtype) for leaf in leaves]
    dtype = np.result_type(*(leaf.dtype for leaf in leaves), out.dtype)
    jacobian = np.zeros((out.size, pattern.shape[1]), dtype=dtype)
    tapes: list = []  # top level: the tapes of the sweeps recorded so far (autograd.sweep_tape)
    recording = sweep_tape.usable(n_colours)
    for group in sparsity.colour_groups(colours):
        colour = colours[group[0]]
        # Seed every input with the sum of the basis vectors of this colour's columns.
        seeded = []
        for k, (seed, start, stop) in enumerate(zip(seeds, offsets[:-1], offsets[1:])):
            mine = group[(group >= start) & (group < stop)] - start
            seed[:] = 0
            seed[mine] = 1
            if mine.size:
                seeded.append(k)
        tangents = [
            seed.reshape(leaf.shape) if k in seeded else None
            for k, (leaf, seed) in enumerate(zip(leaves, seeds))
        ]
        tape = next((t for t in tapes if t.seeded.issuperset(seeded)), None)
        if tape is not None:
            (tangent,) = tape.run(tangents)
        else:
            for leaf, dot in zip(leaves, tangents):
                if dot is not None:
                    _seed(leaf, level, dot)
                elif leaf._tangents:
                    leaf._tangents = {k: v for k, v in leaf._tangents.items() if k != level} or None
            if recording:
                result = _as_output("jacfwd", _recorded_sweep(sweep, f, inputs, seeded))
            else:
                result = _as_output("jacfwd", sweep(f, inputs.args))
            tangent = _output_tangent(result, level)
            if recording:
                tape = _forward_tape(leaves, seeded, [result], level, tangents, [tangent])
                if tape is None:
                    recording = False  # f is not one a tape can follow: the other sweeps stay eager
                else:
                    tapes.append(tape)
        if tangent is not None:
            values = tangent if tangent.__class__ is np.ndarray else tangent._data
            i, j = rows[bounds[colour]:bounds[colour + 1]], columns[bounds[colour]:bounds[colour + 1]]
            jacobian[i, j] = values.reshape(-1)[i]
    for leaf in leaves:
        leaf._tangents = None
    blocks = [[list(jacobian[:, start:stop].T) for start, stop in zip(offsets[:-1], offsets[1:])]]
    return blocks, [out], pytree.LEAF


def _pattern(f: Function, inputs: _Inputs) -> tuple[np.ndarray, Tensor]:
    """The Jacobian's pattern, from one recorded evaluation of ``f`` (not a sweep)."""
    leaves = inputs.leaves
    for leaf in leaves:
        leaf.requires_grad = True
    try:
        # Recorded like a reverse transform's function: nested transforms record for the pattern.
        with enable_grad(), state.transforming(), state.reversing():
            out = _as_output("jacfwd", f(*inputs.args))
        return sparsity.graph_pattern(out, leaves), out
    finally:
        for leaf in leaves:
            leaf.requires_grad = False


def _assemble(blocks, outs, out_def, inputs: _Inputs, nested: bool) -> Any:
    """Per output and input, the Jacobian of shape ``out.shape + x.shape`` from its columns."""
    if not nested:
        for i in range(len(inputs.leaves)):
            columns = [c for o in range(len(outs)) for c in blocks[o][i]]
            if columns and all(c is None for c in columns):
                _warn_independent("jacfwd", f"input {i}")
    per_output = []
    for o, out in enumerate(outs):
        per_input = []
        for i, leaf in enumerate(inputs.leaves):
            cols = blocks[o][i]
            dtype = np.result_type(leaf.dtype, out.dtype)
            if nested:
                cols = [c if c is not None else _wrap(np.zeros(out.shape, dtype=dtype)) for c in cols]
                if not cols:
                    per_input.append(_wrap(np.zeros(out.shape + leaf.shape, dtype=dtype)))
                    continue
                # Columns stacked as rows give Jᵀ; transposing the flat block gives J.
                flat = _stack_rows(cols, (leaf.size, out.size))
                per_input.append(apply(P.RESHAPE, (flat.T,), (out.shape + leaf.shape,)))
            else:
                block = np.zeros((leaf.size, out.size), dtype=dtype)
                for j, c in enumerate(cols):
                    if c is not None:
                        block[j] = c
                # A transposed view, not a copy: copying a large Jacobian would cost more than
                # its sweeps.
                per_input.append(block.T.reshape(out.shape + leaf.shape))
        per_output.append(inputs.structure(per_input))
    return pytree.unflatten(out_def, per_output)


# ---------------------------------------------------------------------------------------------
# Reverse mode
# ---------------------------------------------------------------------------------------------


class _Pullback:
    """``u ↦ uᵀ J``: one reverse sweep through the graph recorded by :func:`vjp`.

    Gradients are taken with :func:`autograd.backward.gradients`: no tensor's ``.grad`` is
    written, so differentiating a function that closes over parameters leaves theirs alone.
    Nested in another transform, the sweep records (``create_graph``) and returns tensors.
    """

    def __init__(self, op: str, outs: list, out_def, inputs: _Inputs, nested: bool):
        self.op = op
        self.outs = outs
        self.out_def = out_def
        self.inputs = inputs
        self.nested = nested
        # Record the sweep only for an enclosing reverse transform; nested in forward ones only,
        # the rules run on tensors (their tangents flow) and record nothing.
        self.create_graph = nested and _local.reverse > 0
        self._warned = False

    def flat(self, cotangents: list) -> list:
        """``uᵀ J`` per input leaf, for one cotangent per output leaf (``None``: zero)."""
        leaves = self.inputs.leaves
        roots, seeds = [], []
        for out, u in zip(self.outs, cotangents):
            if u is not None and out.requires_grad:
                roots.append(out)
                seeds.append(u)
        grads = [None] * len(leaves)
        if roots:
            with enable_grad() if self.create_graph else no_grad():
                grads = list(
                    gradients(
                        roots, leaves, seeds, create_graph=self.create_graph, allow_unused=True,
                        retain_graph=True,
                    )
                )
        if any(g is None for g in grads) and not self._warned and leaves:
            unused = [k for k, g in enumerate(grads) if g is None]
            if len(roots) == len([o for o in self.outs if o.requires_grad]):
                self._warned = True
                what = "the inputs" if len(unused) == len(leaves) else f"input leaves {unused}"
                _warn_independent(self.op, what)
        results = []
        for leaf, g in zip(leaves, grads):
            if g is None:
                results.append(_zeros_like(leaf, self.nested))
            elif self.nested:
                results.append(g)
            else:
                results.append(_own(g._data))
        return results

    def __call__(self, cotangent: Any) -> tuple:
        leaves_u, u_def = pytree.flatten(cotangent)
        if u_def != self.out_def:
            raise ValueError(f"{self.op}: the cotangent does not have the structure of f's output")
        us = []
        for out, u in zip(self.outs, leaves_u):
            if self.nested and _is_tracked(u):
                value = u
            else:
                if u is None:
                    raise TypeError(f"{self.op}: a cotangent is None; pass an array of the output's shape")
                value = np.asarray(u.data if isinstance(u, Tensor) else u)
                if value.dtype.kind not in "biuf":
                    raise TypeError(f"{self.op}: the cotangent has non-numeric dtype {value.dtype}")
            if tuple(value.shape) != out.shape:
                raise ValueError(
                    f"{self.op}: the cotangent has shape {tuple(value.shape)} but the output has "
                    f"shape {out.shape}"
                )
            us.append(value)
        grads = self.flat(us)
        per_arg = self.inputs.structure(grads)
        return per_arg if isinstance(per_arg, tuple) else (per_arg,)


def _record(op: str, f: Function, args: tuple, nums: tuple, single: bool, has_aux: bool):
    """Record ``f`` at fresh inputs: ``(outs, out_def, aux, pullback)``."""
    nested = _local.depth > 0
    inputs = _Inputs(op, args, nums, single, nested, reverse=True)
    with enable_grad(), state.transforming(), state.reversing():
        result = f(*inputs.args)
    result, aux = _split_aux(op, result, has_aux)
    flat, out_def = pytree.flatten(result)
    outs = [_as_output(op, o) for o in flat]
    return outs, out_def, aux, _Pullback(op, outs, out_def, inputs, nested)


def vjp(f: Function, *primals: Any, has_aux: bool = False) -> tuple:
    """``(f(x), pullback)`` where ``pullback(u)`` returns ``uᵀ J``, one pytree per primal.

    ``f`` is recorded once; each call of ``pullback`` is one reverse sweep through it. With
    ``has_aux=True``, ``f`` returns ``(output, aux)`` and the result is
    ``(f(x), pullback, aux)``.
    """
    outs, out_def, aux, pullback = _record("vjp", f, primals, tuple(range(len(primals))), False, has_aux)
    nested = pullback.nested
    value = pytree.unflatten(out_def, [_result(o, nested) for o in outs])
    if has_aux:
        return value, pullback, _aux_result(aux, nested)
    return value, pullback


def value_and_grad(f: Function, argnums: ArgNums = 0, *, has_aux: bool = False) -> Callable[..., Any]:
    """``(f(x), ∇f(x))`` for ``f`` with a single-element output (a cost): one reverse sweep.

    The gradient has the input's structure, shapes and dtypes; several ``argnums`` give a tuple.
    With ``has_aux=True``, ``f`` returns ``(cost, aux)`` and the result is
    ``((cost, aux), gradient)``, as in JAX.
    """

    @functools.wraps(f)
    def value_and_gradient(*args: Any) -> tuple[Any, Any]:
        nums, single = _argnums("grad", argnums, len(args))
        outs, out_def, aux, pullback = _record("grad", f, args, nums, single, has_aux)
        if out_def != pytree.LEAF or outs[0].size != 1:
            shape = outs[0].shape if out_def == pytree.LEAF else "a pytree"
            raise ValueError(
                f"grad: f must return a single-element output (a scalar cost); got {shape}. "
                "Use jacrev or vjp for a vector output"
            )
        out = outs[0]
        if not out.requires_grad and pullback.inputs.leaves:
            pullback._warned = True
            _warn_independent("grad", "the inputs")
        grads = pullback.inputs.structure(pullback.flat([np.ones(out.shape, dtype=out.dtype)]))
        value = _result(out, pullback.nested)
        if has_aux:
            return (value, _aux_result(aux, pullback.nested)), grads
        return value, grads

    return value_and_gradient


def grad(f: Function, argnums: ArgNums = 0, *, has_aux: bool = False) -> Callable[..., Any]:
    """``∇f(x)`` for ``f`` with a single-element output: ``grad(f)(x)`` has x's shape and dtype.

    With ``has_aux=True``, ``f`` returns ``(cost, aux)`` and the result is ``(gradient, aux)``.
    """
    value_and_gradient = value_and_grad(f, argnums, has_aux=has_aux)

    @functools.wraps(f)
    def gradient(*args: Any) -> Any:
        value, g = value_and_gradient(*args)
        return (g, value[1]) if has_aux else g

    return gradient


def jacrev(f: Function, argnums: ArgNums = 0) -> Callable[..., Any]:
    """The Jacobian of ``f`` by reverse mode: shape ``out.shape + x.shape``.

    ``f`` is recorded once; row ``i`` is ``e_iᵀ J``, one reverse sweep per output element.
    """

    @functools.wraps(f)
    def jacobian(*args: Any) -> Any:
        nums, single = _argnums("jacrev", argnums, len(args))
        outs, out_def, _, pullback = _record("jacrev", f, args, nums, single, False)
        nested = pullback.nested
        per_output = []
        for o in range(len(outs)):
            if nested:
                per_input = _nested_rows(pullback, outs, o)
            else:
                per_input = _rows(pullback, outs, o)
            per_output.append(pullback.inputs.structure(per_input))
        return pytree.unflatten(out_def, per_output)

    return jacobian


def _rows(pullback: _Pullback, outs: list, o: int) -> list:
    """Per input leaf, the Jacobian of output ``o`` (an array of shape ``out.shape + x.shape``),
    row ``r`` from the reverse sweep seeded with ``e_r``.

    The first sweep goes through the engine; the others replay it on a tape where that is
    possible (:mod:`autograd.sweep_tape`), the same sweeps with the same results.
    """
    out, leaves = outs[o], pullback.inputs.leaves
    blocks = [np.zeros((out.size, leaf.size), dtype=np.result_type(leaf.dtype, out.dtype)) for leaf in leaves]
    seed = np.zeros(out.size, dtype=out.dtype)
    tape = None
    for r in range(out.size):
        seed[r] = 1
        u = seed.reshape(out.shape)
        if tape is not None:
            for block, g in zip(blocks, tape.run(u)):
                if g is not None:
                    block[r] = g.reshape(-1)
        else:
            us: list = [None] * len(outs)
            us[o] = u
            grads = pullback.flat(us)
            for block, g in zip(blocks, grads):
                block[r] = g.reshape(-1)
            if r == 0 and sweep_tape.usable(out.size) and len(_local.levels) == 1:
                tape = sweep_tape.ReverseTape.build(out, leaves)
                if tape is not None:
                    tape = tape.checked(u, grads)
        seed[r] = 0
    return [block.reshape(out.shape + leaf.shape) for block, leaf in zip(blocks, leaves)]


def _nested_rows(pullback: _Pullback, outs: list, o: int) -> list:
    """As :func:`_rows` inside another transform: tensors recorded for it, every sweep through
    the engine."""
    out, leaves = outs[o], pullback.inputs.leaves
    rows: list = [[] for _ in leaves]
    for r in range(out.size):
        seed = np.zeros(out.size, dtype=out.dtype)
        seed[r] = 1
        us: list = [None] * len(outs)
        us[o] = seed.reshape(out.shape)
        for i, g in enumerate(pullback.flat(us)):
            rows[i].append(g)
    per_input = []
    for i, leaf in enumerate(leaves):
        if not rows[i]:
            dtype = np.result_type(leaf.dtype, out.dtype)
            per_input.append(_wrap(np.zeros(out.shape + leaf.shape, dtype=dtype)))
        else:
            per_input.append(_stack_rows(rows[i], out.shape + leaf.shape))
    return per_input


# ---------------------------------------------------------------------------------------------
# Second order
# ---------------------------------------------------------------------------------------------


def hessian(f: Function, argnums: ArgNums = 0) -> Callable[..., Any]:
    """The Hessian of ``f``, ``jacfwd(jacrev(f))``: shape ``out.shape + x.shape + x.shape``.

    Reverse mode for the gradient (one sweep for a scalar ``f``), forward mode over it (one
    sweep per input element), the cheapest pairing for a dense Hessian, as in JAX.
    """
    return jacfwd(jacrev(f, argnums), argnums)


HVP_MODES = ("fwd-over-rev", "rev-over-fwd", "rev-over-rev", "fwd-over-fwd")


def _vdot(a: Any, b: Any) -> Any:
    """``<a, b>`` summed over the leaves of two pytrees of the same structure."""
    total = None
    for x, y in zip(pytree.flatten(a)[0], pytree.flatten(b)[0]):
        term = (x * y).sum()
        total = term if total is None else total + term
    return total


def hvp(f: Function, x: Any, v: Any, mode: str = "fwd-over-rev") -> Any:
    """``H v``, the Hessian of a scalar ``f`` at ``x`` times ``v``, without forming ``H``.

    ``x`` and ``v`` are arrays, or pytrees of the same structure (a network's parameters);
    the result has their structure.

    * ``fwd-over-rev``: ``jvp(grad(f), x, v)``: one forward sweep over one reverse one.
    * ``rev-over-fwd``: ``grad(x ↦ J(x) v)``: one reverse sweep over one forward one.
    * ``rev-over-rev``: ``grad(x ↦ <∇f(x), v>)``: a reverse sweep over a recorded one.
    * ``fwd-over-fwd``: ``(H v)_i = jvp(x ↦ J(x) v, e_i)``: n forward sweeps, one per input
      element, each evaluating ``f`` once with nested dual numbers.

    The first three cost a small constant times a gradient, whatever ``n`` (Pearlmutter);
    the last grows with ``n``. All four agree to rounding.
    """
    if mode not in HVP_MODES:
        raise ValueError(f"hvp: mode must be one of {HVP_MODES}, got {mode!r}")
    x_leaves, x_def = pytree.flatten(x)
    v_leaves, v_def = pytree.flatten(v)
    if x_def != v_def:
        raise ValueError("hvp: v does not have the structure of x")
    for xl, vl in zip(x_leaves, v_leaves):
        x_shape = np.shape(xl.data if isinstance(xl, Tensor) else xl)
        v_shape = np.shape(vl.data if isinstance(vl, Tensor) else vl)
        if x_shape != v_shape:
            raise ValueError(f"hvp: v has shape {v_shape} but x has shape {x_shape}")

    def directional(y: Any) -> Any:  # y ↦ J(y) v, forward mode
        return jvp(f, (y,), (v,))[1]

    if mode == "fwd-over-rev":
        return jvp(grad(f), (x,), (v,))[1]
    if mode == "rev-over-fwd":
        return grad(directional)(x)
    if mode == "rev-over-rev":
        return grad(lambda y: _vdot(grad(f)(y), v))(x)
    # fwd-over-fwd: e_iᵀ H v, one outer forward sweep per element of every leaf.
    arrays = [np.asarray(xl.data if isinstance(xl, Tensor) else xl) for xl in x_leaves]
    arrays = [a if a.dtype.kind == "f" else a.astype(np.float64) for a in arrays]
    results = []
    for k, array in enumerate(arrays):
        out = np.zeros(array.size, dtype=array.dtype)
        for i in range(array.size):
            basis = [np.zeros(a.shape, dtype=a.dtype) for a in arrays]
            basis[k].reshape(-1)[i] = 1
            out[i] = np.asarray(jvp(directional, (x,), (pytree.unflatten(x_def, basis),))[1]).reshape(())
        results.append(out.reshape(array.shape))
    return pytree.unflatten(x_def, results)
