"""GPTQ (Frantar et al., ICLR 2023, "GPTQ: Accurate Post-Training Quantization for Generative
Pre-trained Transformers"), the fast form of Optimal Brain Quantization (Frantar & Alistarh,
NeurIPS 2022, "Optimal Brain Compression", which measured it on ResNets at 2-4 bits against
AdaRound and BRECQ): layer by layer, each weight rounded in turn with the error of every rounding
spread over the weights not rounded yet, so that the layer's output on its inputs moves least.

For each quantized layer in the order the network runs them, its inputs in the quantized model
(every earlier layer already done, the layer's own input quantizer applied) give the Hessian
H = X^T X of || W X - Q X ||^2 (X: one row per output position and sample, as unfolded input
patches); `_obq.round_columns` then chooses the integers. One pass of the network per layer, no
gradient steps: about 150 s for MobileNetV2 on a 2-core CPU (64 images), where `adaround` and
`brecq` take hours; not timed on a GPU yet.

Papers' settings kept: dampening 1% of H's mean diagonal, blocks of 128 columns, the step sizes
of calibration (the kit's per-channel clipping), columns in their natural order (`act_order` is
the later option of the authors' code).
Departures, ours: grouped and depthwise convolutions solve one H per group (a depthwise channel
has 9 inputs); H sums over the calibration batches in float64, and the solver works in float32.
Tried and not kept: the FP32 layer's output on the FP32 model's inputs as the target (GPTAQ's
asymmetric calibration, the drift corrected in closed form first): on 64 ZeroQ images it fitted
those images' drift and lost 32 points at MobileNetV2's 90% widths
(benchmarks/results/gptq-cpu-2026-12-08.md).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import KitError
from ...size import weight_grid
from ..modules import set_mode
from . import register_method
from ._capture import folded_fp32, for_each_call, forward_order, quant_layer_names
from ._obq import round_columns


def input_patches(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """[groups, rows, inputs per group]: what each output position of `layer` multiplies."""
    if isinstance(layer, nn.Linear):
        return x.reshape(1, -1, x.shape[-1])
    if layer.padding_mode != "zeros" or isinstance(layer.padding, str):
        raise KitError(f"method 'gptq' handles zero-padded convolutions with explicit padding, not {layer}")
    patches = F.unfold(x, layer.kernel_size, dilation=layer.dilation, padding=layer.padding, stride=layer.stride)
    samples, width, positions = patches.shape  # width = in_channels * kernel area, channel-major
    groups = layer.groups
    patches = patches.view(samples, groups, width // groups, positions)
    return patches.permute(1, 0, 3, 2).reshape(groups, samples * positions, width // groups)


def input_hessian(qmodel: nn.Module, name: str, batches) -> torch.Tensor:
    """sum X^T X over the batches, per group (float64), X the layer's quantized inputs."""
    qlayer = qmodel.get_submodule(name)
    total = None

    def add(x, _):
        nonlocal total
        if qlayer.input_quant is not None:
            x = qlayer.input_quant(x)
        rows = input_patches(qlayer.layer, x.float())
        part = (rows.transpose(1, 2) @ rows).double()
        total = part if total is None else total + part

    for_each_call(qmodel, qlayer, batches, add)
    return total


@register_method("gptq")
@torch.no_grad()
def gptq(fp32_model, qmodel, batches, *, damp=0.01, block=128, act_order=False):
    if not 0 < damp < 1 or block < 1:
        raise KitError(f"method 'gptq' needs 0 < damp < 1 and block >= 1, got damp={damp}, block={block}; "
                       "change --method-arg")
    device = next(qmodel.parameters()).device
    fp_model = folded_fp32(fp32_model).to(device)
    batches = [b.to(device) for b in batches]
    set_mode(qmodel, "quantize")
    for name in forward_order(qmodel, quant_layer_names(qmodel), batches[0]):
        qlayer = qmodel.get_submodule(name)
        if qlayer.weight_int is None:  # weights kept in float by the scheme
            continue
        hessian = input_hessian(qmodel, name, batches)
        weight = fp_model.get_submodule(name).weight.detach()
        groups = hessian.shape[0]
        rows = weight.shape[0] // groups
        scale = qlayer.weight_scale.expand(weight.shape[0]).reshape(groups, rows)
        low, high = weight_grid(qlayer.spec.weight_bits)
        integers = round_columns(weight.reshape(groups, rows, -1), hessian, scale, low, high,
                                 damp=damp, block=block, act_order=act_order)
        qlayer.set_integer_weight(integers.reshape(weight.shape).to(torch.int8), qlayer.weight_scale)
