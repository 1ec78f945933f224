"""Generation at tensor-core speed: bf16 autocast and channels-last memory on a GPU.

A distillation step is the frozen model's forward and backward pass over a large batch (256
images for Genie-D), plus the generator network's. In float32/TF32 with NCHW tensors the H200
runs MobileNetV2's depthwise convolutions and BatchNorms on slow layouts; in bf16 with
channels-last tensors cuDNN uses its tensor-core NHWC kernels. What the images are optimised
against stays in float32: the BatchNorm statistics are computed from the recorded inputs
upcast to float32 (`as_float32`), the losses, the latents and the pixels, and Adam's state.

`precision`: "auto" (bf16 on CUDA, float32 on the CPU, whose bf16 convolutions are slower than
its float32 ones), "bf16" or "fp32" (the former float32 path, on any device).
The autocast weight cache is off: a CUDA graph must not capture a cache that outlives it.
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


def channel_var_mean(x: torch.Tensor, dims: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Unbiased variance and mean over `dims`, in float32, of a float32 or bf16 tensor.

    For bf16 both come from float32-accumulating reductions of x itself (the mean, and the norm
    for the sum of squares), without a float32 copy of x: the copy and its Welford reduction were
    a tenth of a Genie-D step's GPU time on an H200. The one-pass variance loses nothing that
    matters at these sizes: activations are O(1) and float32 keeps 7 digits of E[x^2] - E[x]^2.
    """
    if x.dtype == torch.float32:
        return torch.var_mean(x, dim=dims)
    count = 1
    for d in dims:
        count *= x.shape[d]
    mean = x.mean(dim=dims, dtype=torch.float32)
    squares = torch.linalg.vector_norm(x, 2, dim=dims, dtype=torch.float32).pow(2)
    var = (squares / count - mean.pow(2)).clamp(min=0) * (count / max(count - 1, 1))
    return var, mean


def as_float32(x: torch.Tensor) -> torch.Tensor:
    """A recorded activation in float32 for statistics (a no-op for float32 tensors)."""
    return x if x.dtype == torch.float32 else x.float()


def channels_last_input(x: torch.Tensor, bf16: bool) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if bf16 and x.is_cuda and x.dim() == 4 else x
