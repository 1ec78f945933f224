"""Participants' own code, given on the command line as `path/to/file.py:function`.

One loader for every pluggable stage (generators in synth/, optimisation methods in
challenge/quant/methods/): the file is imported once per process, so that the decorators it runs
(`@register_generator`, `@register_method`) do not run twice, and a missing file or function
is one clear line, not a traceback. Their `KEY=VALUE` arguments from the command line are
checked against the type of each keyword's default (check_argument_types).
"""
from __future__ import annotations

import ast
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


def parse_generator_args(pairs: list[str], option: str = "--gen-arg") -> dict:
    """`KEY=VALUE` pairs; values are Python literals (ast.literal_eval), else plain strings."""
    parsed = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.isidentifier():
            raise KitError(f"{option} {pair!r} must look like KEY=VALUE, e.g. {option} iterations=500")
        try:
            parsed[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            parsed[key] = text
    return parsed


def _fits(value, default) -> bool:
    """Whether a command-line value may stand where `default` stands: a whole number for an int
    (a bool is not one), any number for a float, True/False for a bool, text for a str, a list or
    tuple for either."""
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return True  # another default (None, an object): the callable checks it itself


_KINDS = ((bool, "True or False"), (int, "a whole number"), (float, "a number"), (str, "a string"),
          ((list, tuple), "a list"))


def check_argument_types(fn: Callable, kwargs: dict, option: str, owner: str) -> None:
    """Refuse, before any heavy work, a `KEY=VALUE` whose value does not fit the type of the
    keyword's default in `fn` (`--method-arg iterations=abc` where an int is expected); keywords
    without a default or with the default None are left to `fn`."""
    import inspect

    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin or other callable without a signature
        return
    for key, value in kwargs.items():
        parameter = parameters.get(key)
        if parameter is None or parameter.default is inspect.Parameter.empty or parameter.default is None:
            continue
        if not _fits(value, parameter.default):
            kind = next(words for kinds, words in _KINDS if isinstance(parameter.default, kinds))
            raise KitError(f"{option} {key}={value!r}: {owner} takes {kind} for {key} (default "
                           f"{parameter.default!r}), e.g. {option} {key}={parameter.default!r}")
