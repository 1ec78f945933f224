"""Watching a frozen FP32 model's BatchNorm inputs: the shared core of ZeroQ and GDFQ.

Both methods push synthetic images through the model and compare, for every BatchNorm layer,
the statistics of what goes INTO the layer with the running statistics it learned on real data.
`frozen_teacher` sets the model up for that and puts it back exactly as it was afterwards.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn


def batchnorm_layers(model: nn.Module) -> list[nn.Module]:
    """Every BatchNorm layer with running statistics, in module order."""
    return [m for m in model.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None]


@contextmanager
def frozen_teacher(model: nn.Module, record: bool = True):
    """Eval mode, no parameter gradients, and (if `record`) a hook on every BatchNorm.

    Yields a list that each forward pass fills with `(bn_layer, bn_input)` in call order; the
    caller clears it before each forward. Parameters get requires_grad=False so that backward
    computes only the gradient of the input (cheaper, and nothing accumulates in the model's
    `.grad`). Every module's train/eval flag and every parameter's requires_grad are restored
    on exit, even after an exception. Without `record` the list stays empty (the caller takes the
    statistics itself, as Genie-D's compiled="kernels" does): a hook whose list nobody clears keeps
    every step's feature maps alive.
    """
    modes = [(m, m.training) for m in model.modules()]
    flags = [(p, p.requires_grad) for p in model.parameters()]
    records: list = []

    def keep(module, args):
        records.append((module, args[0]))

    layers = batchnorm_layers(model)
    if not layers:
        raise ValueError("the model has no BatchNorm layer with running statistics to match")
    handles = [bn.register_forward_pre_hook(keep) for bn in layers] if record else []
    model.eval()
    for p, _ in flags:
        p.requires_grad_(False)
    # Optimising against the teacher needs autograd even where the caller turned it off
    # (a lazy generator runs inside its consumer's loop, which may be under no_grad).
    try:
        with torch.enable_grad():
            yield records
    finally:
        for handle in handles:
            handle.remove()
        for p, flag in flags:
            p.requires_grad_(flag)
        for m, mode in modes:
            m.training = mode
