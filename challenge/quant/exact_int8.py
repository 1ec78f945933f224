"""The exact reference runtime's convolutions on a GPU as int8 matrix products (int32 sums).

With cuDNN off (exact.py says why), PyTorch's own CUDA convolution loops over the batch, one
im2col and one GEMM per image: on an H200 that was about 1,500 ResNet18 images/s, a third of
what the same GPU does with cuDNN, and the full validation set's evaluation time. Here a
convolution with groups=1 is one integer matrix product over the whole batch instead:

    sum over taps of (q - zp) * w  =  sum (q - s) * w  +  (s - zp) * sum w

with q the stored activation (0..qmax, the exact runtime's x_int), zp its zero point and s a
shift (0 or 128) that puts q - s in int8's range; padding (q - zp = 0, i.e. q = zp) becomes
q - s = zp - s. torch._int_mm (cuBLASLt, int8 operands, int32 accumulation) computes the
first sum. int32 holds every partial sum exactly, since |q - s| <= 128, |s - zp| <= 255 and
applies() requires 383 * max_c sum|w_c| below 2**31 (the challenge models' worst case, 4,608
taps of 127, is ten times under it), so the summation order does not matter. The integer
result is converted to float32 once, rounded to nearest: the same number the float32 path
gives (exact below 2**24; above it the base-16 digits' recombination is also one correctly
rounded addition of the exact sum). So predictions stay the same bits on every device:
tests/challenge/test_exact.py compares the two paths.

The passes around the product (quantizing the activations into the int8 copy; the correction,
scale and bias after it) are one Triton kernel each where Triton runs (exact_kernels.py), and
PyTorch's ops elsewhere, with the same results. Depthwise convolutions (groups > 1) are
exact_depthwise.py's.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import exact_kernels

ALIGN = 8  # _int_mm wants the inner and output dimensions in multiples of 8
INT32_LIMIT = 2 ** 31


def applies(layer, device: torch.device) -> bool:
    """Whether this layer's exact convolution runs as an int8 product on `device`: a CUDA GPU
    with int8 tensor cores (compute capability 8.0 or later, not ROCm), a groups=1 convolution
    with numeric padding, activations of at most 8 bits, int8 weights, and sums within int32."""
    conv, quantizer = layer.layer, layer.input_quant
    device = torch.device(device)
    if device.type != "cuda" or torch.version.hip is not None:
        return False
    if torch.cuda.is_available() and torch.cuda.get_device_capability(device) < (8, 0):
        return False
    if not (isinstance(conv, nn.Conv2d) and conv.groups == 1 and not isinstance(conv.padding, str)
            and quantizer.qmin == 0 and quantizer.qmax <= 255):
        return False
    weight = layer.weight_int
    if int(weight.min()) < -128 or int(weight.max()) > 127:
        return False
    # |q - s| <= 128 and |s - zp| <= 255: every partial sum and the corrected one within int32.
    widest = int(weight.to(torch.int64).abs().flatten(1).sum(dim=1).max())
    return (128 + 255) * widest < INT32_LIMIT


def _round_up(value: int) -> int:
    return -(-value // ALIGN) * ALIGN


def constants(layer, device: torch.device, zero_point: int, scale: torch.Tensor, bias: torch.Tensor | None) -> dict:
    """The layer's int8 weight matrix (K x Cout, padded to multiples of 8), the correction, and
    the numbers the activations are quantized with and the sums scaled by (per output channel)."""
    weight = layer.weight_int.to(device=device, dtype=torch.int32)
    cout = weight.shape[0]
    quantizer = layer.input_quant
    shift = 0 if quantizer.qmax <= 127 else 128
    # Taps ordered (kh, kw, C), as the patches are gathered from a channels-last tensor.
    matrix = weight.permute(0, 2, 3, 1).reshape(cout, -1)
    k = matrix.shape[1]
    padded = torch.zeros(_round_up(cout), _round_up(k), dtype=torch.int8, device=device)
    padded[:cout, :k] = matrix.to(torch.int8)
    correction = ((shift - zero_point) * matrix.sum(dim=1)).to(torch.int32)  # per output channel; applies() bounds it
    return {"matrix": padded.t(), "cout": cout, "shift": shift, "zero_point": zero_point,
            "offset": zero_point - shift, "correction": correction, "fused": exact_kernels.enabled(device),
            **exact_kernels.quantizer_numbers(quantizer, zero_point),
            "scale": scale.reshape(-1).contiguous(), "bias": None if bias is None else bias.reshape(-1).contiguous()}


def _patches(y: torch.Tensor, conv: nn.Conv2d) -> tuple[torch.Tensor, int, int]:
    """(N*Ho*Wo, kh*kw*C) rows of the receptive fields of y (N, Hp, Wp, C), padded already."""
    (kh, kw), (sh, sw), (dh, dw) = conv.kernel_size, conv.stride, conv.dilation
    n, hp, wp, c = y.shape
    ho, wo = (hp - dh * (kh - 1) - 1) // sh + 1, (wp - dw * (kw - 1) - 1) // sw + 1
    s_n, s_h, s_w, s_c = y.stride()
    fields = y.as_strided((n, ho, wo, kh, kw, c), (s_n, s_h * sh, s_w * sw, s_h * dh, s_w * dw, s_c))
    return fields.reshape(n * ho * wo, kh * kw * c), ho, wo  # a view for 1x1 stride 1, else one copy


def int8_input(layer, x: torch.Tensor, const: dict) -> torch.Tensor:
    """x (float32 activations, N, C, H, W) as the int8 channels-last, padded q - s of the
    exact runtime: round(x / scale) + zero_point, clamped, minus the shift."""
    quantize = exact_kernels.quantize_nhwc if const["fused"] else exact_kernels.quantize_nhwc_torch
    return quantize(x, const["reciprocal"], const["low"], const["high"], const["offset"],
                    layer.layer.padding, const["zero_point"] - const["shift"])


def integer_sums(layer, y: torch.Tensor, const: dict) -> tuple[torch.Tensor, int, int]:
    """The int32 sums sum (q - s) * w over each receptive field of y (int8, N, Hp, Wp, C):
    (N*Ho*Wo, >= Cout) rows, and Ho, Wo."""
    rows, ho, wo = _patches(y, layer.layer)
    if rows.shape[1] != const["matrix"].shape[0]:
        rows = F.pad(rows, (0, const["matrix"].shape[0] - rows.shape[1]))
    if rows.shape[0] <= 16:  # _int_mm's smallest product: pad rows, drop them after
        return torch._int_mm(F.pad(rows, (0, 0, 0, 17 - rows.shape[0])), const["matrix"])[:rows.shape[0]], ho, wo
    return torch._int_mm(rows, const["matrix"]), ho, wo


def scaled(sums: torch.Tensor, const: dict) -> torch.Tensor:
    """float32(sums + correction) * (input scale * weight scale) (+ bias): (rows, Cout)."""
    finish = exact_kernels.finish if const["fused"] else exact_kernels.finish_torch
    return finish(sums, const["correction"], const["scale"], const["bias"], const["cout"])


def forward(layer, x: torch.Tensor, const: dict) -> torch.Tensor:
    """The layer's exact float32 output from its float32 input: NCHW shape, channels-last memory."""
    sums, ho, wo = integer_sums(layer, int8_input(layer, x, const), const)
    return scaled(sums, const).view(x.shape[0], ho, wo, const["cout"]).permute(0, 3, 1, 2)
