"""The one name -> entry registry behind generators, methods, schemes and search proxies.

    GENERATORS = Registry("generator", files=True, builtins=import_submodules("synth"))
    GENERATORS.add("zeroq", zeroq)          # duplicates refused
    GENERATORS.get("zeroq")                 # or "path/to/file.py:function" where files=True
    GENERATORS.names()

torchvision's register_model/get_model/list_models in one small class, so that the four
registries say an unknown name, refuse a duplicate and load a participant's file alike.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable

from .errors import KitError
from .plugins import is_file_spec, load_from_file


def import_submodules(package: str) -> Callable[[], None]:
    """A loader of the built-in entries: importing each public module of `package` runs its
    decorators (one file per entry; `_`-prefixed files hold shared machinery)."""

    def load() -> None:
        module = importlib.import_module(package)
        for info in pkgutil.iter_modules(module.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{package}.{info.name}")

    return load


class Registry:
    def __init__(self, kind: str, *, files: bool = False, builtins: Callable[[], None] | None = None,
                 sort: bool = True):
        self.kind = kind  # in messages and, for files, the option: --generator path/to/file.py:function
        self.files = files
        self._builtins = builtins
        self._sort = sort
        self._entries: dict = {}

    def add(self, name: str, entry):
        """Register `entry` under `name`; the same entry again is a no-op (a module imported twice)."""
        if name in self._entries and self._entries[name] is not entry:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def _load_builtins(self) -> None:
        if self._builtins is not None:
            self._builtins()

    def names(self) -> list[str]:
        self._load_builtins()
        return sorted(self._entries) if self._sort else list(self._entries)

    def entries(self) -> dict:
        self._load_builtins()
        return dict(self._entries)

    def get(self, spec: str):
        """A registered name, or (where files=True) a participant's `path/to/file.py:function`."""
        if self.files and is_file_spec(spec):
            return load_from_file(spec, self.kind)
        self._load_builtins()
        if spec not in self._entries:
            raise KitError(f"unknown {self.kind} {spec!r}; choose one of {', '.join(self.names())}"
                           + (" or give path/to/file.py:function" if self.files else ""))
        return self._entries[spec]
