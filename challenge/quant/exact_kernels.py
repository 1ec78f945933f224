"""Fused Triton kernels for the exact runtime's convolutions on a GPU: the same bits, fewer passes.

Around each int8 product (exact_int8.py), PyTorch's ops walk the activations many times: a
float32 multiply, round, offset and clamp, then an int8 channels-last copy before it; the int32
correction, the float conversion, the scale and the bias after it. A depthwise layer adds a
layout copy and its own passes. On an H200 those passes, not the products, were most of the
evaluation time. Each kernel here does one side in one pass, computing the same IEEE float32
operations in the same order, so the numbers are the ones PyTorch's ops give:

- `quantize_nhwc`: x (N, C, H, W, any strides) -> int8 (N, H+2ph, W+2pw, C),
  q = round(clamp(x * r, lo, hi)) + offset. Clamping to integer bounds before rounding equals
  rounding first (round is monotonic and keeps integers). Rounding is to nearest even by adding
  and subtracting 1.5 * 2**23: exact for |v| <= 2**22, and the clamp keeps |v| under 400.
  A NaN activation counts as 0 (q = zero point) here, in the twins and in exact.integer_input,
  so that a broken model still gives the same numbers everywhere.
- `finish`: acc (M, >= Cout) int32 -> float32 (M, Cout),
  out = float32(acc + correction) * scale (+ bias): two separately rounded operations, compiled
  with floating-point contraction off, so no fused multiply-add rounds them once.
- `depthwise`: a depthwise convolution from the float32 activations: each tap quantized as
  above, the integer products summed in int32 (exact, so in any order), then scaled as `finish`.

The kernels are in triton_kernels.py. Each `*_torch` function is a kernel's twin in PyTorch's ops: the path without the kernels.
Each process checks the kernels against their twins once, on small tensors that hold rounding
ties, before it uses them; without Triton, or if that check fails, the twins run
(DFQ_EXACT_KERNELS=0 chooses them too). Under TRITON_INTERPRET=1 the kernels run on the CPU,
which is how the tests check them without a GPU.
"""
from __future__ import annotations

import contextlib
import functools
import os
import sys

import torch
import torch.nn.functional as F

TILE_ROWS, TILE_COLUMNS = 64, 32  # finish: (rows, channels) tiles
ROW_PIXELS, ROW_CHANNELS = 16, 64  # the others: pixels of one image row by channels
INDEX_LIMIT = 2 ** 31  # the kernels index in int32


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


@functools.lru_cache(maxsize=None)
def _compiled():
    """triton_kernels, or None without Triton (it comes with PyTorch's CUDA wheels on Linux)."""
    try:
        from . import triton_kernels
    except ImportError:
        return None
    return triton_kernels


def quantizer_numbers(quantizer, zero_point: int) -> dict:
    """What the kernels and their twins quantize with: x * reciprocal, clamped to [low, high],
    is x_int - zero_point (exact.integer_input's numbers: the float32 reciprocal of the scale)."""
    return {"reciprocal": float(torch.reciprocal(quantizer.scale.float())),
            "low": float(quantizer.qmin - zero_point), "high": float(quantizer.qmax - zero_point)}


def _launch_options() -> dict:
    # Contraction off: a * b + c stays two roundings, as PyTorch's separate ops round it.
    return {} if interpreting() else {"enable_fp_fusion": False}


def _row_tiles(rows: int, width: int, channels: int) -> tuple[int, int, int]:
    return rows, -(-width // ROW_PIXELS), -(-channels // ROW_CHANNELS)


def _usable(x: torch.Tensor, out_elements: int, dtype=torch.float32) -> bool:
    """Whether a kernel takes x: its dtype, and every element index into x (any strides) and its
    output within int32 (a batch of 256 is far under it; a huge --eval-batch-size is not)."""
    reach = sum((size - 1) * stride for size, stride in zip(x.shape, x.stride())) + 1
    return x.dtype == dtype and reach < INDEX_LIMIT and out_elements < INDEX_LIMIT


def _on(x: torch.Tensor):
    """Launch on x's GPU (Triton launches on the current device)."""
    return torch.cuda.device(x.device) if x.is_cuda else contextlib.nullcontext()


def quantize_nhwc(x: torch.Tensor, reciprocal: float, low: float, high: float, offset: int,
                  padding: tuple[int, int], pad_value: int) -> torch.Tensor:
    """round(clamp(x * reciprocal, low, high)) + offset as int8, channels last, its border
    `pad_value`; x is float32 (N, C, H, W), any strides."""
    n, c, h, w = x.shape
    ph, pw = padding
    if not _usable(x, n * (h + 2 * ph) * (w + 2 * pw) * c):
        return quantize_nhwc_torch(x, reciprocal, low, high, offset, padding, pad_value)
    out = torch.empty((n, h + 2 * ph, w + 2 * pw, c), dtype=torch.int8, device=x.device)
    if ph or pw:
        out.fill_(pad_value)
    with _on(x):
        _compiled().quantize_kernel[_row_tiles(n * h, w, c)](
            x, out, float(reciprocal), float(low), float(high), float(offset), c, h, w, *x.stride(), ph, pw,
            BLOCK_W=ROW_PIXELS, BLOCK_C=ROW_CHANNELS, **_launch_options())
    return out


def finish(acc: torch.Tensor, correction: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None,
           channels: int) -> torch.Tensor:
    """float32(acc[:, :channels] + correction) * scale (+ bias), (M, channels) float32."""
    rows = acc.shape[0]
    if not (_usable(acc, rows * channels, torch.int32) and acc.stride(1) == 1):
        return finish_torch(acc, correction, scale, bias, channels)
    out = torch.empty((rows, channels), dtype=torch.float32, device=acc.device)
    grid = (-(-rows // TILE_ROWS), -(-channels // TILE_COLUMNS))
    with _on(acc):
        _compiled().finish_kernel[grid](
            acc, correction, scale, scale if bias is None else bias, out, rows, channels, acc.stride(0),
            HAS_BIAS=bias is not None, BLOCK_R=TILE_ROWS, BLOCK_C=TILE_COLUMNS, **_launch_options())
    return out


def output_size(size: int, kernel: int, step: int, pad: int, dilation: int) -> int:
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // step + 1


def depthwise(x: torch.Tensor, weight: torch.Tensor, reciprocal: float, low: float, high: float,
              stride, padding, dilation, scale: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """float32(sum (q - zp) * w) * scale (+ bias) of a depthwise convolution (one filter per
    channel), q - zp = round(clamp(x * reciprocal, low, high)); x float32 (N, C, H, W, any
    strides), weight int32 (C, KH, KW). NCHW shape, channels-last memory."""
    n, c, h, w = x.shape
    kh, kw = weight.shape[1:]
    ho = output_size(h, kh, stride[0], padding[0], dilation[0])
    wo = output_size(w, kw, stride[1], padding[1], dilation[1])
    if not _usable(x, n * ho * wo * c):
        return depthwise_torch(x, weight, reciprocal, low, high, stride, padding, dilation, scale, bias)
    out = torch.empty((n, ho, wo, c), dtype=torch.float32, device=x.device)
    with _on(x):
        _compiled().depthwise_kernel[_row_tiles(n * ho, wo, c)](
            x, weight, scale, scale if bias is None else bias, out, float(reciprocal), float(low), float(high),
            c, h, w, ho, wo, *x.stride(), *stride, *padding, *dilation, KH=kh, KW=kw, HAS_BIAS=bias is not None,
            BLOCK_W=ROW_PIXELS, BLOCK_C=ROW_CHANNELS, **_launch_options())
    return out.permute(0, 3, 1, 2)


def integers_torch(x, reciprocal, low, high) -> torch.Tensor:
    """round(x * reciprocal) clamped to [low, high], a NaN as 0: the kernels' rule in PyTorch's
    ops, and exact.integer_input's. reciprocal is a float32 number, as a one-element tensor or a
    Python scalar (which multiplies as that float32 number)."""
    return torch.nan_to_num_(x * reciprocal, nan=0.0).round_().clamp_(low, high)


def quantize_nhwc_torch(x, reciprocal, low, high, offset, padding, pad_value) -> torch.Tensor:
    n, c, h, w = x.shape
    ph, pw = padding
    q = integers_torch(x, reciprocal, low, high).add_(offset)
    out = torch.empty((n, h + 2 * ph, w + 2 * pw, c), dtype=torch.int8, device=x.device)
    if ph or pw:
        out.fill_(pad_value)
    out[:, ph:ph + h, pw:pw + w].copy_(q.permute(0, 2, 3, 1))  # exact: integers in int8's range
    return out


def finish_torch(acc, correction, scale, bias, channels) -> torch.Tensor:
    out = (acc[:, :channels] + correction).float().mul_(scale)
    return out if bias is None else out.add_(bias)


def depthwise_torch(x, weight, reciprocal, low, high, stride, padding, dilation, scale, bias) -> torch.Tensor:
    # exact.py's path: float32 integers and PyTorch's depthwise kernel (exact sums), then the scale.
    ints = integers_torch(x, reciprocal, low, high)
    out = F.conv2d(ints, weight.unsqueeze(1).float(), None, stride, padding, dilation, x.shape[1])
    out = out.mul_(scale.view(1, -1, 1, 1))
    return out if bias is None else out.add_(bias.view(1, -1, 1, 1))


def _self_check(device: torch.device) -> str | None:
    """None if the kernels give their twins' bits on `device`, else what went wrong. Two sizes:
    one tile, and several tiles with channel counts a multiple of 16 (another specialization).
    Their widths are multiples of 16 and their accumulators as wide as a layer's, as in the models'
    layers: each compilation the check asks for is then mostly one a model's evaluation reuses."""
    g = torch.Generator().manual_seed(0)
    try:
        for shape in ((2, 24, 4, 16), (1, 80, 2, 32)):
            x = torch.randn(shape, generator=g) * 40
            x.view(-1)[:200] = torch.arange(-100, 100) + 0.5  # ties, with r = 1: to even
            x.view(-1)[200:203] = torch.tensor([float("nan"), float("inf"), -float("inf")])
            channels = shape[1]
            weight = torch.randint(-128, 128, (channels, 3, 3), generator=g, dtype=torch.int32).to(device)
            scale = (torch.rand(channels, generator=g) * 1e-3).to(device)
            bias = torch.randn(channels, generator=g).to(device)
            # as wide as exact_int8 makes them: the channels rounded up to a multiple of 8
            acc = torch.randint(-(2 ** 26), 2 ** 26, (70, channels + -channels % 8), generator=g,
                                dtype=torch.int32).to(device)
            correction = torch.randint(-5000, 5000, (channels,), generator=g, dtype=torch.int32).to(device)
            for layout in (torch.contiguous_format, torch.channels_last):
                xs = x.to(device).contiguous(memory_format=layout)
                for r in (1.0, 0.37):
                    arguments = (xs, r, -20.0, 235.0, -108, (1, 2), -3)
                    if not torch.equal(quantize_nhwc(*arguments), quantize_nhwc_torch(*arguments)):
                        return "the quantizing kernel differs from PyTorch's ops"
                    arguments = (xs, weight, r, -20.0, 235.0, (2, 1), (1, 1), (1, 1), scale, bias)
                    if not torch.equal(depthwise(*arguments), depthwise_torch(*arguments)):
                        return "the depthwise kernel differs from PyTorch's ops"
            for b in (bias, None):
                if not torch.equal(finish(acc, correction, scale, b, channels),
                                   finish_torch(acc, correction, scale, b, channels)):
                    return "the scaling kernel differs from PyTorch's ops"
    except Exception as error:  # a Triton without a compiler for this GPU, or another version's API
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    return None


@functools.lru_cache(maxsize=None)
def _checked(device: torch.device) -> bool:
    if _compiled() is None:
        return False
    problem = _self_check(device)
    if problem:
        print(f"note: exact runtime: Triton kernels not used ({problem}); PyTorch's ops give the same "
              "numbers, more slowly", file=sys.stderr)
    return problem is None


def enabled(device: torch.device) -> bool:
    """Whether the exact runtime uses these kernels on `device`: CUDA (or Triton's CPU interpreter),
    Triton present, not switched off by DFQ_EXACT_KERNELS=0, and the self-check passed. Decided
    when a layer's constants are computed (exact.py), without importing Triton on a CPU."""
    device = torch.device(device)
    if os.environ.get("DFQ_EXACT_KERNELS", "1") == "0":
        return False
    if not (device.type == "cuda" or (interpreting() and device.type == "cpu")):
        return False
    return _checked(device)
