"""``ModuleList`` and ``ModuleDict``: registered lists and dicts of modules, as in PyTorch.

A plain Python list of layers hides their parameters from ``parameters()``; these containers
register each module as a child, so its parameters are found, saved and named by their path
(``layers.2.W``), and its nodes are recorded under the scope ``layers.2``. A container is never
called itself (the owner's ``forward`` decides how its modules are used), so it is transparent
to name scopes: its children carry the container's name in their own scope.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .module import Module


def _require_module(owner: str, key: Any, module: Any) -> Module:
    if not isinstance(module, Module):
        raise TypeError(f"{owner}[{key!r}]: expected a Module, got {type(module).__name__}")
    return module


class _Container(Module):
    _transparent = True

    def forward(self, *inputs: Any) -> Any:
        raise NotImplementedError(
            f"{type(self).__name__} is a container and is not called: call the modules it holds "
            "(or use nn.Sequential to apply them in order)"
        )

    def _replace_children(self, named: Iterable[tuple[str, Module]]) -> None:
        """Register exactly ``named``, in order; modules no longer held are detached."""
        named = list(named)
        kept = {id(module) for _, module in named}
        for name in list(self._modules):
            module = self._modules[name]
            if id(module) in kept:
                del self._modules[name]
            else:
                self._forget(name)
        for name, module in named:
            self.add_module(name, module)
        self._rename_parameters()


class ModuleList(_Container):
    """A list of modules, registered as children ``0, 1, 2...``.

    Supports ``len``, iteration, indexing (a slice gives a plain list of the same modules),
    assignment and deletion by index, ``append``, ``extend`` and ``insert``; the children are
    renumbered after an insertion or deletion, so names always follow positions.
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _list(self) -> list[Module]:
        return list(self._modules.values())

    def _set_list(self, modules: list[Module]) -> None:
        for index, module in enumerate(modules):
            _require_module(type(self).__name__, index, module)
        self._replace_children((str(index), module) for index, module in enumerate(modules))

    def _index(self, index: Any) -> int:
        if isinstance(index, bool) or not hasattr(index, "__index__"):
            raise TypeError(f"ModuleList indices must be integers or slices, got {type(index).__name__}")
        n = len(self._modules)
        position = index.__index__()
        if not -n <= position < n:
            raise IndexError(f"ModuleList index {position} is out of range for {n} modules")
        return position % n

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return self._list()[index]
        return self._list()[self._index(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        position = self._index(index)
        modules = self._list()
        modules[position] = _require_module("ModuleList", index, module)
        self._set_list(modules)

    def __delitem__(self, index: int | slice) -> None:
        modules = self._list()
        if isinstance(index, slice):
            del modules[index]
        else:
            del modules[self._index(index)]
        self._set_list(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._list())

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end, as child ``len(self)``; returns ``self``."""
        self.add_module(str(len(self)), _require_module("ModuleList", len(self), module))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Append each of ``modules``; returns ``self``."""
        if isinstance(modules, Module) and not isinstance(modules, ModuleList):
            raise TypeError("ModuleList.extend: expected an iterable of modules, got a single Module")
        for module in list(modules):
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index`` (as ``list.insert``); renumbers the children."""
        modules = self._list()
        modules.insert(index, _require_module("ModuleList", index, module))
        self._set_list(modules)


class ModuleDict(_Container):
    """A dict of modules, registered as children by key (insertion order kept).

    Keys are non-empty strings without ``'.'``; supports ``len``, ``in``, iteration over the
    keys, ``[key]`` get/set/delete, ``keys()``, ``values()``, ``items()``, ``update`` and ``pop``.
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        try:
            return self._modules[key]
        except KeyError:
            raise KeyError(f"ModuleDict has no module {key!r}; its keys are {list(self._modules)}") from None

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, _require_module("ModuleDict", key, module))

    def __delitem__(self, key: str) -> None:
        self[key]  # noqa: B018 -- raises the KeyError naming the keys
        self._forget(key)
        self._rename_parameters()

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._modules))

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> list[str]:
        return list(self._modules)

    def values(self) -> list[Module]:
        return list(self._modules.values())

    def items(self) -> list[tuple[str, Module]]:
        return list(self._modules.items())

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add or replace modules from a mapping or from ``(key, module)`` pairs."""
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for key, module in pairs:
            self[key] = module

    def pop(self, key: str) -> Module:
        """Remove the module ``key`` and return it."""
        module = self[key]
        del self[key]
        return module
