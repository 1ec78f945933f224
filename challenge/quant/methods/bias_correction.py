"""Empirical bias correction (Nagel et al. 2019, "Data-Free Quantization Through Weight
Equalization and Bias Correction", section 4.2), on the synthetic calibration batches.

Quantization shifts the mean of a layer's output: E[W~x~] != E[Wx]. For each layer in the order
the network runs them, the per-channel mean of its output in the FP32 model and in the quantized
model (every earlier layer already corrected) are measured on the calibration batches, and the
difference is added to the layer's bias, so the next layer sees the corrected model.
Departure from the paper: its analytic variant (expected pre-activations from BatchNorm
statistics, no data) is not implemented; the empirical one it describes is, on synthetic data.
The integers and scales are unchanged; only the (float, already stored) biases move.
"""
from __future__ import annotations

import torch

from ..modules import set_mode
from . import register_method
from ._capture import folded_fp32, for_each_call, forward_order, quant_layer_names


def channel_means(model, name, batches) -> torch.Tensor:
    """Mean of the layer's output over the samples (and positions), per output channel (float64)."""
    total, count = None, 0

    def add(_, output):
        nonlocal total, count
        dims = [d for d in range(output.dim()) if d != 1]
        sums = output.double().sum(dim=dims)
        total = sums if total is None else total + sums
        count += output.numel() // output.shape[1]

    for_each_call(model, model.get_submodule(name), batches, add)
    return total / count


@register_method("bias-correction")
@torch.no_grad()
def bias_correction(fp32_model, qmodel, batches):
    device = next(qmodel.parameters()).device
    fp_model = folded_fp32(fp32_model).to(device)
    batches = [b.to(device) for b in batches]
    set_mode(qmodel, "quantize")
    for name in forward_order(qmodel, quant_layer_names(qmodel), batches[0]):
        bias = qmodel.get_submodule(name).layer.bias
        if bias is None:  # the artifact's layout is fixed by the architecture: no bias to add to
            continue
        shift = channel_means(fp_model, name, batches) - channel_means(qmodel, name, batches)
        bias.add_(shift.to(bias.dtype))
