"""``Optimizer``: parameter groups, per-parameter state and state dicts, as in PyTorch.

* ``optimizer.param_groups`` is a list of dicts, each holding ``"params"`` (a list of tensors)
  and the group's hyperparameters (the constructor's values unless the group sets its own), so a
  group can have its own ``lr`` or ``weight_decay``; a schedule changes ``group["lr"]``.
* ``optimizer.state[i]`` is the state of the ``i``-th parameter, counting through the groups in
  order. It is keyed by that position rather than by ``id(p)``, so ``copy.deepcopy`` and pickle,
  which copy the parameters along with the state, keep momentum buffers and Adam moments.
* ``state_dict()`` is ``{"state": {i: {...}}, "param_groups": [{..., "params": [i, ...]}]}`` with
  copies of the arrays; ``load_state_dict`` checks every array (shape, real dtype) and the group
  sizes before changing anything, and casts the arrays to the parameters' dtypes.

An update builds a new array and hands it over with ``p.assign(new, copy=False)``: the array is
fresh, so no copy is needed, and the parameter's mutation clock still tells older graphs that it
changed. Hyperparameters are read as Python floats, which NumPy treats as weakly typed: a float32
parameter, its gradient and every state buffer stay float32. Parameters whose ``grad`` is None
(unused in the last forward pass) are skipped, state and all.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from operator import is_, itemgetter
from typing import Any

import numpy as np

from autograd import Tensor, enable_grad
from autograd.compile import flat_base, recording, update_together

ParamGroup = dict[str, Any]


def check_number(
    where: str,
    name: str,
    value: Any,
    *,
    above: float | None = None,
    at_least: float | None = None,
    below: float | None = None,
) -> float:
    """``value`` as a float, or a clear error: it must be a finite real in the given bounds."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {value!r}")
    number = float(value)
    bounds = []
    if above is not None:
        bounds.append(f"> {above}")
    if at_least is not None:
        bounds.append(f">= {at_least}")
    if below is not None:
        bounds.append(f"< {below}")
    wrong = (
        not math.isfinite(number)
        or (above is not None and not number > above)
        or (at_least is not None and not number >= at_least)
        or (below is not None and not number < below)
    )
    if wrong:
        raise ValueError(f"{where}: {name} must be a finite number {' and '.join(bounds)}, got {value!r}")
    return number


def _replay_update(
    optimizer: Optimizer, p: Tensor, buffer: np.ndarray, g: np.ndarray, index: int, group: ParamGroup
) -> None:
    """One parameter's update in a compiled step: the eager update's arithmetic (the same
    numbers), written into the replay's buffer for ``p``, with the state read afresh."""
    np.copyto(buffer, optimizer._update(buffer, g, optimizer._state_at(index), group))


def _run_in_chunks(chunks: list) -> None:
    for kernels in chunks:
        for function, args in kernels:
            function(*args)


def _merged_state(states: list[dict], params: list[Tensor], dtype: np.dtype) -> dict | None:
    """The states of a group's parameters as one: arrays joined into flat arrays, other entries
    (equal in every state) as they are; None if the states differ in their entries."""
    keys = set(states[0])
    if any(set(state) != keys for state in states):
        return None
    merged: dict[str, Any] = {}
    for key in keys:
        values = [state[key] for state in states]
        if all(isinstance(v, np.ndarray) and v.shape == p.shape for v, p in zip(values, params)):
            base = flat_base(values)  # pieces of one flat array already (an earlier recording's)
            if base is not None and base.dtype == dtype:
                merged[key] = base
            else:
                merged[key] = np.concatenate([v.ravel() for v in values]).astype(dtype, copy=False)
        elif all(not isinstance(v, np.ndarray) and v == values[0] for v in values):
            merged[key] = values[0]
        else:
            return None
    return merged


def _split_state(merged: dict, states: list[dict], params: list[Tensor]) -> None:
    """Each parameter's state from the merged one: its piece (a view) of every flat array."""
    total = sum(p.size for p in params)
    for key, value in merged.items():
        start = 0
        for state, p in zip(states, params):
            if isinstance(value, np.ndarray) and value.shape == (total,):
                piece = value[start : start + p.size].reshape(p.shape)
                start += p.size
                old = state.get(key)
                same = isinstance(old, np.ndarray) and old.base is value and old.shape == piece.shape
                if not (same and old.ctypes.data == piece.ctypes.data):
                    state[key] = piece  # (the view it holds already, if it is this piece)
            else:
                state[key] = value


def _check_lr(owner: str, group_index: int, lr: Any) -> float:
    if lr.__class__ is float and 0.0 <= lr < math.inf:  # the common case, without the ABC check
        return lr
    if not (isinstance(lr, numbers.Real) and 0.0 <= lr < math.inf):
        raise ValueError(
            f"{owner}.step: param_groups[{group_index}]['lr'] must be a finite number >= 0, got {lr!r}"
        )
    return float(lr)


class StepRecording:
    """One ``step()`` recorded by a compiled function (``autograd.compile``), for optimizers
    that write their update as kernels (:meth:`Optimizer._record_update`).

    The kernels read the hyperparameters as 0-d arrays of the parameter's dtype, which NumPy
    treats exactly as the Python floats of the eager update. The learning rate is written into
    its arrays before every replay (schedules change it); any other change to the groups (a
    hyperparameter, a parameter added) makes the compiled function record anew. Scratch arrays
    are shared by parameters of the same shape and dtype: the updates run one after another.

    One parameter's kernels are elementwise (arrays shaped like the parameter, and 0-d
    scalars), so a large parameter's update runs chunk by chunk: every kernel on the first
    ``CHUNK_BYTES`` of each array, then on the next, with scratch arrays of one chunk that stay
    in the cache. Each element sees the same operations in the same order: the numbers do not
    change, only the memory traffic (``w - lr g`` reads ``g`` and ``w`` and writes ``w`` once,
    instead of also writing and reading a parameter-sized ``lr g``).
    """

    #: Elementwise updates of arrays larger than twice this run in chunks of this size: a few
    #: chunks of every array of the update fit in the cache of one core.
    CHUNK_BYTES = 256 * 1024

    def __init__(self, optimizer: Optimizer, recorder: Any) -> None:
        self.optimizer, self.recorder = optimizer, recorder
        # Per group: the dict, a copy of its parameter list, and its hyperparameters (a getter
        # and their values), compared before every replay.
        self.groups = []
        for group in optimizer.param_groups:
            keys = tuple(sorted(k for k in group if k != "params"))
            values = itemgetter(*keys)
            self.groups.append([group, list(group["params"]), keys, values, values(group)])
        self.learning_rates: list[tuple[np.ndarray, int]] = []  # (0-d array, group index)
        self._lr_arrays: dict = {}
        self._scratch: dict = {}
        self._pending: list = []  # the current parameter's kernels: (function, args, now, replay)
        #: The state dicts of the parameters whose update is being recorded (one, or a whole
        #: group's when the update runs over its flat arrays): what per-step bookkeeping (a step
        #: count) updates in every replay.
        self.states: list[dict] = []

    def kernel(self, function: Callable, *args: Any, now: bool = True, replay: bool = True) -> None:
        """``function(*args)``, an elementwise kernel of the current parameter's update, runs in
        the recording call (unless not ``now``) and in every replay (unless not ``replay``: a
        first step that differs from the later ones), in the order of these calls."""
        self._pending.append((function, args, now, replay))

    def end_parameter(self, like: np.ndarray) -> None:
        """Emit the kernels of one parameter's update, whose arrays are shaped like ``like``."""
        kernels, self._pending = self._pending, []
        replayed = [(function, args) for function, args, _, replay in kernels if replay]
        chunks = self._chunks(like, replayed) if like.nbytes > 2 * self.CHUNK_BYTES else None
        if chunks is None:
            for function, args, now, replay in kernels:
                if replay:
                    self.recorder.kernel(function, *args, now=now)
                elif now:
                    function(*args)
            return
        for function, args, now, _ in kernels:
            if now:
                function(*args)  # the recording call: on the whole arrays (the same numbers)
        self.recorder.kernel(_run_in_chunks, chunks, now=False)

    def _chunks(self, like: np.ndarray, kernels: list) -> list | None:
        """The kernels on consecutive chunks of their arrays: ``[[(function, args), ...], ...]``,
        or None if an array is not a contiguous buffer of the step's own (then no chunks)."""
        recorder, scratch = self.recorder, {id(a) for a in self._scratch.values()}
        for _, args in kernels:
            for a in args:
                if a.__class__ is not np.ndarray or a.ndim == 0:
                    continue
                if a.shape != like.shape or not a.flags.c_contiguous or not recorder.owns(a):
                    return None
        size = max(1, self.CHUNK_BYTES // like.itemsize)
        small = {}  # one chunk-sized array per scratch array
        chunks = []
        for start in range(0, like.size, size):
            stop = min(start + size, like.size)

            def piece(a, start=start, stop=stop):
                if a.__class__ is not np.ndarray or a.ndim == 0:
                    return a
                if id(a) in scratch:
                    buffer = small.get(id(a))
                    if buffer is None:
                        buffer = small[id(a)] = np.empty(size, dtype=a.dtype)
                    return buffer[: stop - start]
                return a.reshape(-1)[start:stop]

            chunks.append([(function, [piece(a) for a in args]) for function, args in kernels])
        return chunks

    def lr(self, group_index: int, dtype: np.dtype) -> np.ndarray:
        """The learning rate of a group as a 0-d array of ``dtype``, refreshed before every replay."""
        key = (group_index, dtype)
        array = self._lr_arrays.get(key)
        if array is None:
            lr = float(self.optimizer.param_groups[group_index]["lr"])
            array = self._lr_arrays[key] = np.array(lr, dtype=dtype)
            self.learning_rates.append((array, group_index))
        return array

    @staticmethod
    def constant(value: float, dtype: np.dtype) -> np.ndarray:
        """A hyperparameter other than the learning rate (checked before every replay)."""
        return np.array(value, dtype=dtype)

    def scratch(self, like: np.ndarray, k: int) -> np.ndarray:
        """The ``k``-th scratch array of ``like``'s shape and dtype."""
        key = (like.shape, like.dtype, k)
        array = self._scratch.get(key)
        if array is None:
            array = self._scratch[key] = np.empty_like(like)
        return array

    def __call__(self) -> bool:
        """Before a replay: False if the groups changed; the learning rates refreshed if they did."""
        groups = self.optimizer.param_groups
        if len(groups) != len(self.groups):
            return False
        for group, entry in zip(groups, self.groups):
            recorded, params, keys, values, hyper = entry
            now = group["params"]
            # (map: no tuple is built, and an idle tuple would stay in Python's free lists)
            if group is not recorded or len(now) != len(params) or False in map(is_, now, params):
                return False
            try:
                current = values(group)
                same = current == hyper
            except (KeyError, ValueError):  # a key removed; an array that replaced a value
                return False
            if not same:
                # Only the learning rate may change (schedules): anything else records anew.
                changed = [k for k, a, b in zip(keys, current, hyper) if a != b]
                if changed != ["lr"]:
                    return False
                entry[4] = current
                self._refresh_learning_rates()
        return True

    def _refresh_learning_rates(self) -> None:
        groups = self.optimizer.param_groups
        owner = type(self.optimizer).__name__
        for array, group_index in self.learning_rates:
            array[()] = _check_lr(owner, group_index, groups[group_index]["lr"])



def check_flag(where: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where}: {name} must be True or False, got {value!r}")
    return bool(value)


def _describe(p: Tensor) -> str:
    label = f"{p.name!r}, " if getattr(p, "name", None) else ""
    return f"{label}shape {tuple(p.shape)}"


class Optimizer:
    """Holds the parameter groups; ``step()`` updates the parameters, ``zero_grad()`` forgets grads.

    Subclasses give ``defaults`` (every hyperparameter), validate a group in ``_check_group`` and
    update one parameter in ``_update(p, g, state, group)``; ``state_keys`` lists the entries a
    parameter's state may hold (``step`` is a count, the others arrays shaped like the parameter).
    """

    state_keys: frozenset[str] = frozenset()

    def __init__(self, params: Iterable[Tensor] | Iterable[ParamGroup], defaults: Mapping[str, Any]) -> None:
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of Tensors or of dicts, got a single Tensor")
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: params must be ordered (a list), got a set")
        params = list(params)
        if not params:
            raise ValueError(f"{name}: got an empty parameter list (did you forget model.parameters()?)")
        self.defaults = dict(defaults)
        self.param_groups: list[ParamGroup] = []
        self.state: dict[int, dict[str, Any]] = {}
        groups = params if isinstance(params[0], Mapping) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    # -- parameter groups -----------------------------------------------------------------

    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        """Add a group ``{"params": [...], "lr": ..., ...}``; unset hyperparameters take the defaults."""
        index = len(self.param_groups)
        where = f"{type(self).__name__} param_groups[{index}]"
        if not isinstance(param_group, Mapping) or "params" not in param_group:
            raise TypeError(
                f"{where}: a parameter group is a dict with a 'params' entry, got {param_group!r}"
            )
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{where}: 'params' must be ordered (a list), got a set")
        group["params"] = list(params)
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_params(where, index, group["params"])
        self._check_group(where, group)
        self.param_groups.append(group)
        update_together(group["params"])  # a compiled step lays them out in one flat buffer

    def _check_params(self, where: str, group_index: int, params: list[Any]) -> None:
        positions: dict[int, str] = {}
        for k, group in enumerate(self.param_groups):
            for j, p in enumerate(group["params"]):
                positions[id(p)] = f"param_groups[{k}]['params'][{j}]"
        for j, p in enumerate(params):
            if not isinstance(p, Tensor) or not p.requires_grad or not p.is_leaf:
                raise TypeError(
                    f"{where}: params[{j}] must be a leaf Tensor with requires_grad=True, "
                    f"got {type(p).__name__}" + (f" ({_describe(p)})" if isinstance(p, Tensor) else "")
                )
            if p.dtype.kind != "f":
                raise TypeError(
                    f"{where}: params[{j}] ({_describe(p)}) has dtype {p.dtype}; it must be floating-point"
                )
            here = f"param_groups[{group_index}]['params'][{j}]"
            if id(p) in positions:
                raise ValueError(
                    f"{where}: params[{j}] ({_describe(p)}) is already optimized as {positions[id(p)]}; "
                    "a parameter listed twice would be stepped twice"
                )
            positions[id(p)] = here

    def _check_group(self, where: str, group: ParamGroup) -> None:
        """Validate (and normalise) a group's hyperparameters; subclasses extend it."""
        group["lr"] = check_number(where, "lr", group["lr"], above=0.0)
        group["weight_decay"] = check_number(where, "weight_decay", group["weight_decay"], at_least=0.0)

    # -- stepping -------------------------------------------------------------------------

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to None."""
        recorder = recording()
        if recorder is not None:  # a compiled step (autograd.compile) records the clearing
            recorder.cleared(self._flat_params())
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns ``closure()`` if one is given.

        The learning rate is checked again here, since schedules and users change it: it must be
        finite and ``>= 0`` (a schedule such as cosine annealing may reach 0).
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        recorder = recording()
        if recorder is not None:
            recorder.depends_on(self)
            step = StepRecording(self, recorder)
            own_kernels = type(self)._record_update is not Optimizer._record_update
            arrays_before = self._state_arrays() if own_kernels else None
        else:
            self.compile_version += 1
        index = 0
        for group_index, group in enumerate(self.param_groups):
            _check_lr(type(self).__name__, group_index, group["lr"])
            if recorder is not None and self._record_group(step, group_index, index):
                index += len(group["params"])
                continue
            for p in group["params"]:
                g = p.grad
                if g is not None:
                    if g.shape != p.shape:
                        raise ValueError(
                            f"{type(self).__name__}.step: the gradient of the parameter {_describe(p)} has "
                            f"shape {tuple(g.shape)}"
                        )
                    if recorder is not None:
                        # A compiled step: the update becomes a kernel of the replay, writing
                        # into the buffer that holds p's values there (autograd.compile).
                        g = recorder.gradient(p)
                        w = recorder.parameter(p)
                        step.states = [self._state_at(index)]
                        if self._record_update(step, w, g, self._state_at(index), group_index):
                            step.end_parameter(w)
                        else:
                            recorder.kernel(_replay_update, self, p, w, g, index, group)
                    else:
                        p.assign(self._update(p.data, g, self._state_at(index), group), copy=False)
                index += 1
        if recorder is not None:
            recorder.before_replay(step)
            if own_kernels and self._state_arrays() != arrays_before:
                # The recording's kernels update new state arrays: a recording made before
                # (another batch size) updates the old ones and must record anew.
                self.compile_version += 1
        return loss

    def _state_arrays(self) -> dict:
        """Which array holds each state entry (by identity)."""
        return {
            (index, key): id(value)
            for index, entry in self.state.items()
            for key, value in entry.items()
            if isinstance(value, np.ndarray)
        }

    def _record_group(self, step: StepRecording, group_index: int, index: int) -> bool:
        """A compiled step's update of a whole group at once, with :meth:`_record_update` on
        flat arrays: the parameters' values and their gradients as the recording laid them out
        (``Recorder.flat``), and the state as flat arrays whose pieces become each parameter's
        state. False (nothing recorded) when they are not laid out so, or the optimizer has no
        kernels of its own: then each parameter is updated on its own."""
        if type(self)._record_update is Optimizer._record_update:
            return False
        params = self.param_groups[group_index]["params"]
        flat = step.recorder.flat(params)
        if flat is None:
            return False
        values, gradients = flat
        states = [self._state_at(index + k) for k in range(len(params))]
        merged = _merged_state(states, params, values.dtype)
        step.states = states
        if merged is None or not self._record_update(step, values, gradients, merged, group_index):
            return False
        for p in params:
            step.recorder.parameter(p)  # (the values' pieces: updated in place)
        step.end_parameter(values)
        _split_state(merged, states, params)
        return True

    def _state_at(self, index: int) -> dict[str, Any]:
        state = self.state.get(index)
        if state is None:
            state = self.state[index] = {}
        return state

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, Any], group: ParamGroup) -> np.ndarray:
        """The new values (a new array) of a parameter whose values are ``w`` and gradient
        ``g``; updates the parameter's ``state``."""
        raise NotImplementedError

    def _record_update(
        self, step: StepRecording, w: np.ndarray, g: np.ndarray, state: dict[str, Any], group_index: int
    ) -> bool:
        """A compiled step's update of one parameter as kernels (``step.kernel``), in place in
        ``w``, with the arithmetic of :meth:`_update` (the same numbers); state arrays it keeps
        are updated in place. False (the default): the replay calls :meth:`_update` instead."""
        return False

    #: Bumped whenever the state is replaced outside a compiled step (an eager step, a loaded
    #: state dict), so that a compiled step recorded against the old state records anew.
    compile_version: int = 0

    # -- state dicts ----------------------------------------------------------------------

    def _flat_params(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {i: {...}}, "param_groups": [{..., "params": [i, ...]}]}``, arrays copied."""
        groups, start = [], 0
        for group in self.param_groups:
            hyper = {key: value for key, value in group.items() if key != "params"}
            groups.append({**hyper, "params": list(range(start, start + len(group["params"])))})
            start += len(group["params"])
        state = {
            index: {
                key: value.copy() if isinstance(value, np.ndarray) else value for key, value in entry.items()
            }
            for index, entry in self.state.items()
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the state and hyperparameters saved by :meth:`state_dict`.

        The saved groups must match this optimizer's in number and sizes; saved parameter ``k``
        of a group is this optimizer's parameter ``k`` of the same group. Everything is checked
        before anything changes.
        """
        owner = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"state", "param_groups"}:
            keys = sorted(state_dict) if isinstance(state_dict, Mapping) else type(state_dict).__name__
            raise ValueError(f"{owner}: expected a dict with keys 'state' and 'param_groups', got {keys}")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{owner}: the state has {len(saved_groups)} parameter groups, "
                f"this optimizer {len(self.param_groups)}"
            )
        position: dict[Any, Tensor] = {}
        new_groups = []
        for k, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{owner}: parameter group {k} has {len(saved['params'])} parameters in the state, "
                    f"{len(group['params'])} in this optimizer"
                )
            missing = sorted(set(self.defaults) - set(saved))
            if missing:
                raise ValueError(
                    f"{owner}: parameter group {k} lacks the hyperparameters {missing} of "
                    f"{type(self).__name__} (is it the state of another optimizer?)"
                )
            position.update(zip(saved["params"], group["params"]))
            new_group = {
                **{key: value for key, value in saved.items() if key != "params"},
                "params": group["params"],
            }
            self._check_group(f"{owner}: param_groups[{k}]", new_group)
            new_groups.append(new_group)
        index_of = {id(p): i for i, p in enumerate(self._flat_params())}
        new_state: dict[int, dict[str, Any]] = {}
        for key, entry in dict(state_dict["state"]).items():
            if key not in position:
                raise ValueError(
                    f"{owner}: the state has an entry for parameter {key!r}, which no group lists"
                )
            p = position[key]
            new_state[index_of[id(p)]] = self._load_entry(f"{owner}: state[{key!r}]", p, entry)
        self.param_groups[:] = new_groups
        self.state = new_state
        self.compile_version += 1  # a compiled step records anew against this state

    def _load_entry(self, where: str, p: Tensor, entry: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(entry) - self.state_keys)
        if unknown:
            raise ValueError(
                f"{where}: unknown entries {unknown} for {type(self).__name__} "
                f"(expected some of {sorted(self.state_keys)})"
            )
        loaded: dict[str, Any] = {}
        for key, value in entry.items():
            if key == "step":
                count = np.asarray(value)
                if count.shape != () or count.dtype.kind not in "iuf" or count != int(count) or count < 0:
                    raise ValueError(f"{where}['step'] must be a count >= 0, got {value!r}")
                loaded[key] = int(count)
                continue
            array = np.asarray(value)
            if array.dtype.kind not in "iuf":
                raise TypeError(
                    f"{where}[{key!r}] has dtype {array.dtype}; only real numbers can be loaded "
                    f"(the parameter is {p.dtype})"
                )
            if array.shape != p.shape:
                raise ValueError(
                    f"{where}[{key!r}] has shape {tuple(array.shape)} but its parameter {_describe(p)}"
                )
            loaded[key] = array.astype(p.dtype)
        return loaded

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for k, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {k}")
            lines.extend(f"    {key}: {group[key]}" for key in sorted(group) if key != "params")
        return "\n".join(lines) + "\n)"
