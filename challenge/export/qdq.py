"""A conv or linear layer of an artifact as QuantizeLinear/DequantizeLinear (QDQ) nodes.

The kit's quantized layer (quant/modules.py, quant/exact.py) becomes, in ONNX:

    x -> QuantizeLinear(s_x, zp_x) uint8 [-> Clip(qmin, qmax) uint8] -> DequantizeLinear -> Conv/Gemm
    w_int int8 [C_out, ...] -> DequantizeLinear(s_w [C_out], zp 0, axis 0) ---------------^
    round(bias / (s_x * s_w)) int32 -> DequantizeLinear(s_x * s_w, axis 0) --------------^

- The weights are the artifact's integers themselves, sub-8-bit ones too, in int8 containers:
  ONNX Runtime 1.32 runs 4-bit (INT4) DequantizeLinear, but only in float (its QDQ fusion into
  QLinearConv takes 8-bit weights), so int8 keeps the integer kernels.
- Activations are uint8 with the artifact's scale and zero point; a grid smaller than 0..255
  (the 7-bit `challenge2021`, 6- and 4-bit activations) is a Clip on the uint8 integers,
  exactly the kit's clamp.
- The bias is quantized to int32 at the accumulator's scale, the form QLinearConv adds; the
  kit keeps it in float, so the two differ by at most half an accumulator step.
Layers that stay float in the artifact (a layer config's `quantize = false`, the `fp32`
scheme) are plain Conv/Gemm nodes with float32 initializers.
"""
from __future__ import annotations

import numpy as np
from torch import nn

from ..errors import KitError
from ..quant.modules import QuantLayer
from .graph import Graph
from .qparams import coarser_by, from_quantizer

INT32_LIMIT = 2**31 - 1


def _numpy(tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def quantize_input(g: Graph, name: str, quantizer, x: str) -> str:
    """The kit's per-tensor asymmetric activation quantization: Q -> (Clip) -> DQ; nothing new
    when x is already that (a block output the export quantized with this layer's quantizer).
    On a grid of m times its step (zero points 0: ResNet's residual stream), x is read as it
    is, its integers clipped at qmax / m: the kit's grid, every m-th step (a requantization
    would give the same multiples of m, through float)."""
    params, have = from_quantizer(quantizer), g.params_of(x)
    m = coarser_by(have, params)
    if m:
        return g.clip_integers(x, params.qmax // m, f"{name}.input")
    return g.quantize(x, params, f"{name}.input")


def _weight(g: Graph, name: str, layer, module: nn.Module) -> str:
    if not isinstance(layer, QuantLayer) or layer.weight_int is None:
        return g.constant(f"{name}.weight", _numpy(module.weight).astype(np.float32))
    integers = _numpy(layer.weight_int).astype(np.int8)
    scale = _numpy(layer.weight_scale).astype(np.float32)
    per_channel = layer.spec.per_channel
    scale = scale if per_channel else scale.reshape(())
    zero_point = np.zeros(scale.shape, np.int8)
    inputs = [g.constant(f"{name}.weight.int", integers), g.constant(f"{name}.weight.scale", scale),
              g.constant(f"{name}.weight.zero_point", zero_point)]
    return g.op("DequantizeLinear", inputs, f"{name}.weight.dq", axis=0)


def _bias(g: Graph, name: str, layer, module: nn.Module, input_scale: float | None) -> str | None:
    if module.bias is None:
        return None
    bias = _numpy(module.bias).astype(np.float32)
    if input_scale is None:
        return g.constant(f"{name}.bias", bias)
    # The accumulator's scale, one float32 per channel, as exact.py computes it (and as
    # QLinearConv does: the float32 product of the two float32 scales, correctly rounded).
    scale = (np.float64(input_scale) * _numpy(layer.weight_scale).astype(np.float64))
    scale = np.broadcast_to(scale.astype(np.float32), bias.shape).copy()
    integers = np.round(bias.astype(np.float64) / scale.astype(np.float64))
    if np.abs(integers).max(initial=0) > INT32_LIMIT:
        raise KitError(f"layer {name!r}: its bias does not fit int32 at the accumulator's scale; "
                       "this artifact cannot be exported as QDQ")
    inputs = [g.constant(f"{name}.bias.int", integers.astype(np.int32)), g.constant(f"{name}.bias.scale", scale)]
    return g.op("DequantizeLinear", inputs, f"{name}.bias.dq", axis=0)


def emit_layer(g: Graph, name: str, layer: nn.Module, x: str) -> str:
    """A QuantLayer (or a plain Conv2d/Linear kept in float) applied to x; returns its output."""
    module = layer.layer if isinstance(layer, QuantLayer) else layer
    quantizer = layer.input_quant if isinstance(layer, QuantLayer) else None
    if quantizer is not None:
        x = quantize_input(g, name, quantizer, x)
    weight = _weight(g, name, layer, module)
    both = quantizer is not None and isinstance(layer, QuantLayer) and layer.weight_int is not None
    bias = _bias(g, name, layer, module, g.params_of(x).scale if both else None)
    inputs = [x, weight] + ([bias] if bias is not None else [])
    if isinstance(module, nn.Linear):
        return g.op("Gemm", inputs, name, transB=1)
    if not isinstance(module, nn.Conv2d) or module.padding_mode != "zeros" or isinstance(module.padding, str):
        raise NotImplementedError(f"layer {name!r}: only Conv2d with numeric zero padding and Linear are exported")
    pad_h, pad_w = module.padding
    return g.op("Conv", inputs, name, kernel_shape=list(module.kernel_size), strides=list(module.stride),
                pads=[pad_h, pad_w, pad_h, pad_w], dilations=list(module.dilation), group=module.groups)
