"""Optimisation methods: what happens to a quantized model after calibration, one file each.

A method is a callable registered with `@register_method("name")`:

    def my_method(fp32_model, qmodel, batches, **hyper_parameters) -> None

- `fp32_model`: the FP32 torchvision model (BatchNorm not folded), eval mode, on the device.
  The method must not change it.
- `qmodel`: the calibrated quantized model (BatchNorm folded, every conv/linear a QuantLayer),
  already rounded to nearest: each layer's `weight_int` / `weight_scale` and its input
  quantizer's `scale` / `zero_point` are set. The method changes them in place; it must leave
  integers on the layer's grid (`set_integer_weight`) and positive scales. The artifact, the size
  accounting and the scorer then see a model like any other.
- `batches`: the calibration batches (a list of float tensors on the device), the generator's
  synthetic images; methods that need none ignore them.
- Every hyper-parameter is a keyword argument with a default (`--method-arg KEY=VALUE`).

Participants add a method with no edit to the kit: `--method path/to/file.py:function`.
"""
from __future__ import annotations

import inspect
from typing import Callable

from ...errors import KitError
from ...names import DEFAULT_METHOD  # noqa: F401 (rtn; kept where the command line reads it without torch)
from ...plugins import check_argument_types
from ...registry import Registry, import_submodules

METHODS = Registry("method", files=True, builtins=import_submodules(__name__))


def register_method(name: str, *, needs_data: bool = True):
    """Decorator: put a method in the registry under `name` (duplicates refused).

    `needs_data=False` (round to nearest) lets the kit skip keeping the calibration batches."""

    def decorate(fn: Callable) -> Callable:
        METHODS.add(name, fn)
        fn.method_name = name
        fn.needs_data = needs_data
        return fn

    return decorate


def list_methods() -> list[str]:
    return METHODS.names()


def get_method(spec: str) -> Callable:
    """A registered name (`brecq`) or a participant's file (`path/to/file.py:function`)."""
    return METHODS.get(spec)


def check_method_args(method: Callable, spec: str, kwargs: dict) -> None:
    """Refuse a --method-arg the method does not take, or whose value does not fit the type of
    its default, before any heavy work."""
    try:
        inspect.signature(method).bind(None, None, None, **kwargs)
    except TypeError as error:
        raise KitError(f"method {spec!r} rejected its arguments ({error}); see its keyword arguments "
                       "in challenge/quant/methods/ or your file") from None
    check_argument_types(method, kwargs, "--method-arg", f"method {spec!r}")


def needs_data(method: Callable) -> bool:
    return getattr(method, "needs_data", True)  # a participant's undecorated function may need data
