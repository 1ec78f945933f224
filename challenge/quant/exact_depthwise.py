"""The exact runtime's depthwise convolutions on a GPU as one fused kernel (exact_kernels.py).

PyTorch's CUDA depthwise kernel wants NCHW input, and the exact runtime's activations arrive
channels last (the int8 products write them so), so each depthwise layer cost a layout copy
besides its multiply, round, clamp, convolution, scale and bias passes: MobileNetV2's 17 such
layers were a third of its evaluation time on an H200. The kernel reads the activations in any
layout, quantizes each tap as it loads it, sums the integer products in int32 and scales the
sums: one pass, the same float32 numbers (exact_kernels.py says why). Elsewhere (a CPU, no
Triton, DFQ_EXACT_KERNELS=0) exact.py's own path runs.
"""
from __future__ import annotations

import torch
from torch import nn

from . import exact_kernels


def applies(layer, device: torch.device, const: dict) -> bool:
    """A depthwise convolution (one filter per channel, numeric padding) whose float32 sums are
    exact (one pass, exact.py) and whose integer sums fit int32, where the kernels run."""
    conv = layer.layer
    if not (isinstance(conv, nn.Conv2d) and conv.groups == conv.in_channels == conv.out_channels
            and not isinstance(conv.padding, str) and const["passes"] == 1 and const["dtype"] == torch.float32):
        return False
    return exact_kernels.enabled(device)


def constants(layer, const: dict) -> dict:
    """The weights as int32 (C, KH, KW), the quantizer's numbers, the flat scale and bias."""
    quantizer, zero_point = layer.input_quant, const["zero_point"]
    return {"weight": const["weight"].squeeze(1).to(torch.int32).contiguous(),
            **exact_kernels.quantizer_numbers(quantizer, zero_point),
            "scale": const["scale"].reshape(-1).contiguous(),
            "bias": None if const["bias"] is None else const["bias"].reshape(-1).contiguous()}


def forward(layer, x: torch.Tensor, const: dict) -> torch.Tensor:
    conv = layer.layer
    return exact_kernels.depthwise(x, const["weight"], const["reciprocal"], const["low"], const["high"],
                                   conv.stride, conv.padding, conv.dilation, const["scale"], const["bias"])
