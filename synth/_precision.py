"""Generation in bf16: autocast and channels-last memory on a GPU, an option of every generator.

`precision` (a generator keyword, `--gen-arg precision=bf16`): "fp32" (the float32 path, on any
device), "bf16" (autocast, on any device), or "auto" (bf16 on CUDA, float32 on the CPU, whose
bf16 convolutions are slower than its float32 ones). Under bf16 the frozen model's and the
generator network's forward and backward passes run in bf16 with channels-last tensors (the
tensor-core NHWC kernels); what the images are optimised against stays in float32: the
BatchNorm statistics (float32 reductions of the recorded inputs), the losses, the latents, the
pixels and Adam's state. The autocast weight cache is off: a CUDA graph must not capture a
cache that outlives it.

Defaults, from measurements (benchmarks/results/h200-speed.md): Genie-D "auto": its BatchNorm
work runs in Triton kernels on bf16 channels-last maps (synth/_fused_bn.py), and its whole
step, where compiled (`compiled=step`), is 1.4x faster in bf16 than in float32 (0.066 against
0.094 s a MobileNetV2 step at batch 256, one H100); eagerly bf16 did not pay (0.181 against
0.188 s on an H200: the eager step is bound by elementwise work and BatchNorms, which only
fusing speeds up). ZeroQ and GDFQ "fp32": not compiled, ZeroQ was slower in bf16 (0.037
against 0.030 s a step at 64 images) and GDFQ's gain (0.047 to 0.034 s with its CUDA graph) is
small in a run.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

from challenge.errors import KitError

PRECISIONS = ("auto", "bf16", "fp32")


def uses_bf16(precision: str, device: torch.device) -> bool:
    if precision not in PRECISIONS:
        raise KitError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    return precision == "bf16" or (precision == "auto" and device.type == "cuda")


@contextlib.contextmanager
def tensor_cores(networks: list[nn.Module], precision: str, device: torch.device):
    """bf16 autocast, and on a GPU channels-last parameters for `networks` (restored on exit)."""
    if not uses_bf16(precision, device):
        yield False
        return
    channels_last = device.type == "cuda"
    if channels_last:
        for net in networks:
            net.to(memory_format=torch.channels_last)
    try:
        with torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=False):
            yield True
    finally:
        if channels_last:
            for net in networks:
                net.to(memory_format=torch.contiguous_format)


def channel_var_mean(x: torch.Tensor, dims: tuple[int, ...], correction: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Variance (unbiased by default) and mean over `dims`, in float32, of a float32 or bf16 tensor.

    For bf16 both come from float32-accumulating reductions of x itself (the mean, and the norm
    for the sum of squares), without a float32 copy of x: the copy and its Welford reduction were
    a tenth of a Genie-D step's GPU time on an H200. The one-pass variance loses nothing that
    matters at these sizes: activations are O(1) and float32 keeps 7 digits of E[x^2] - E[x]^2.
    """
    if x.dtype == torch.float32:
        return torch.var_mean(x, dim=dims, correction=correction)
    count = 1
    for d in dims:
        count *= x.shape[d]
    mean = x.mean(dim=dims, dtype=torch.float32)
    squares = torch.linalg.vector_norm(x, 2, dim=dims, dtype=torch.float32).pow(2)
    var = (squares / count - mean.pow(2)).clamp(min=0) * (count / max(count - correction, 1))
    return var, mean


def is_channels_last(x: torch.Tensor) -> bool:
    """Whether x is a 4-d map laid out channels-last (and not also plainly contiguous)."""
    return x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)


def channels_last_input(x: torch.Tensor, bf16: bool) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if bf16 and x.is_cuda and x.dim() == 4 else x
