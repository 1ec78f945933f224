"""The quantizers the export adds at block outputs, so that ONNX Runtime keeps every layer integer.

The kit quantizes a tensor only where a conv/linear layer reads it. A residual add, a concatenation
or a pool between two layers is computed in float, so in ONNX the conv before it cannot requantize
its output (no QLinearConv) and the add, the concatenation and the pool stay float too. The
export therefore quantizes those tensors as well, with parameters taken from the model's own
quantizers (no data is needed, and an artifact always exports to the same file):

- `from_quantizer`: a tensor that reaches a quantized layer through selections only (a ReLU, a max
  pool, a channel shuffle or split, a concatenation) gets that layer's own input quantizer. The
  quantization is elementwise and monotone, so it commutes with those selections: the layer reads
  exactly the integers the kit computes (ShuffleNetV2's branch outputs, concatenations and
  stem, MobileNetV2's residual sums, the average pool's output on the classifier's grid).
- `sum_operand`: an addend of a residual add whose sum is quantized on [lo, hi] and whose other
  addend lies on [lo_b, hi_b] only matters on [lo - hi_b, hi - lo_b]: beyond it the sum saturates
  anyway, so that grid clips nothing the sum keeps (with a ReLU after the add, [-hi_b, hi - lo_b]).
  ResNet's identity blocks (the shortcut is the block input, on its known grid).
- Where the model bounds nothing, a choice, measured against the reference runtime's logits on
  64 real images (RMS error of the logits, whose standard deviation is 1.1 for ResNet18 and
  ShuffleNetV2, 2.8 for MobileNetV2; the export before these quantizers, with float adds: 0.002
  on ResNet18, 0.126 on MobileNetV2):
  `residual_range`: ResNet's block output, the residual stream that later blocks add back in
  full, on twice the next conv's input range, at exactly twice its step (the kit clamps the
  conv's input, not the stream): the conv reads the stream's integers clipped at 127, every
  other step of its own grid (qdq.quantize_input; ResNet18 0.011 when requantized through
  float, 0.0115 so, against 0.042 with the stream on the conv's grid);
  `shortcut_range`: a downsampling shortcut, where both addends are conv outputs, on the block
  output's range on either side (the conv branch then by `sum_operand`);
  `QParams.widened`: MobileNetV2's residual branch on its sum's own range (the branch adds a
  correction to x: 0.159, against 0.179 on the lossless, twice as coarse grid; its residual
  stream widened like ResNet's: 0.19);
  `pool_range`: the last feature map before the global average pool on four times the
  classifier's input range (an average of 49 values on a grid 4 times coarser keeps the
  classifier's input within a fraction of its step; ShuffleNetV2 0.032 with 4 or 8, 0.033
  with min-max ranges of Gaussian noise images). Ranges calibrated at export on Gaussian noise
  images were tried first and dropped: they are half the real images' (ResNet18 0.116).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..quant.modules import QuantLayer
from ..quant.observers import affine_qparams

RESIDUAL_RANGE = 2.0  # a ResNet block output's range, in multiples of the next conv's input range
SHORTCUT_RANGE = 1.0  # a downsampling shortcut's range, in multiples of its block output's
POOL_RANGE = 4.0  # the pool's input range, in multiples of the classifier's input range


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

    def widened(self) -> "QParams":
        """The same range on the full 0..255 grid (an addend is not clipped to a narrow grid)."""
        return from_range(self.low, self.high)


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


def residual_range(reader: QParams) -> QParams:
    if reader.zero_point == 0 and reader.qmin == 0:  # a step of exactly RESIDUAL_RANGE of the reader's
        return QParams(float(np.float32(reader.scale) * np.float32(RESIDUAL_RANGE)), 0)
    return from_range(RESIDUAL_RANGE * reader.low, RESIDUAL_RANGE * reader.high)


def coarser_by(have: QParams | None, wanted: QParams) -> int | None:
    """m when `have` is `wanted`'s grid at m times its step (both zero points 0, m > 1)."""
    if have is None or have.zero_point or wanted.zero_point or have.qmin or wanted.qmin:
        return None
    m = round(have.scale / wanted.scale)
    exact = np.float32(have.scale) == np.float32(wanted.scale) * np.float32(m)
    return m if m > 1 and exact and have.qmax * m >= wanted.qmax else None


def shortcut_range(total: QParams) -> QParams:
    return from_range(-SHORTCUT_RANGE * total.high, SHORTCUT_RANGE * total.high)


def pool_range(classifier_input: QParams) -> QParams:
    return from_range(0.0, POOL_RANGE * classifier_input.high)


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
