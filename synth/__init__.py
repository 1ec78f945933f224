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

from typing import Callable

from challenge.registry import Registry, import_submodules

GENERATORS = Registry("generator", files=True, builtins=import_submodules(__name__))


def register_generator(name: str, *, allowed_in_challenge: bool = True):
    """Decorator: put a generator in the registry under `name` (duplicates refused)."""

    def decorate(fn: Callable) -> Callable:
        GENERATORS.add(name, fn)
        fn.generator_name = name
        fn.allowed_in_challenge = allowed_in_challenge  # the kit reads it from the function
        return fn

    return decorate


def list_generators() -> list[str]:
    return GENERATORS.names()


def is_allowed_in_challenge(name: str) -> bool:
    entry = GENERATORS.entries().get(name)
    return getattr(entry, "allowed_in_challenge", True)


def get_generator(spec: str) -> Callable:
    """A registered name (`zeroq`) or a participant's file (`path/to/file.py:function`)."""
    return GENERATORS.get(spec)
