"""The quantizers the export adds at block outputs, so that ONNX Runtime keeps every layer integer.

The kit quantizes a tensor only where a conv/linear layer reads it. A residual add, a concatenation
or a pool between two layers is computed in float, so in ONNX the conv before it cannot requantize
its output (no QLinearConv) and the add, the concatenation and the pool stay float too. The
export therefore quantizes those tensors as well, with parameters taken from the model:

- `from_quantizer`: a tensor that reaches a quantized layer through selections only (a ReLU, a max
  pool, a channel shuffle or split, a concatenation) gets that layer's own input quantizer. The
  quantization is elementwise and monotone, so it commutes with those selections: the layer reads
  exactly the integers the kit computes (ResNet's block outputs, ShuffleNetV2's branch outputs
  and concatenations, the stem's output before its max pool, MobileNetV2's residual sums).
- `sum_operand`: an addend of a residual add whose sum is quantized on [lo, hi] and whose other
  addend lies on [lo_b, hi_b] only matters on [lo - hi_b, hi - lo_b]: beyond it the sum saturates
  anyway. Quantizing it on that range clips nothing that the sum keeps (with a ReLU after the
  add, [-hi_b, hi - lo_b]).
- `from_range`: where neither holds (ResNet's downsampling blocks, where both addends are conv
  outputs; the last feature map before the global average pool), the range is calibrated at export
  on the kit's `gaussian` images (N(0, 1) noise, seed 0: the baseline calibration data, made from
  nothing but a seed), min-max, by `observe_ranges`. Deterministic, so an artifact always exports
  to the same file.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..quant.modules import QuantLayer
from ..quant.observers import affine_qparams

# Export-time calibration: a few images of the kit's Gaussian baseline, at the size it evaluates.
CALIBRATION_IMAGES, CALIBRATION_SEED, CALIBRATION_SIZE = 8, 0, 224


@dataclass(frozen=True)
class QParams:
    """A per-tensor asymmetric uint8 quantizer; a narrower grid [qmin, qmax] clips the integers."""
    scale: float
    zero_point: int
    qmin: int = 0
    qmax: int = 255

    @property
    def low(self) -> float:
        return self.scale * (self.qmin - self.zero_point)

    @property
    def high(self) -> float:
        return self.scale * (self.qmax - self.zero_point)


def from_quantizer(quantizer) -> QParams | None:
    if quantizer is None:
        return None
    return QParams(float(quantizer.scale), int(quantizer.zero_point), int(quantizer.qmin), int(quantizer.qmax))


def from_range(low: float, high: float) -> QParams:
    """[low, high] (widened to hold 0) on 0..255, as the kit's affine_qparams computes it."""
    scale, zero_point = affine_qparams(torch.tensor(low), torch.tensor(high), 0, 255)
    return QParams(float(scale), int(zero_point))


def sum_operand(total: QParams, other: QParams, relu: bool) -> QParams:
    """The range of an addend that the quantized (ReLU'd) sum can tell apart, given the other's."""
    low = (0.0 if relu else min(total.low, 0.0)) - other.high
    return from_range(low, total.high - other.low)


def saturates_within(params: QParams, low: float, high: float) -> bool:
    """Whether `low` and `high` already quantize to (or past) the grid's ends, as ONNX Runtime's
    QuantizeLinear computes it (float32 division, rounding half to even)."""
    def q(v):
        return int(np.round(np.float32(v) / np.float32(params.scale))) + params.zero_point
    return q(low) <= params.qmin and q(high) >= params.qmax


def input_params(module: nn.Module) -> QParams | None:
    """The input quantizer of the first quantized layer of `module` (in module order), if any."""
    for m in module.modules():
        if isinstance(m, QuantLayer):
            return from_quantizer(m.input_quant) if m.weight_int is not None else None
    return None


@torch.no_grad()
def observe_ranges(model: nn.Module, names: list[str]) -> dict[str, tuple[float, float]]:
    """Min and max of the named modules' outputs on the export's calibration images, computed as
    the kit calibrates (its fake-quantized forward)."""
    ranges: dict[str, tuple[float, float]] = {}

    def hook(name):
        def record(module, args, output):
            low, high = float(output.min()), float(output.max())
            old = ranges.get(name, (low, high))
            ranges[name] = (min(low, old[0]), max(high, old[1]))
        return record

    if not names:
        return ranges
    handles = [model.get_submodule(name).register_forward_hook(hook(name)) for name in names]
    try:
        rng = torch.Generator().manual_seed(CALIBRATION_SEED)
        images = torch.randn((CALIBRATION_IMAGES, 3, CALIBRATION_SIZE, CALIBRATION_SIZE), generator=rng)
        parameter = next(model.parameters())
        for batch in images.split(8):
            model(batch.to(parameter))
    finally:
        for handle in handles:
            handle.remove()
    return ranges
