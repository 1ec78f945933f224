"""Participants' own code, given on the command line as `path/to/file.py:function`.

One loader for every pluggable stage (generators in synth/, optimisation methods in
challenge/quant/methods/): the file is imported once per process, so that the decorators it runs
(`@register_generator`, `@register_method`) do not run twice, and a missing file or function
is one clear line, not a traceback.
"""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Callable

from .errors import KitError


def is_file_spec(spec: str) -> bool:
    """`path/to/file.py:function`, as opposed to a registered name."""
    return ":" in spec and spec.rpartition(":")[0].endswith(".py")


@functools.lru_cache(maxsize=None)
def _load(resolved_spec: str, what: str) -> Callable:
    file_name, _, function_name = resolved_spec.rpartition(":")
    path = Path(file_name)
    if not path.is_file():
        raise KitError(f"{what} file {file_name!r} does not exist; use --{what} path/to/file.py:function")
    module_name = f"user_{what}_{abs(hash(str(path)))}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise KitError(f"cannot import {what} file {file_name!r}; it must be a Python .py file")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)  # the participant's own code, run on their own machine
    fn = getattr(module, function_name, None)
    if not callable(fn):
        raise KitError(f"{what} file {file_name!r} has no function {function_name!r}")
    return fn


def load_from_file(spec: str, what: str) -> Callable:
    """The function named by `path/to/file.py:function`; `what` names the option in messages."""
    file_name, _, function_name = spec.rpartition(":")
    return _load(f"{Path(file_name).resolve()}:{function_name}", what)
