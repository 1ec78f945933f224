"""GPTQ (Frantar et al., ICLR 2023, "GPTQ: Accurate Post-Training Quantization for Generative
Pre-trained Transformers"), the fast form of Optimal Brain Quantization (Frantar & Alistarh,
NeurIPS 2022, "Optimal Brain Compression", which measured it on ResNets at 2-4 bits against
AdaRound and BRECQ): layer by layer, each weight rounded in turn with the error of every rounding
spread over the weights not rounded yet, so that the layer's output on its inputs moves least.

For each quantized layer in the order the network runs them, its inputs in the quantized model
(every earlier layer already done, the layer's own input quantizer applied) give the Hessian
H = X^T X of || W X - Q X ||^2 (X: one row per output position and sample, as unfolded input
patches); `_obq.round_columns` then chooses the integers. One pass of the network per layer, no
gradient steps: seconds on a GPU, minutes on a CPU, where `adaround` and `brecq` take hours.

Papers' settings kept: dampening 1% of H's mean diagonal, blocks of 128 columns, the step sizes
of calibration (the kit's per-channel clipping), columns in their natural order (`act_order` is
the later option of the authors' code).
Departures, ours: grouped and depthwise convolutions solve one H per group (a depthwise channel
has 9 inputs); H sums over the calibration batches in float64.
`asymmetric=True` targets the FP32 layer's output on the FP32 model's inputs instead (AdaRound's
asymmetric reconstruction; GPTAQ, Li et al. 2025): the drift that earlier layers' rounding left in
the inputs is first corrected in closed form (`drift_corrected`), then the columns are rounded.
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


def input_statistics(qmodel: nn.Module, fp_model: nn.Module | None, name: str, batches):
    """Per group, summed over the batches in float64: H = Xq^T Xq, X_q the layer's quantized inputs,
    and with `fp_model` also C = Xq^T Xf, Xf the same layer's inputs in the FP32 model."""
    qlayer = qmodel.get_submodule(name)
    fp_inputs = []
    if fp_model is not None:
        for_each_call(fp_model, fp_model.get_submodule(name), batches, lambda x, _: fp_inputs.append(x))
    sums = {"hessian": None, "cross": None}

    def add(key, part):
        sums[key] = part.double() if sums[key] is None else sums[key] + part.double()

    def collect(x, _):
        if qlayer.input_quant is not None:
            x = qlayer.input_quant(x)
        rows = input_patches(qlayer.layer, x.float()).transpose(1, 2)
        add("hessian", rows @ rows.transpose(1, 2))
        if fp_inputs:
            add("cross", rows @ input_patches(qlayer.layer, fp_inputs.pop(0).float()))

    for_each_call(qmodel, qlayer, batches, collect)
    return sums["hessian"], sums["cross"]


def drift_corrected(weight: torch.Tensor, hessian: torch.Tensor, cross: torch.Tensor, damp: float) -> torch.Tensor:
    """The float weight W' whose output on the quantized inputs best matches W's on the FP32 inputs,
    min ||Xf W^T - Xq W'^T||^2 + lambda ||W' - W||^2 (lambda: the dampening; directions the
    samples never span keep W): W'^T = W^T + (H + lambda)^-1 (C - H) W^T."""
    weight = weight.to(hessian.dtype)
    mean_diagonal = hessian.diagonal(dim1=-2, dim2=-1).mean(dim=-1).clamp(min=1e-12)
    eye = torch.eye(hessian.shape[-1], dtype=hessian.dtype, device=hessian.device)
    damped = hessian + damp * mean_diagonal[:, None, None] * eye
    return weight + torch.linalg.solve(damped, (cross - hessian) @ weight.transpose(1, 2)).transpose(1, 2)


@register_method("gptq")
@torch.no_grad()
def gptq(fp32_model, qmodel, batches, *, damp=0.01, block=128, act_order=False, asymmetric=False):
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
        hessian, cross = input_statistics(qmodel, fp_model if asymmetric else None, name, batches)
        groups = hessian.shape[0]
        weight = fp_model.get_submodule(name).weight.detach()
        rows = weight.shape[0] // groups
        target = weight.reshape(groups, rows, -1)
        if asymmetric:
            target = drift_corrected(target, hessian, cross, damp)
        scale = qlayer.weight_scale.expand(weight.shape[0]).reshape(groups, rows)
        low, high = weight_grid(qlayer.spec.weight_bits)
        integers = round_columns(target, hessian, scale, low, high, damp=damp, block=block, act_order=act_order)
        qlayer.set_integer_weight(integers.reshape(weight.shape).to(torch.int8), qlayer.weight_scale)
