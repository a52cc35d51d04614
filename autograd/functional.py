"""The functional API: derivatives of a function, in the style of JAX.

``f`` takes tensors and returns a tensor, written once with engine operations. Both modes reuse
the primitive table's rules through the choke point :func:`autograd.tensor.apply`:

* forward mode (:func:`jvp`, :func:`jacfwd`) seeds the inputs with tangents and evaluates ``f``
  once per seed, under ``no_grad``: dual numbers, no tape. One sweep gives ``J v``.
* reverse mode (:func:`vjp`, :func:`grad`, :func:`jacrev`) records ``f`` once and runs
  ``backward`` once per cotangent. One sweep gives ``uᵀ J``.

For ``f: Rⁿ → Rᵐ`` the full Jacobian takes ``n`` forward sweeps or ``m`` reverse sweeps
(docs/maths.md, "Forward vs reverse accumulation"); ``jacfwd(f, sparse=True)`` takes one forward sweep
per colour of the Jacobian's columns (:mod:`autograd.sparsity`).

Primals may be arrays, lists, numbers or tensors (their values are used; the caller's tensors are
never changed); results are ndarrays with the dtype and shape of what they differentiate.
Arguments not selected by ``argnums`` are passed to ``f`` unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import sparsity
from .backward import toposort
from .counters import announce_forward_sweep
from .state import enable_grad, no_grad
from .tensor import Tensor

Function = Callable[..., Tensor]
ArgNums = int | Sequence[int]


# ---------------------------------------------------------------------------------------------
# Inputs and outputs
# ---------------------------------------------------------------------------------------------


def _primal(op: str, value: Any, index: int, requires_grad: bool = False) -> Tensor:
    """A fresh leaf holding ``value``; only floating-point values can be differentiated."""
    leaf = Tensor(value.data if isinstance(value, Tensor) else value)
    if leaf.dtype.kind != "f":
        raise TypeError(
            f"{op}: input {index} has dtype {leaf.dtype}; only floating-point inputs can be "
            "differentiated (pass floats, e.g. x.astype(np.float64))"
        )
    if requires_grad:
        leaf.requires_grad = True
    return leaf


def _argnums(op: str, argnums: ArgNums, n_args: int) -> tuple[tuple[int, ...], bool]:
    """``argnums`` as a tuple of indices, and whether a single one was asked for."""
    single = isinstance(argnums, (int, np.integer))
    nums = (int(argnums),) if single else tuple(int(k) for k in argnums)
    for k in nums:
        if not -n_args <= k < n_args:
            raise ValueError(f"{op}: argnums {argnums} is out of range for {n_args} positional arguments")
    nums = tuple(k % n_args for k in nums)
    if len(set(nums)) != len(nums):
        raise ValueError(f"{op}: argnums {argnums} repeats an argument")
    return nums, single


def _with_leaves(op: str, args: tuple, nums: tuple, requires_grad: bool) -> tuple[list, list[Tensor]]:
    args = list(args)
    leaves = []
    for k in nums:
        args[k] = _primal(op, args[k], k, requires_grad)
        leaves.append(args[k])
    return args, leaves


def _as_output(out: Any) -> Tensor:
    return out if isinstance(out, Tensor) else Tensor(out)


def _sweep(f: Function, args: list) -> Tensor:
    """One forward sweep: ``f`` on tangent-carrying inputs. Callers hold ``no_grad`` around their
    sweeps, so nothing is recorded even for parameters that require grad."""
    announce_forward_sweep()
    return _as_output(f(*args))


# ---------------------------------------------------------------------------------------------
# Forward mode
# ---------------------------------------------------------------------------------------------


def jvp(f: Function, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """``(f(x), J ẋ)`` from one forward sweep: ``primals`` and ``tangents`` are tuples, one
    tangent of each primal's shape per primal."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples, one entry per argument of f")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    args = []
    for k, (value, tangent) in enumerate(zip(primals, tangents)):
        leaf = _primal("jvp", value, k)
        dot = np.asarray(tangent.data if isinstance(tangent, Tensor) else tangent)
        if dot.shape != leaf.shape:
            raise ValueError(
                f"jvp: tangent {k} has shape {dot.shape} but its primal has shape {leaf.shape}"
            )
        if dot.dtype.kind not in "biuf":
            raise TypeError(f"jvp: tangent {k} has non-numeric dtype {dot.dtype}")
        leaf._tangent = dot.astype(leaf.dtype)  # a copy: the caller's array is never aliased
        args.append(leaf)
    with no_grad():
        out = _sweep(f, args)
    value = np.array(out.data)
    tangent = out.tangent
    return value, np.zeros_like(value) if tangent is None else np.array(tangent, dtype=value.dtype)


def jacfwd(f: Function, argnums: ArgNums = 0, *, sparse: bool = False) -> Callable[..., Any]:
    """The Jacobian of ``f`` by forward mode: ``jacfwd(f)(x)`` has shape ``out.shape + x.shape``.

    Column ``j`` is ``J e_j``, one forward sweep per input element. With ``sparse=True`` the
    Jacobian's pattern is found first and columns that touch disjoint rows share a sweep
    seeded with the sum of their basis vectors: one sweep per colour. For several ``argnums``
    the result is a tuple, one Jacobian per selected argument.
    """

    @functools.wraps(f)
    def jacobian(*args: Any) -> Any:
        nums, single = _argnums("jacfwd", argnums, len(args))
        args, leaves = _with_leaves("jacfwd", args, nums, requires_grad=False)
        if sparse:
            blocks, out = _sparse_columns(f, args, leaves)
        else:
            blocks, out = _dense_columns(f, args, leaves)
        jacobians = tuple(_assemble(block, out, leaf) for block, leaf in zip(blocks, leaves))
        return jacobians[0] if single else jacobians

    return jacobian


def _dense_columns(f: Function, args: list, leaves: list[Tensor]) -> tuple[list[np.ndarray], Tensor]:
    """For each input, its ``(x.size, out.size)`` block of ``Jᵀ``: row ``j`` from the sweep
    seeded with ``e_j``."""
    out = None
    blocks = []
    for leaf in leaves:
        seed = np.zeros(leaf.size, dtype=leaf.dtype)
        leaf._tangent = seed.reshape(leaf.shape)
        block = None
        try:
            with no_grad():
                for j in range(leaf.size):
                    seed[j] = 1
                    out = _sweep(f, args)
                    if block is None:
                        block = np.zeros((leaf.size, out.size), dtype=np.result_type(leaf.dtype, out.dtype))
                    tangent = out.tangent
                    if tangent is not None:
                        # Copy before the seed changes: the output tangent may be a view of it.
                        block[j] = tangent.reshape(-1)
                    seed[j] = 0
        finally:
            leaf._tangent = None
        blocks.append(block)
    if out is None or any(block is None for block in blocks):
        out = _primal_output(f, args)
        blocks = [
            np.zeros((leaf.size, out.size), dtype=np.result_type(leaf.dtype, out.dtype))
            if block is None else block
            for leaf, block in zip(leaves, blocks)
        ]
    return blocks, out


def _primal_output(f: Function, args: list) -> Tensor:
    """``f`` evaluated without tangents (only to learn the output's shape and dtype)."""
    with no_grad():
        return _as_output(f(*args))


def _sparse_columns(f: Function, args: list, leaves: list[Tensor]) -> tuple[list[np.ndarray], Tensor]:
    """As :func:`_dense_columns`, with one sweep per colour of the Jacobian's columns.

    The sweep seeded with ``v = Σ_{j of colour c} e_j`` gives ``J v``, whose row ``i`` is
    ``J[i, j]`` for the one column ``j`` of colour ``c`` that touches row ``i`` (if any): the
    possible nonzeros of the pattern, grouped by their column's colour, say where each goes.
    """
    pattern = _pattern(f, args, leaves)  # (out.size, n)
    colours = sparsity.colour_columns(pattern)
    n_colours = int(colours.max()) + 1 if colours.size else 0
    rows, columns = np.nonzero(pattern)
    by_colour = np.argsort(colours[columns], kind="stable")
    rows, columns = rows[by_colour], columns[by_colour]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(colours[columns], minlength=n_colours))])
    offsets = np.cumsum([0] + [leaf.size for leaf in leaves])
    seeds = [np.zeros(leaf.size, dtype=leaf.dtype) for leaf in leaves]
    out = jacobian = None
    try:
        with no_grad():
            for group in sparsity.colour_groups(colours):
                colour = colours[group[0]]
                # Seed every input with the sum of the basis vectors of this colour's columns.
                for leaf, seed, start, stop in zip(leaves, seeds, offsets[:-1], offsets[1:]):
                    mine = group[(group >= start) & (group < stop)] - start
                    seed[:] = 0
                    seed[mine] = 1
                    leaf._tangent = seed.reshape(leaf.shape) if mine.size else None
                out = _sweep(f, args)
                if jacobian is None:
                    dtype = np.result_type(*(leaf.dtype for leaf in leaves), out.dtype)
                    jacobian = np.zeros((out.size, pattern.shape[1]), dtype=dtype)
                tangent = out.tangent
                if tangent is not None:
                    i, j = rows[bounds[colour]:bounds[colour + 1]], columns[bounds[colour]:bounds[colour + 1]]
                    jacobian[i, j] = tangent.reshape(-1)[i]
    finally:
        for leaf in leaves:
            leaf._tangent = None
    if out is None:
        out = _primal_output(f, args)
        dtype = np.result_type(*(leaf.dtype for leaf in leaves), out.dtype)
        jacobian = np.zeros((out.size, pattern.shape[1]), dtype=dtype)
    # Blocks of Jᵀ, as _dense_columns gives them (views, no copy).
    blocks = [jacobian[:, start:stop].T for start, stop in zip(offsets[:-1], offsets[1:])]
    return blocks, out


def _pattern(f: Function, args: list, leaves: list[Tensor]) -> np.ndarray:
    """The Jacobian's pattern, from one recorded evaluation of ``f`` (not a sweep)."""
    for leaf in leaves:
        leaf.requires_grad = True
    try:
        with enable_grad():
            out = _as_output(f(*args))
        return sparsity.graph_pattern(out, leaves)
    finally:
        for leaf in leaves:
            leaf.requires_grad = False


def _assemble(block: np.ndarray, out: Tensor, leaf: Tensor) -> np.ndarray:
    """``Jᵀ`` rows back to a Jacobian of shape ``out.shape + x.shape``.

    A transposed view, not a copy: copying a large Jacobian would cost more than its sweeps.
    """
    return block.T.reshape(out.shape + leaf.shape)


# ---------------------------------------------------------------------------------------------
# Reverse mode
# ---------------------------------------------------------------------------------------------


class _Pullback:
    """``u ↦ uᵀ J``: one reverse sweep through the graph recorded by :func:`vjp`.

    Backward accumulates into every leaf's ``.grad``; the pullback hands back the gradients of
    its own inputs and puts every other tensor's ``.grad`` back as it was, so differentiating a
    function that closes over parameters leaves their gradients alone.
    """

    def __init__(self, out: Tensor, leaves: list[Tensor]):
        self._out = out
        self._leaves = leaves
        mine = {id(leaf) for leaf in leaves}
        others = {}
        for node in toposort(out):
            others[id(node)] = node
            for parent in node.parents:
                if parent.requires_grad and id(parent) not in mine:
                    others[id(parent)] = parent
        others.pop(id(out), None)
        self._others = list(others.values())

    def __call__(self, cotangent: Any) -> tuple[np.ndarray, ...]:
        out = self._out
        u = np.asarray(cotangent.data if isinstance(cotangent, Tensor) else cotangent)
        if u.shape != out.shape:
            raise ValueError(f"vjp: the cotangent has shape {u.shape} but the output has shape {out.shape}")
        for leaf in self._leaves:
            leaf.grad = None
        if out.requires_grad:
            saved = [(t, t.grad) for t in self._others]
            out_grad = out.grad
            try:
                out.backward(u, retain_graph=True)
            finally:
                for t, g in saved:
                    t.grad = g
                if all(out is not leaf for leaf in self._leaves):
                    out.grad = out_grad
        return tuple(
            np.zeros(leaf.shape, dtype=leaf.dtype) if leaf.grad is None else leaf.grad
            for leaf in self._leaves
        )


def _record(op: str, f: Function, args: tuple, nums: tuple) -> tuple[Tensor, _Pullback]:
    args, leaves = _with_leaves(op, args, nums, requires_grad=True)
    with enable_grad():
        out = _as_output(f(*args))
    return out, _Pullback(out, leaves)


def vjp(f: Function, *primals: Any) -> tuple[np.ndarray, Callable[[Any], tuple[np.ndarray, ...]]]:
    """``(f(x), pullback)`` where ``pullback(u)`` returns ``uᵀ J``, one array per primal.

    ``f`` is recorded once; each call of ``pullback`` is one reverse sweep through it.
    """
    out, pullback = _record("vjp", f, primals, tuple(range(len(primals))))
    return np.array(out.data), pullback


def value_and_grad(f: Function, argnums: ArgNums = 0) -> Callable[..., tuple[np.ndarray, Any]]:
    """``(f(x), ∇f(x))`` for ``f`` with a single-element output (a cost): one reverse sweep.

    The gradient has the input's shape and dtype; several ``argnums`` give a tuple of them.
    """

    @functools.wraps(f)
    def value_and_gradient(*args: Any) -> tuple[np.ndarray, Any]:
        nums, single = _argnums("grad", argnums, len(args))
        out, pullback = _record("grad", f, args, nums)
        if out.size != 1:
            raise ValueError(
                f"grad: f must return a single-element output (a scalar cost); got shape {out.shape}. "
                "Use jacrev or vjp for a vector output"
            )
        grads = pullback(np.ones(out.shape, dtype=out.dtype))
        return np.array(out.data), grads[0] if single else grads

    return value_and_gradient


def grad(f: Function, argnums: ArgNums = 0) -> Callable[..., Any]:
    """``∇f(x)`` for ``f`` with a single-element output: ``grad(f)(x)`` has x's shape and dtype."""
    value_and_gradient = value_and_grad(f, argnums)

    @functools.wraps(f)
    def gradient(*args: Any) -> Any:
        return value_and_gradient(*args)[1]

    return gradient


def jacrev(f: Function, argnums: ArgNums = 0) -> Callable[..., Any]:
    """The Jacobian of ``f`` by reverse mode: shape ``out.shape + x.shape``.

    ``f`` is recorded once; row ``i`` is ``e_iᵀ J``, one reverse sweep per output element.
    """

    @functools.wraps(f)
    def jacobian(*args: Any) -> Any:
        nums, single = _argnums("jacrev", argnums, len(args))
        out, pullback = _record("jacrev", f, args, nums)
        leaves = pullback._leaves
        rows = [
            np.zeros((out.size, leaf.size), dtype=np.result_type(leaf.dtype, out.dtype)) for leaf in leaves
        ]
        seed = np.zeros(out.size, dtype=out.dtype)
        for i in range(out.size):
            seed[i] = 1
            for block, g in zip(rows, pullback(seed.reshape(out.shape))):
                block[i] = g.reshape(-1)
            seed[i] = 0
        jacobians = tuple(block.reshape(out.shape + leaf.shape) for block, leaf in zip(rows, leaves))
        return jacobians[0] if single else jacobians

    return jacobian
