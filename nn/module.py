"""``Module``: a piece of a network that owns parameters and child modules.

Parameters and children are registered by assignment (``self.W = Tensor(...,
requires_grad=True)``, ``self.layers = Sequential(...)``), in assignment order. Each child is
known to its parent by a local name (the attribute name, or its index in a ``Sequential``), and
that is all a module knows of its place in a network:

* calling a child runs its forward inside ``autograd.name_scope(<local name>)``; scopes nest,
  so every node recorded is tagged with the full module path (``t.scope == "layers.0"``) and the
  graph pictures can draw one cluster per layer;
* attaching a child renames every parameter below the parent by its path from the parent
  (``W`` becomes ``0.W``, then ``layers.0.W`` once the ``Sequential`` is itself attached), so the
  parameter names (``Tensor.name``) are always the paths from the outermost module.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from autograd import Tensor
from autograd import state as _state
from autograd.compile import recording


class Module:
    """Base class of layers and networks: ``module(x)`` runs ``forward(x)`` in its name scope."""

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_scope_name", None)
        object.__setattr__(self, "_scopes", {})  # enclosing scope -> this module's full path

    # -- registration ---------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call Module.__init__() before assigning attributes")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Module):
            self.add_module(name, value)
        elif isinstance(value, Tensor) and value.requires_grad:
            self.add_parameter(name, value)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def add_parameter(self, name: str, tensor: Tensor) -> Tensor:
        """Register ``tensor`` (a leaf that requires grad) as the parameter ``name``."""
        if not isinstance(tensor, Tensor) or not tensor.requires_grad or not tensor.is_leaf:
            raise TypeError(
                f"{type(self).__name__}.{name}: a parameter must be a leaf Tensor with requires_grad=True"
            )
        self._parameters[name] = tensor
        tensor.name = name
        self.__dict__[name] = tensor
        self._rename_parameters()
        return tensor

    def add_module(self, name: str, module: Module) -> Module:
        """Register ``module`` as the child ``name``: its nodes get scope ``<name>...``."""
        if not isinstance(module, Module):
            raise TypeError(
                f"{type(self).__name__}.{name}: a child must be a Module, got {type(module).__name__}"
            )
        if "." in name or not name:
            raise ValueError(
                f"{type(self).__name__}: child name {name!r} must be non-empty and contain no '.'"
            )
        self._modules[name] = module
        object.__setattr__(module, "_scope_name", name)
        object.__setattr__(module, "_scopes", {})
        self.__dict__[name] = module
        self._rename_parameters()
        return module

    def _rename_parameters(self) -> None:
        # Names are paths from this module; an enclosing module renames them again on attach.
        for path, parameter in self.named_parameters():
            parameter.name = path

    # -- traversal ------------------------------------------------------------------------

    def named_children(self) -> Iterator[tuple[str, Module]]:
        return iter(self._modules.items())

    def children(self) -> list[Module]:
        return list(self._modules.values())

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (path ``prefix``) and every module below it, depth first."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self, prefix: str = "") -> list[tuple[str, Tensor]]:
        """``(path, parameter)`` pairs, e.g. ``("layers.0.W", W)``, each parameter once."""
        seen: set[int] = set()
        pairs = []
        for path, module in self.named_modules(prefix):
            for name, parameter in module._parameters.items():
                if id(parameter) not in seen:
                    seen.add(id(parameter))
                    pairs.append((f"{path}.{name}" if path else name, parameter))
        return pairs

    def parameters(self) -> list[Tensor]:
        """Every parameter of this module and its children, each once, in registration order."""
        return [parameter for _, parameter in self.named_parameters()]

    def zero_grad(self) -> None:
        """Forget the accumulated gradients (``p.grad = None``)."""
        recorder = recording()
        if recorder is not None:  # a compiled step (autograd.compile) records the clearing
            recorder.cleared(self.parameters())
        for parameter in self.parameters():
            parameter.grad = None

    # -- running --------------------------------------------------------------------------

    def forward(self, *inputs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *inputs: Any) -> Any:
        name = self._scope_name
        if name is None:
            return self.forward(*inputs)
        # name_scope(name), written out: a module call is on every step's path, and the joined
        # path ("layers.0") is made once per enclosing scope rather than on every call.
        local = _state.local
        previous = local.scope
        scopes = self._scopes
        scope = scopes.get(previous)
        if scope is None:
            scope = scopes[previous] = name if previous is None else f"{previous}.{name}"
        local.scope = scope
        try:
            return self.forward(*inputs)
        finally:
            local.scope = previous

    # -- saving and loading -----------------------------------------------------------------

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter's values, by path."""
        return {name: parameter.data.copy() for name, parameter in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> None:
        """Replace the parameters' values by ``state[path]`` (cast to each parameter's dtype).

        Every array is checked before any parameter changes. With ``strict``, the keys must be
        exactly the parameter paths.
        """
        parameters = dict(self.named_parameters())
        if strict:
            missing = sorted(set(parameters) - set(state))
            unexpected = sorted(set(state) - set(parameters))
            if missing or unexpected:
                raise KeyError(
                    f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                    f"unexpected keys {unexpected}"
                )
        updates = []
        for name, parameter in parameters.items():
            if name not in state:
                continue
            array = np.asarray(state[name])
            if array.shape != parameter.shape:
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: {name} has shape {tuple(array.shape)} "
                    "in the state "
                    f"but {tuple(parameter.shape)} in the module"
                )
            updates.append((parameter, array.astype(parameter.dtype)))
        for parameter, array in updates:
            parameter.data = array

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
