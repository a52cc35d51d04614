"""Reverse mode: walk the recorded graph from outputs back to the tensors being differentiated.

The graph is walked with an explicit stack (no recursion, so depth is limited only by memory)
and each node's VJPs are applied once, after every consumer of its output has contributed to
its gradient (Kahn's algorithm). Each gradient is checked against the shape of the tensor it
flows into, at the edge where it crosses.

Two entry points, two sweeps of the same walk:

* :func:`backward` (``y.backward()``) accumulates ``d y / d leaf`` into every leaf's ``.grad``
  (:func:`_backward_sweep`, the first-order hot path). Gradients are arrays; contributions are
  summed into arrays this pass made itself, in place, and a leaf adopts such an array as its
  ``.grad``: no copy of a gradient is made, and none is ever written into an array a caller or
  a rule could still hold.
* :func:`gradients` (``torch.autograd.grad``'s semantics, :func:`_sweep`) returns
  ``d outputs / d inputs`` for the given inputs, leaves or not, and writes no ``.grad``. Only
  the part of the graph between the outputs and those inputs is walked. With
  ``create_graph=True`` the VJP rules run on tensors instead of arrays (every rule of the
  primitive table is written with operations both have), so the gradients are themselves
  recorded graphs and can be differentiated again. This sweep serves several roots and selected
  inputs; ``backward`` has its own, which leaves those out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import state

_local = state.local
_thread = state.thread
_ndarray = np.ndarray


def walk(root, follow=None) -> list:
    """The tensors ``root`` depends on, ``root`` last, each after all of its parents.

    Iterative depth-first search (an explicit stack, so any depth works at the default
    recursion limit): a tensor is emitted once every parent below it has been. ``follow(parent)``
    decides whether a parent, and what it depends on, is part of the walk; by default every
    parent is, leaves and constants included (what a picture of the graph shows).
    """
    return _walk_from((root,), follow)


def _walk_from(roots: Sequence, follow=None) -> list:
    order = []
    seen = set()
    for root in roots:
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, iter(root._parents))]
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                if id(parent) not in seen and (follow is None or follow(parent)):
                    seen.add(id(parent))
                    stack.append((parent, iter(parent._parents)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def _recorded(t) -> bool:
    return t._prim is not None and t._requires_grad


def toposort(root) -> list:
    """The recorded (non-leaf) tensors that ``root`` depends on, each after all of its inputs.

    Only tensors that require grad are followed, since no gradient flows anywhere else.
    """
    return walk(root, _recorded) if _recorded(root) else []


#: The implicit seed 1 by (shape, dtype), read-only: a sweep never writes into a gradient it did
#: not make, so every backward of a scalar can start from the same array.
_ONES: dict = {}


def _one(shape: tuple, dtype: np.dtype) -> np.ndarray:
    key = (shape, dtype)
    one = _ONES.get(key)
    if one is None:
        one = _ONES[key] = np.ones(shape, dtype=dtype)
        one.flags.writeable = False
    return one


def _seed(op: str, root, grad) -> Any:
    """The gradient that starts the sweep at ``root``: ``grad`` checked, or 1 for a scalar."""
    if grad is None:
        if root._data.size != 1:
            raise ValueError(
                f"{op}: an implicit gradient needs a scalar output; this output has shape "
                f"{root._data.shape}, so pass a seed of that shape, "
                f"e.g. y.backward(np.ones({root._data.shape}))"
            )
        return _one(root._data.shape, root._data.dtype)
    if hasattr(grad, "_data") and hasattr(grad, "_prim"):
        seed = grad  # a tensor: kept as it is, it may itself be differentiated (create_graph)
        shape, dtype = grad._data.shape, grad._data.dtype
    else:
        try:
            seed = np.asarray(grad)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{op}: the seed is not a numeric array ({error})") from None
        shape, dtype = seed.shape, seed.dtype
    if shape != root._data.shape:
        raise ValueError(f"{op}: the seed has shape {shape} but the output has shape {root._data.shape}")
    if dtype.kind not in "biuf":
        raise TypeError(f"{op}: the seed has non-numeric dtype {dtype}")
    if seed.__class__ is _ndarray:
        return seed.astype(root._data.dtype, copy=False)
    return seed


def _edge_error(node, index, parent, g) -> Exception:
    return RuntimeError(
        f"{node._prim.name} backward: the gradient for input {index} has shape {tuple(g.shape)}, "
        f"but that input has shape {parent._data.shape}"
    )


def _consumed_error(node) -> Exception:
    return RuntimeError(
        f"backward: the graph through this {node._prim.name} node (output shape "
        f"{node._data.shape}) was already used by a backward pass; pass "
        "retain_graph=True to the first backward to run backward through it again"
    )


def _output_modified_error(node) -> Exception:
    return RuntimeError(
        f"{node._prim.name} backward: its output (shape {node._data.shape}) was modified "
        "after this node was recorded, so the gradient would be wrong; recompute the "
        "forward pass"
    )


def _input_modified_error(node, index, parent) -> Exception:
    return RuntimeError(
        f"{node._prim.name} backward: input {index} (shape {parent._data.shape}) was "
        "modified after this node was recorded, so its gradient would be wrong; "
        "recompute the forward pass after changing the data"
    )


def _accumulate_leaf(leaf, g, owned: bool = False) -> None:
    # .grad must be the leaf's own array. A rule may hand the same array to several inputs
    # (add's dx = dy = g) or return a read-only view (broadcasts): such a gradient is copied.
    # An ``owned`` one was made by this backward pass for this leaf alone, so it is adopted.
    # The engine's gradients have the leaf's shape and dtype (checked where they cross an edge),
    # so they are stored without the checks of a user's ``t.grad = ...``.
    if leaf._grad is None:
        leaf._grad = g if owned else np.array(g, dtype=leaf._data.dtype, copy=True)
    else:
        # Out of place: a caller may still hold the previous .grad array.
        leaf._grad = np.asarray(leaf._grad + g)


def _consumers(roots: Sequence, needed: set | None) -> dict:
    """How many times each recorded tensor under ``roots`` is used as an input, by id.

    A node's VJPs may run once this count of contributions to its gradient has arrived (Kahn's
    algorithm). One pass with a plain list as the stack: no iterator or tuple per node, so a
    200,000-node graph allocates nothing that the cycle collector has to scan. With ``needed``,
    only edges into the tensors of that set count.
    """
    counts = {}
    stack = []
    for root in roots:
        if id(root) not in counts:
            counts[id(root)] = 0
            stack.append(root)
    pop, push = stack.pop, stack.append
    while stack:
        for parent in pop()._parents:
            if parent._prim is not None and parent._requires_grad:
                key = id(parent)
                if needed is not None and key not in needed:
                    continue
                if key in counts:
                    counts[key] += 1
                else:
                    counts[key] = 1
                    push(parent)
    return counts


def _needed(roots: Sequence, inputs: Sequence) -> set:
    """Ids of the tensors on a path from ``roots`` down to one of ``inputs`` (inputs included):
    the only ones a gradient with respect to ``inputs`` has to flow through."""
    wanted = {id(t) for t in inputs}
    needed = set()
    for node in _walk_from(roots, lambda t: t._requires_grad):
        key = id(node)
        if key in wanted:
            needed.add(key)
            continue
        for parent in node._parents:
            if id(parent) in needed:
                needed.add(key)
                break
    return needed


def _is_operand(gi, args) -> bool:
    """Whether ``gi`` is one of the rule's own arguments (identity, not equality)."""
    for a in args:
        if gi is a:
            return True
    return False


def _check_retain_graph(op: str, retain_graph: Any) -> None:
    if not isinstance(retain_graph, bool):
        raise TypeError(f"{op}: retain_graph must be True or False, got {retain_graph!r}")


def _unconsume(roots: Sequence, token: object) -> None:
    """Undo the marks of a sweep that failed part-way, so that a retry can run."""
    for node in _walk_from(roots, lambda t: t._prim is not None):
        if node._consumed is token:
            node._consumed = False


def backward(root, grad=None, retain_graph: bool = False) -> None:
    """Accumulate ``d root / d leaf`` (seeded with ``grad``) into every leaf's ``.grad``.

    ``grad`` may be omitted only for a single-element output (the seed is then 1). A second
    backward through the same nodes raises unless the first passed ``retain_graph=True``: the
    gradients of a graph are accumulated once, never silently doubled. With ``retain_graph``,
    a second call adds the same gradients again, as in PyTorch.
    """
    _check_retain_graph("backward", retain_graph)
    if not root._requires_grad:
        raise RuntimeError(
            f"backward: this tensor of shape {root._data.shape} does not require grad and has "
            "no graph: create the leaves with requires_grad=True, outside no_grad()"
        )
    seed = _seed("backward", root, grad)
    if seed.__class__ is not _ndarray:
        seed = np.array(seed._data)  # .grad holds arrays; a tensor seed gives its values
    local = _thread.s
    if local.observed:
        for observer in local.observers:
            observer.on_backward(root)
        if local.recorder is not None:  # the first call of a compiled function records it
            local.recorder.backward(root, seed, retain_graph)
            return
    if root._prim is None:
        _accumulate_leaf(root, seed)
        return
    _backward_sweep(root, seed, retain_graph, local.observed)


def _backward_sweep(root, seed, retain_graph: bool, observed: bool) -> None:
    """``backward()``'s sweep: the first-order hot path, on arrays, into every leaf's ``.grad``.

    The walk of :func:`_sweep` without what only ``gradients()`` needs (several roots, selected
    inputs, rules on tensors): on a small network each check per node is a visible part of a
    step. Its errors, marks and rules of ownership are those of :func:`_sweep`.
    """
    counts = _consumers((root,), None)
    grads = {id(root): seed}
    owned = set()  # ids of the tensors whose entry in grads is this sweep's own array
    leaves = {}  # id -> leaf, in the order their first gradient arrived
    ready = [root]
    token = object()  # this sweep's mark on the nodes it consumes
    try:
        while ready:
            node = ready.pop()
            key = id(node)
            g = grads.pop(key)  # (its id stays in owned: every node lives until the sweep ends)
            if node._consumed:
                raise _consumed_error(node)
            if node._retains_grad:
                _accumulate_leaf(node, g)
            parents = node._parents
            ans = node._data
            clock = node._clock
            # The rules read the output and every input, tracked or not (exp's g * ans, mul's
            # g * y), so a replacement of any of them after recording would give a wrong gradient.
            if node._mutated_at > clock:
                raise _output_modified_error(node)
            # Written out for one to three inputs: a comprehension is a call of its own.
            n_parents = len(parents)
            if n_parents == 1:
                args = (parents[0]._data, *node._static)
            elif n_parents == 2:
                args = (parents[0]._data, parents[1]._data, *node._static)
            elif n_parents == 3:
                args = (parents[0]._data, parents[1]._data, parents[2]._data, *node._static)
            else:
                args = (*[p._data for p in parents], *node._static)
            vjps = node._prim.vjps
            for i, parent in enumerate(parents):
                if parent._mutated_at > clock:
                    raise _input_modified_error(node, i, parent)
                if not parent._requires_grad:
                    continue
                gi = vjps[i](g, ans, *args)
                if observed:
                    for observer in _local.observers:
                        observer.on_vjp(node, i, gi)
                data = parent._data
                if gi.shape != data.shape:
                    raise _edge_error(node, i, parent, gi)
                if gi.dtype != data.dtype:
                    gi = gi.astype(data.dtype)
                    fresh = True
                else:
                    # Whether gi is a new array nothing else refers to, safe to adopt or add
                    # into. Rules return a new array or a shared one (the primitives'
                    # contract): g itself (add), a view of it (base is set), the output or an
                    # operand; and an observer may keep what it was shown.
                    fresh = not (
                        observed
                        or gi is g
                        or gi is ans
                        or gi.base is not None
                        or not gi.flags.writeable
                    )
                    if fresh:  # nor one of the rule's own arguments (inline: a call per edge)
                        for arg in args:
                            if gi is arg:
                                fresh = False
                                break
                pkey = id(parent)
                previous = grads.get(pkey)
                if previous is None:
                    grads[pkey] = gi
                    if fresh:
                        owned.add(pkey)
                    if parent._prim is None:
                        leaves[pkey] = parent
                elif pkey in owned:
                    np.add(previous, gi, out=previous)
                else:
                    # np.asarray: NumPy gives a scalar, not an array, for the sum of two 0-d arrays.
                    grads[pkey] = np.asarray(previous + gi)
                    owned.add(pkey)
                if parent._prim is not None:
                    remaining = counts[pkey] - 1
                    counts[pkey] = remaining
                    if not remaining:
                        ready.append(parent)
            if not retain_graph:
                node._consumed = token
    except BaseException:
        if not retain_graph:
            _unconsume((root,), token)
        raise
    for pkey, leaf in leaves.items():
        g = grads[pkey]
        if leaf._grad is None and pkey in owned:
            leaf._grad = g  # this sweep's own array, adopted (_accumulate_leaf's first case)
        else:
            _accumulate_leaf(leaf, g, pkey in owned)


def gradients(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    *,
    create_graph: bool = False,
    allow_unused: bool = False,
    retain_graph: bool | None = None,
) -> tuple:
    """``d outputs / d input`` for each of ``inputs``, seeded with ``grad_outputs``.

    ``outputs`` and ``inputs`` are a tensor or a sequence of tensors; the inputs may be leaves
    or intermediate tensors. ``grad_outputs`` holds one seed per output (``None`` for 1, allowed
    for single-element outputs only); several outputs' contributions add up. Writes no
    ``.grad``. Returns one tensor per input, ``None`` for an input the outputs do not depend on
    when ``allow_unused`` (else that raises).

    With ``create_graph=True`` the rules run on tensors: the results are recorded (they depend
    on the inputs, and on tensor seeds) and can be differentiated again. ``retain_graph``
    defaults to ``create_graph``, as in PyTorch.
    """
    from .tensor import Tensor, _wrap

    if _thread.s.recorder is not None:
        raise state.ConcretizationError(
            "gradients() (and grad, vjp, jacrev, hessian...) inside a compiled function: only "
            "backward() is recorded; call the transform outside the compiled function"
        )
    outputs = _as_tensors("gradients", "outputs", outputs)
    inputs = _as_tensors("gradients", "inputs", inputs)
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif isinstance(grad_outputs, (Tensor, _ndarray)) or not isinstance(grad_outputs, (tuple, list)):
        grad_outputs = (grad_outputs,)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"gradients: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    if not isinstance(create_graph, bool):
        raise TypeError(f"gradients: create_graph must be True or False, got {create_graph!r}")
    if retain_graph is None:
        retain_graph = create_graph
    _check_retain_graph("gradients", retain_graph)
    for k, t in enumerate(inputs):
        if not t._requires_grad:
            raise RuntimeError(
                f"gradients: input {k} (shape {t._data.shape}) does not require grad, so no "
                "gradient can flow to it"
            )
    roots, seeds = [], []
    for out, seed in zip(outputs, grad_outputs):
        seed = _seed("gradients", out, seed)
        if out._requires_grad:
            roots.append(out)
            seeds.append(seed)
    # Rules run on tensors when the result must be differentiable again, or when an active
    # forward-mode level must see their tangents (forward over reverse).
    differentiable = create_graph or len(_local.levels) > 1
    if differentiable:
        seeds = [s if isinstance(s, Tensor) else _wrap(s) for s in seeds]
    else:
        seeds = [s if s.__class__ is _ndarray else np.array(s._data) for s in seeds]
    if _local.observed and roots:
        for observer in _local.observers:
            observer.on_backward(roots[0])
    results: dict = {}
    owned: set = set()
    if roots:
        results, owned, _ = _sweep(tuple(roots), tuple(seeds), inputs, differentiable, retain_graph)
    grads = []
    for k, t in enumerate(inputs):
        g = results.get(id(t))
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"gradients: input {k} (shape {t._data.shape}) was not used to compute the "
                    "outputs; pass allow_unused=True to get None for it"
                )
            grads.append(None)
        elif isinstance(g, Tensor):
            grads.append(g)
        else:
            # A gradient the sweep did not make may be a seed or a rule's shared array: copied.
            array = g if id(t) in owned else np.array(g, dtype=t._data.dtype)
            array.flags.writeable = False
            grads.append(_wrap(array))
    return tuple(grads)


def _as_tensors(op: str, what: str, values: Any) -> tuple:
    from .tensor import Tensor

    if isinstance(values, Tensor):
        return (values,)
    if not isinstance(values, (tuple, list)) or not values:
        raise TypeError(f"{op}: {what} must be a Tensor or a non-empty sequence of Tensors")
    for k, v in enumerate(values):
        if not isinstance(v, Tensor):
            raise TypeError(f"{op}: {what}[{k}] is a {type(v).__name__}, not a Tensor")
    return tuple(values)


def _sweep(roots: tuple, seeds: tuple, inputs, tensors: bool, retain_graph: bool):
    """One reverse sweep from ``roots`` (seeded with ``seeds``).

    ``inputs`` None: every leaf that requires grad receives its gradient (``backward``);
    otherwise only the paths to ``inputs`` are walked and their gradients returned. With
    ``tensors`` the rules run on tensors (recorded), else on arrays. Returns ``(grads, owned,
    leaves)``: the gradients by id (for ``inputs``, or for the leaves), the ids whose array was
    made by this sweep, and the leaves by id in the order their first gradient arrived.
    """
    owned = set()  # ids of the tensors whose entry in grads is this sweep's own array
    leaves = {}  # id -> leaf, in the order their first gradient arrived
    results: dict = {}
    needed = None if inputs is None else _needed(roots, inputs)
    wanted = None if inputs is None else {id(t) for t in inputs}
    counts = _consumers(roots, needed)
    grads: dict = {}
    ready = []
    for root, seed in zip(roots, seeds):
        key = id(root)
        if key in grads:
            grads[key] = grads[key] + seed
        else:
            grads[key] = seed
            if root._prim is None:
                leaves[key] = root
    queued = set()
    for root in roots:
        if counts[id(root)] == 0 and id(root) not in queued and root._prim is not None:
            queued.add(id(root))
            ready.append(root)
    observed = _thread.s.observed
    token = object()  # this sweep's mark on the nodes it consumes
    try:
        while ready:
            node = ready.pop()
            key = id(node)
            if wanted is not None and key in wanted:
                results[key] = grads[key]
            g = grads.pop(key)
            owned.discard(key)
            if node._consumed:
                raise _consumed_error(node)
            if node._retains_grad:
                _accumulate_leaf(node, g._data if tensors else g)
            parents = node._parents
            clock = node._clock
            # The rules read the output and every input, tracked or not (exp's g * ans, mul's
            # g * y), so a replacement of any of them after recording would give a wrong gradient.
            if node._mutated_at > clock:
                raise _output_modified_error(node)
            if tensors:
                ans = node
                args = (*parents, *node._static)
            else:
                ans = node._data
                if len(parents) == 1:
                    args = (parents[0]._data, *node._static)
                else:
                    args = (*[p._data for p in parents], *node._static)
            vjps = node._prim.vjps
            for i, parent in enumerate(parents):
                if parent._mutated_at > clock:
                    raise _input_modified_error(node, i, parent)
                if not parent._requires_grad:
                    continue
                pkey = id(parent)
                if needed is not None and pkey not in needed:
                    continue
                gi = vjps[i](g, ans, *args)
                if observed:
                    for observer in _local.observers:
                        observer.on_vjp(node, i, gi)
                data = parent._data
                if tensors:
                    gi = _checked_tensor(node, i, parent, gi)
                    fresh = False
                else:
                    if gi.shape != data.shape:
                        raise _edge_error(node, i, parent, gi)
                    if gi.dtype != data.dtype:
                        gi = gi.astype(data.dtype)
                        fresh = True
                    else:
                        # Whether gi is a new array nothing else refers to, safe to adopt or add
                        # into. Rules return a new array or a shared one (the primitives'
                        # contract): g itself (add), a view of it (base is set), the output or
                        # an operand; and an observer may keep what it was shown.
                        fresh = not (
                            observed
                            or gi is g
                            or gi is ans
                            or gi.base is not None
                            or not gi.flags.writeable
                            or _is_operand(gi, args)
                        )
                previous = grads.get(pkey)
                if previous is None:
                    grads[pkey] = gi
                    if fresh:
                        owned.add(pkey)
                    if parent._prim is None:
                        leaves[pkey] = parent
                        if wanted is not None and pkey in wanted:
                            results[pkey] = gi
                elif tensors:
                    grads[pkey] = previous + gi
                    if pkey in results:
                        results[pkey] = grads[pkey]
                elif pkey in owned:
                    np.add(previous, gi, out=previous)
                else:
                    # np.asarray: NumPy gives a scalar, not an array, for the sum of two 0-d arrays.
                    grads[pkey] = np.asarray(previous + gi)
                    owned.add(pkey)
                    if pkey in results:
                        results[pkey] = grads[pkey]
                if parent._prim is not None:
                    remaining = counts[pkey] - 1
                    counts[pkey] = remaining
                    if not remaining:
                        ready.append(parent)
            if not retain_graph:
                node._consumed = token
    except BaseException:
        if not retain_graph:
            _unconsume(roots, token)
        raise
    if wanted is not None:
        for key in wanted:
            if key not in results and key in grads:
                results[key] = grads[key]  # a root that is itself an input
        return results, owned & results.keys(), leaves
    return grads, owned, leaves


def _checked_tensor(node, i, parent, gi):
    """A rule's result on the tensor path: a tensor of the input's shape and dtype."""
    from . import primitives as P
    from .tensor import Tensor, apply

    if not isinstance(gi, Tensor):
        raise RuntimeError(
            f"{node._prim.name} backward: the VJP rule for input {i} returned a "
            f"{type(gi).__name__} when given tensors, so its result cannot be differentiated "
            "again; the rule must use only operations that arrays and tensors share"
        )
    if gi._data.shape != parent._data.shape:
        raise _edge_error(node, i, parent, gi._data)
    if gi._data.dtype != parent._data.dtype:
        gi = apply(P.ASTYPE, (gi,), (parent._data.dtype,))
    return gi
