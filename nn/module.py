"""``Module``: a piece of a network that owns parameters and child modules.

Parameters and children are registered by assignment (``self.W = Tensor(...,
requires_grad=True)``, ``self.layers = Sequential(...)``), in assignment order. Each child is
known to its parent by a local name (the attribute name, or its index in a ``Sequential``):

* calling a child runs its forward inside ``autograd.name_scope(<local name>)``; scopes nest,
  so every node recorded is tagged with the full module path (``t.scope == "layers.0"``) and the
  graph pictures can draw one cluster per layer. A container that is never called itself
  (``ModuleList``, ``ModuleDict``) is transparent: its children take the scope
  ``<container name>.<key>``, so ``self.layers[2](x)`` records under ``layers.2``;
* attaching a child renames every parameter of the whole network by its path from the outermost
  module (``W`` becomes ``0.W``, then ``layers.0.W`` once the ``Sequential`` is itself attached),
  so the parameter names (``Tensor.name``) are always the paths that ``state_dict`` uses.

A plain Python list, tuple or dict of modules or parameters assigned as an attribute would hide
them from ``parameters()`` (and so from the optimizer): that is an error pointing at
``ModuleList`` / ``ModuleDict``.

``module.training`` (True after construction) is switched for the whole tree by
``module.train()`` and ``module.eval()``; layers such as ``Dropout`` read it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from autograd import Tensor, name_scope
from autograd.compile import recording

# Attributes of every module that hold its registered parameters and children themselves.
_REGISTRIES = ("_parameters", "_modules")


def _is_parameter(value: Any) -> bool:
    return isinstance(value, Tensor) and value.requires_grad and value.is_leaf


def _hidden_members(value: Any) -> Iterator[Module | Tensor]:
    """The modules and parameters inside a plain list, tuple or dict (nested ones included)."""
    if isinstance(value, dict):
        items = value.values()
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        return
    for item in items:
        if isinstance(item, Module) or _is_parameter(item):
            yield item
        else:
            yield from _hidden_members(item)


def _container_error(owner: str, name: str, value: Any) -> TypeError:
    kind = type(value).__name__
    members = list(_hidden_members(value))
    if any(isinstance(member, Module) for member in members):
        fix = "nn.ModuleDict({...})" if isinstance(value, dict) else "nn.ModuleList([...])"
        what = "modules"
    else:
        fix = "one attribute per parameter, or modules held by an nn.ModuleList / nn.ModuleDict"
        what = "parameters"
    return TypeError(
        f"{owner}.{name}: a plain {kind} of {what} is not registered, so their parameters would be "
        f"invisible to parameters(), state_dict() and the optimizer; use {fix} instead"
    )


class Module:
    """Base class of layers and networks: ``module(x)`` runs ``forward(x)`` in its name scope."""

    #: A container (ModuleList, ModuleDict) is never called: its children's scopes carry its name.
    _transparent = False
    #: Bumped when the mode changes (``train``/``eval``): a compiled step that read the mode
    #: (``autograd.compile``'s ``depends_on``) records anew.
    compile_version = 0

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_scope_name", None)
        object.__setattr__(self, "_scope", None)  # name_scope(_scope_name), entered by every call
        object.__setattr__(self, "_parent", None)
        object.__setattr__(self, "training", True)

    # -- copies ---------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        # The link up to the parent is left out, so copying or pickling a layer does not take
        # the whole network along; a parent restores its children's links (__setstate__).
        state = self.__dict__.copy()
        state.pop("_parent", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_parent", None)
        if "_scope" not in self.__dict__:  # saved before modules kept their scope object
            name = self.__dict__.get("_scope_name")
            self.__dict__["_scope"] = None if name is None else name_scope(name)
        for child in self._modules.values():
            object.__setattr__(child, "_parent", self)

    # -- registration ---------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call Module.__init__() before assigning attributes")
        if isinstance(value, (list, tuple, dict)) and self._holds_unregistered(value):
            raise _container_error(type(self).__name__, name, value)
        self._forget(name)
        if isinstance(value, Module):
            self.add_module(name, value)
        elif isinstance(value, Tensor) and value.requires_grad:
            self.add_parameter(name, value)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._forget(name)
        object.__delattr__(self, name)

    def _forget(self, name: str) -> None:
        """Unregister the parameter or child called ``name``, if any."""
        self._parameters.pop(name, None)
        child = self._modules.pop(name, None)
        if child is not None and child._parent is self:
            object.__setattr__(child, "_parent", None)
            child._set_scope_name(None)
            child._rename_parameters()

    def add_parameter(self, name: str, tensor: Tensor) -> Tensor:
        """Register ``tensor`` (a leaf that requires grad) as the parameter ``name``."""
        if not isinstance(tensor, Tensor) or not tensor.requires_grad or not tensor.is_leaf:
            raise TypeError(
                f"{type(self).__name__}.{name}: a parameter must be a leaf Tensor with requires_grad=True"
            )
        self._parameters[name] = tensor
        self.__dict__[name] = tensor
        self._rename_parameters()
        return tensor

    def add_module(self, name: str, module: Module) -> Module:
        """Register ``module`` as the child ``name``: its nodes get scope ``<name>...``."""
        if not isinstance(module, Module):
            raise TypeError(
                f"{type(self).__name__}.{name}: a child must be a Module, got {type(module).__name__}"
            )
        if not isinstance(name, str) or "." in name or not name:
            raise ValueError(
                f"{type(self).__name__}: child name {name!r} must be a non-empty string without '.'"
            )
        ancestor: Module | None = self
        while ancestor is not None:
            if ancestor is module:
                raise ValueError(f"{type(self).__name__}.{name}: a module cannot be its own descendant")
            ancestor = ancestor._parent
        if self._modules.get(name, module) is not module:
            self._forget(name)  # the module it replaces leaves the network
        self._modules[name] = module
        object.__setattr__(module, "_parent", self)
        module._set_scope_name(self._child_scope(name))
        if not self._transparent:
            self.__dict__[name] = module
        self._rename_parameters()
        return module

    def _child_scope(self, name: str) -> str:
        if self._transparent and self._scope_name is not None:
            return f"{self._scope_name}.{name}"
        return name

    def _set_scope_name(self, scope: str | None) -> None:
        object.__setattr__(self, "_scope_name", scope)
        object.__setattr__(self, "_scope", None if scope is None else name_scope(scope))
        if self._transparent:  # the children's scopes include this container's name
            for name, child in self._modules.items():
                child._set_scope_name(self._child_scope(name))

    def _root(self) -> Module:
        module = self
        while module._parent is not None:
            module = module._parent
        return module

    def _rename_parameters(self) -> None:
        # Parameter names are paths from the outermost module, as in its state_dict.
        for path, parameter in self._root()._named_parameters():
            parameter.name = path

    def _holds_unregistered(self, value: Any) -> bool:
        """Whether ``value`` (a plain container) holds a module or parameter not registered here.

        Plain lists of modules that are registered anyway (shortcuts to some layers) are fine.
        """
        members = list(_hidden_members(value))
        if not members:
            return False
        modules = {id(module) for _, module in self.named_modules()}
        parameters = {id(parameter) for _, parameter in self._named_parameters()}
        return any(id(member) not in modules and id(member) not in parameters for member in members)

    # -- traversal ------------------------------------------------------------------------

    def named_children(self) -> Iterator[tuple[str, Module]]:
        return iter(self._modules.items())

    def children(self) -> list[Module]:
        return list(self._modules.values())

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (path ``prefix``) and every module below it, depth first, each once."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            path, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield path, module
            children = module._modules.items()
            stack.extend((f"{path}.{name}" if path else name, child) for name, child in reversed(children))

    def modules(self) -> list[Module]:
        """This module and every module below it."""
        return [module for _, module in self.named_modules()]

    def _named_parameters(self, prefix: str = "") -> list[tuple[str, Tensor]]:
        seen: set[int] = set()
        pairs = []
        for path, module in self.named_modules(prefix):
            for name, parameter in module._parameters.items():
                if id(parameter) not in seen:
                    seen.add(id(parameter))
                    pairs.append((f"{path}.{name}" if path else name, parameter))
        return pairs

    def named_parameters(self, prefix: str = "") -> list[tuple[str, Tensor]]:
        """``(path, parameter)`` pairs, e.g. ``("layers.0.W", W)``, each parameter once.

        Raises if a plain list or dict attribute has since been filled with modules or parameters
        (``self.layers = []`` then ``self.layers.append(...)``), which would be left untrained.
        """
        pairs = self._named_parameters(prefix)
        self._check_no_hidden_members(pairs)
        return pairs

    def _check_no_hidden_members(self, pairs: list[tuple[str, Tensor]]) -> None:
        modules = list(self.named_modules())
        known = {id(module) for _, module in modules} | {id(p) for _, p in pairs}
        for path, module in modules:
            for name, value in module.__dict__.items():
                if name in _REGISTRIES or not isinstance(value, (list, tuple, dict)):
                    continue
                if any(id(member) not in known for member in _hidden_members(value)):
                    where = f"{path}.{name}" if path else name
                    raise _container_error(type(module).__name__, where, value)

    def parameters(self) -> list[Tensor]:
        """Every parameter of this module and its children, each once, in registration order."""
        return [parameter for _, parameter in self.named_parameters()]

    def zero_grad(self) -> None:
        """Forget the accumulated gradients (``p.grad = None``)."""
        recorder = recording()
        if recorder is not None:  # a compiled step (autograd.compile) records the clearing
            recorder.cleared(self.parameters())
        # Called every step: a bare walk, without parameters()' bookkeeping and checks.
        stack = [self]
        while stack:
            module = stack.pop()
            for parameter in module._parameters.values():
                parameter.grad = None
            stack.extend(module._modules.values())

    # -- modes ----------------------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Set ``training = mode`` on this module and every module below it; returns ``self``."""
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"{type(self).__name__}.train: mode must be a bool, got {mode!r}")
        for module in self.modules():
            if module.training != bool(mode):
                # A compiled step that depends on the mode (dropout) records anew.
                object.__setattr__(module, "compile_version", module.compile_version + 1)
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Evaluation mode (``train(False)``): dropout off. Returns ``self``."""
        return self.train(False)

    # -- running --------------------------------------------------------------------------

    def forward(self, *inputs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *inputs: Any) -> Any:
        scope = self._scope
        if scope is None:
            return self.forward(*inputs)
        return scope.run(self.forward, *inputs)

    # -- saving and loading -----------------------------------------------------------------

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter's values, by path."""
        return {name: parameter.data.copy() for name, parameter in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> None:
        """Replace the parameters' values by ``state[path]`` (cast to each parameter's dtype).

        Every array is checked before any parameter changes: its shape must be the parameter's,
        and its dtype real (a complex array would lose its imaginary part in the cast) and
        representable (a float64 value beyond float32's range is an error, not an inf). With
        ``strict``, the keys must be exactly the parameter paths.
        """
        owner = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, Mapping):
            raise TypeError(
                f"{owner}: expected a mapping of parameter paths to arrays, got {type(state).__name__}"
            )
        parameters = dict(self.named_parameters())
        if strict:
            missing = sorted(set(parameters) - set(state))
            unexpected = sorted(set(state) - set(parameters))
            if missing or unexpected:
                raise KeyError(f"{owner}: missing keys {missing}, unexpected keys {unexpected}")
        updates = []
        for name, parameter in parameters.items():
            if name not in state:
                continue
            array = np.asarray(state[name])
            if array.dtype.kind not in "iuf":
                raise TypeError(
                    f"{owner}: {name} has dtype {array.dtype} in the state but the parameter is "
                    f"{parameter.dtype}; only real numbers can be loaded"
                )
            if array.shape != parameter.shape:
                raise ValueError(
                    f"{owner}: {name} has shape {tuple(array.shape)} in the state "
                    f"but {tuple(parameter.shape)} in the module"
                )
            with np.errstate(over="ignore", invalid="ignore"):
                cast = array.astype(parameter.dtype)
            if not np.array_equal(np.isfinite(cast), np.isfinite(array)):
                raise ValueError(
                    f"{owner}: {name} holds {array.dtype} values beyond the range of the "
                    f"parameter's {parameter.dtype}"
                )
            updates.append((parameter, cast))
        for parameter, array in updates:
            parameter.assign(array, copy=False)

    def save(self, path: str | os.PathLike) -> None:
        """Write the state dict to ``path`` as a NumPy ``.npz`` archive."""
        with open(path, "wb") as file:
            np.savez(file, **self.state_dict())

    def load(self, path: str | os.PathLike, strict: bool = True) -> None:
        """Read parameters written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as archive:
            self.load_state_dict({name: archive[name] for name in archive.files}, strict=strict)

    # -- display --------------------------------------------------------------------------

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._modules:
            return head + ")"
        lines = [head]
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied in order: ``Sequential(f, g, h)(x) = h(g(f(x)))``; children are named 0, 1, 2..."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for index, module in enumerate(modules):
            self.add_module(str(index), module)

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, index: int) -> Module:
        modules = list(self._modules.values())
        return modules[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())
