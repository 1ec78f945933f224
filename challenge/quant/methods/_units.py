"""Reconstruction units: the pieces of a network whose output a method reconstructs, in turn.

- `layer` (AdaRound): every QuantLayer on its own.
- `block` (BRECQ): the residual blocks of the three architectures (ResNet basic and bottleneck
  blocks, MobileNetV2 inverted residuals, ShuffleNetV2 units), and outside them the smallest
  module holding one quantized layer with what follows it in a Sequential (the stems
  `conv + BN + ReLU`, MobileNetV2's last 1x1 conv, the classifiers), else the layer alone.
A block keeps its shortcut and its inner activations inside the unit, which is BRECQ's point:
the layers of a block are reconstructed together, against the block's output.
"""
from __future__ import annotations

from torch import nn
from torchvision.models import mobilenetv2, resnet, shufflenetv2

from ..modules import QuantLayer

RESIDUAL_BLOCKS = (resnet.BasicBlock, resnet.Bottleneck, mobilenetv2.InvertedResidual,
                   shufflenetv2.InvertedResidual)
GRANULARITIES = ("layer", "block")


def _count_quant_layers(module: nn.Module) -> int:
    return sum(isinstance(m, QuantLayer) for m in module.modules())


def _blocks(module: nn.Module, prefix: str) -> list[str]:
    units = []
    for name, child in module.named_children():
        path = f"{prefix}{name}"
        count = _count_quant_layers(child)
        if count == 0:
            continue
        if isinstance(child, (QuantLayer, *RESIDUAL_BLOCKS)) or (isinstance(child, nn.Sequential) and count == 1):
            units.append(path)
        else:
            units.extend(_blocks(child, f"{path}."))
    return units


def unit_names(model: nn.Module, granularity: str) -> list[str]:
    """Names of the units of `model` (module order; see capture.forward_order for run order)."""
    if granularity == "layer":
        return [name for name, m in model.named_modules() if isinstance(m, QuantLayer)]
    if granularity == "block":
        return _blocks(model, "")
    raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
