"""Synthetic calibration data generators, one file each, found through a registry.

A generator is a callable registered with `@register_generator("name")`:

    def my_generator(model, *, num_classes, input_shape, num_samples=..., batch_size=...,
                     seed=0, **hyper_parameters) -> Iterator[torch.Tensor]

- `model` is the FP32 torchvision model (BatchNorm not folded), in eval mode, on its device;
  the generator must not change its weights or its train/eval mode when it returns.
- It yields float32 batches of shape (batch, *input_shape) on the model's device, in the
  model's input space (ImageNet-normalized), `num_samples` images in all.
- Every hyper-parameter is a keyword argument with a default; the kit passes
  `num_samples`/`batch_size` only when the user set them, so each generator owns its defaults.
- `seed` makes it deterministic.

Participants add a generator with no edit to the kit: `--generator path/to/file.py:name`
loads that file and calls the function `name` in it (decorated or not).
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable

from challenge.errors import KitError
from challenge.plugins import is_file_spec, load_from_file

_GENERATORS: dict[str, Callable] = {}
_ALLOWED_IN_CHALLENGE: dict[str, bool] = {}


def register_generator(name: str, *, allowed_in_challenge: bool = True):
    """Decorator: put a generator in the registry under `name` (duplicates refused)."""

    def decorate(fn: Callable) -> Callable:
        if name in _GENERATORS and _GENERATORS[name] is not fn:
            raise ValueError(f"generator {name!r} is already registered")
        _GENERATORS[name] = fn
        _ALLOWED_IN_CHALLENGE[name] = allowed_in_challenge
        fn.generator_name = name
        fn.allowed_in_challenge = allowed_in_challenge
        return fn

    return decorate


def _import_builtin_generators() -> None:
    # Importing each module of this package runs its @register_generator.
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


def list_generators() -> list[str]:
    _import_builtin_generators()
    return sorted(_GENERATORS)


def is_allowed_in_challenge(name: str) -> bool:
    _import_builtin_generators()
    return _ALLOWED_IN_CHALLENGE.get(name, True)


def get_generator(spec: str) -> Callable:
    """A registered name (`zeroq`) or a participant's file (`path/to/file.py:function`)."""
    if is_file_spec(spec):
        return load_from_file(spec, "generator")
    _import_builtin_generators()
    if spec not in _GENERATORS:
        raise KitError(f"unknown generator {spec!r}; choose one of {', '.join(sorted(_GENERATORS))} "
                       "or give path/to/file.py:function")
    return _GENERATORS[spec]
