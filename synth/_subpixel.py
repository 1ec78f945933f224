"""Genie's generator upsamples twice ("nearest x2, then a 3x3 convolution"); here each pair is one
sub-pixel convolution at the low resolution, its four output phases interleaved in the map's own
memory layout.

Why: at Genie-D's batch of 256 the upsampled 64-channel 224x224 map alone is 822M values that the
upsampling, its casts under autocast and the convolution read and write at every step. And on a
GPU in bf16 the generator runs channels-last (tensor_cores): F.pixel_shuffle hands back a
channels-first map, and PyTorch's BatchNorm kernels for channels-first maps run one thread block
per channel, 3 of them for the output BatchNorm's 256 x 224 x 224 values per channel. Those
BatchNorms took 43 of a MobileNetV2 step's 103 ms on an H100 (issue 20, call 18's profile);
channels-last maps take PyTorch's channels-last kernels, which spread the pixels over the GPU.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from synth._precision import is_channels_last


def phase_taps() -> torch.Tensor:
    """taps[p, r, d] = 1 where tap d of a 3x3 kernel, for output phase p of a x2 nearest upsampling,
    reads low-resolution offset r - 1: output row 2i + p, tap d, reads input row i + (p + d - 1) // 2."""
    taps = torch.zeros(2, 3, 3)
    for phase in range(2):
        for tap in range(3):
            taps[phase, (phase + tap - 1) // 2 + 1, tap] = 1
    return taps


def interleave_phases(y: torch.Tensor) -> torch.Tensor:
    """(N, 4C, H, W) with channels ordered (row phase p, column phase q, channel c) -> (N, C, 2H, 2W),
    out[n, c, 2i + p, 2j + q] = y[n, (2p + q) C + c, i, j], in y's layout (one copy). With the phase
    outermost, a channels-last copy moves runs of C contiguous values."""
    n, channels4, height, width = y.shape
    c = channels4 // 4
    if is_channels_last(y):
        pixels = y.permute(0, 2, 3, 1).view(n, height, width, 2, 2, c)  # its memory: no copy
        out = pixels.permute(0, 1, 3, 2, 4, 5).reshape(n, 2 * height, 2 * width, c)
        return out.permute(0, 3, 1, 2)
    return y.view(n, 2, 2, c, height, width).permute(0, 3, 4, 1, 5, 2).reshape(n, c, 2 * height, 2 * width)


def upsampled_conv(x: torch.Tensor, conv: nn.Conv2d, taps: torch.Tensor) -> torch.Tensor:
    """conv(nearest x2 upsampling of x) for a 3x3, padding 1 convolution, without the upsampled tensor.

    Each of the four output phases (row and column parity) is a 3x3 convolution of x itself whose
    taps are sums of the original kernel's; one convolution with 4x the output channels computes
    all four, and interleave_phases puts them in place. Exact up to float summation order, and the
    gradients reach the same weights. `taps`: phase_taps() on the weight's device (a step captured
    as a CUDA graph may not copy them from the host)."""
    weight = conv.weight
    taps = taps.to(weight.dtype)
    out_channels, in_channels = weight.shape[:2]
    kernel = torch.einsum("prd,oide,qse->pqoirs", taps, weight, taps).reshape(out_channels * 4, in_channels, 3, 3)
    bias = conv.bias.repeat(4) if conv.bias is not None else None
    return interleave_phases(F.conv2d(x, kernel, bias, padding=1))
