"""What goes into and out of one module of a model, over the calibration batches.

The forward pass stops right after the module (an exception from its hook), so capturing the
input of an early block costs an early part of the network, not all of it. Modules are found
by name, which is the same in the FP32 (folded) model and the quantized one.
"""
from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn

from ..fold import fold_batchnorm
from ..modules import QuantLayer


class _Stop(Exception):
    pass


@torch.no_grad()
def for_each_call(model: nn.Module, module: nn.Module, batches, fn: Callable) -> None:
    """fn(input, output) for `module`'s call on every batch; nothing after it runs."""

    def hook(_, args, output):
        fn(args[0], output)
        raise _Stop

    handle = module.register_forward_hook(hook)
    try:
        for batch in batches:
            try:
                model(batch)
            except _Stop:
                pass
    finally:
        handle.remove()


def folded_fp32(fp32_model: nn.Module) -> nn.Module:
    """The FP32 model with BatchNorm folded: the same module names and arithmetic as the
    quantized model, without quantization; the reference every method reconstructs."""
    return fold_batchnorm(copy.deepcopy(fp32_model).eval())


def forward_order(model: nn.Module, names: list[str], sample: torch.Tensor) -> list[str]:
    """`names` sorted by when each module first runs on `sample` (one image is enough)."""
    seen: list[str] = []
    handles = [model.get_submodule(n).register_forward_pre_hook(lambda m, a, n=n: seen.append(n) if n not in seen else None)
               for n in names]
    try:
        with torch.no_grad():
            model(sample[:1])
    finally:
        for handle in handles:
            handle.remove()
    return seen + [n for n in names if n not in seen]


def quant_layer_names(model: nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if isinstance(m, QuantLayer)]
