"""The artifact's byte count as a function of the per-layer weight bits, from shapes alone.

The scorer counts a submission with `challenge.size.quantized_size_bytes` over the tensors that
`challenge.artifact` stores. For a given architecture and scheme, every stored tensor but the
packed weights has a size that does not depend on the weight bits (a scale per output channel
or per tensor, the folded bias, an activation scale and zero point when the input is
quantized, float tensors at 4 bytes a number), so

    quantized bytes = fixed + sum over quantized layers of ceil(numel * bits / 8)

with `fixed` read here from the same layout on the meta device. The tests check this count
against `read_artifact` of real artifacts, byte for byte.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import KitError
from ..models import build_architecture
from ..quant.fold import fold_batchnorm
from ..quant.layer_config import LayerSpec
from ..quant.modules import QUANTIZABLE
from ..size import compression_ratio, fp32_size_bytes_of_arch, packed_bytes


@dataclass(frozen=True)
class SizeModel:
    fp32_bytes: int
    fixed_bytes: int  # every stored number except the packed weights of the layers in `numels`
    numels: dict[str, int]  # weight elements of each layer whose bits vary

    def layer_bytes(self, name: str, bits: int) -> int:
        return packed_bytes(self.numels[name], bits)

    def total_bytes(self, bits: dict[str, int]) -> int:
        return self.fixed_bytes + sum(self.layer_bytes(name, b) for name, b in bits.items())

    def compression(self, bits: dict[str, int]) -> float:
        return compression_ratio(self.fp32_bytes, self.total_bytes(bits))

    def budget(self, target: float) -> int:
        """The largest quantized size whose compression, as the scorer computes it, is >= target."""
        size = math.floor(self.fp32_bytes * (100.0 - target) / 100.0)
        while size >= 0 and compression_ratio(self.fp32_bytes, size) < target:  # float rounding
            size -= 1
        while compression_ratio(self.fp32_bytes, size + 1) >= target:
            size += 1
        return size


def _shapes(arch: str, num_classes: int) -> tuple[dict[str, torch.nn.Module], dict[str, torch.Size]]:
    """The folded architecture's conv/linear layers and its other state_dict tensors (meta device)."""
    with torch.device("meta"):
        model = fold_batchnorm(build_architecture(arch, num_classes).eval())
    layers = {n: m for n, m in model.named_modules() if isinstance(m, QUANTIZABLE)}
    prefixes = tuple(f"{n}." for n in layers)
    others = {k: v.shape for k, v in model.state_dict().items()
              if not k.startswith(prefixes) and not k.endswith("num_batches_tracked")}
    return layers, others


def size_model(arch: str, num_classes: int, specs: dict[str, LayerSpec], searched: list[str]) -> SizeModel:
    """Sizes for the layers in `specs` (all of the model's); `searched` layers get variable bits,
    every other layer keeps its spec's."""
    layers, others = _shapes(arch, num_classes)
    if set(specs) != set(layers):
        raise KitError(f"the layer specs do not match {arch}'s layers")
    fixed = 4 * sum(math.prod(shape) for shape in others.values())
    numels = {}
    for name, module in layers.items():
        spec, numel = specs[name], module.weight.numel()
        if module.bias is not None:
            fixed += 4 * module.bias.numel()
        if spec.act_bits is not None:
            fixed += 4 * 2  # input scale and zero point
        if name in searched or spec.weight_bits is not None:
            fixed += 4 * (module.weight.shape[0] if spec.per_channel else 1)  # weight scales
            if name in searched:
                numels[name] = numel
            else:
                fixed += packed_bytes(numel, spec.weight_bits)
        else:
            fixed += 4 * numel  # a float weight
    missing = [n for n in searched if n not in numels]
    if missing:
        raise KitError(f"unknown layer(s) {', '.join(missing[:3])} for {arch}")
    return SizeModel(fp32_size_bytes_of_arch(arch, num_classes), fixed, numels)
