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
- `finish`: acc (M, >= Cout) int32 -> float32 (M, Cout),
  out = float32(acc + correction) * scale (+ bias): two separately rounded operations, compiled
  with floating-point contraction off, so no fused multiply-add rounds them once.
- `depthwise`: a depthwise convolution from the float32 activations: each tap quantized as
  above, the integer products summed in int32 (exact, so in any order), then scaled as `finish`.

Each `*_torch` function is the kernel's twin in PyTorch's ops: the path without the kernels.
Each process checks the kernels against their twins once, on small tensors that hold rounding
ties, before it uses them; without Triton, or if that check fails, the twins run
(DFQ_EXACT_KERNELS=0 chooses them too). Under TRITON_INTERPRET=1 the kernels run on the CPU,
which is how the tests check them without a GPU.
"""
from __future__ import annotations

import functools
import os
import sys

import torch
import torch.nn.functional as F

TILE_ROWS, TILE_COLUMNS = 64, 32  # finish: (rows, channels) tiles
ROW_PIXELS, ROW_CHANNELS = 16, 64  # the others: pixels of one image row by channels
INDEX_LIMIT = 2 ** 31  # the kernels index in int32

try:  # Triton comes with PyTorch's CUDA wheels on Linux; without it the twins run
    import triton
    import triton.language as tl
except ImportError:
    triton = None


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


if triton is not None:
    @triton.jit
    def _quantize_kernel(x_ptr, out_ptr, r, lo, hi, offset, channels, height, width,
                         stride_n, stride_c, stride_h, stride_w, pad_h, pad_w,
                         BLOCK_W: tl.constexpr, BLOCK_C: tl.constexpr):
        # One image row (n, h), a tile of its pixels by channels: contiguous along w for an NCHW
        # input, along c for a channels-last one and for the output.
        n = tl.program_id(0) // height
        h = tl.program_id(0) % height
        w = tl.program_id(1) * BLOCK_W + tl.arange(0, BLOCK_W)
        col = tl.program_id(2) * BLOCK_C + tl.arange(0, BLOCK_C)
        mask = (w < width)[:, None] & (col < channels)[None, :]
        source = n * stride_n + h * stride_h + (w * stride_w)[:, None] + (col * stride_c)[None, :]
        pixel = (n * (height + 2 * pad_h) + h + pad_h) * (width + 2 * pad_w) + w + pad_w
        v = tl.load(x_ptr + source, mask=mask, other=0.0) * r
        v = tl.minimum(tl.maximum(v, lo), hi)
        v = (v + 12582912.0) - 12582912.0  # 1.5 * 2**23: rounds to nearest even, exactly
        tl.store(out_ptr + (pixel * channels)[:, None] + col[None, :], (v + offset).to(tl.int8), mask=mask)

    @triton.jit
    def _finish_kernel(acc_ptr, correction_ptr, scale_ptr, bias_ptr, out_ptr, rows, channels, acc_stride,
                       HAS_BIAS: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr):
        row = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
        col = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
        keep = col < channels
        mask = (row < rows)[:, None] & keep[None, :]
        acc = tl.load(acc_ptr + (row * acc_stride)[:, None] + col[None, :], mask=mask, other=0)
        acc = acc + tl.load(correction_ptr + col, mask=keep, other=0)[None, :]
        out = acc.to(tl.float32) * tl.load(scale_ptr + col, mask=keep, other=1.0)[None, :]
        if HAS_BIAS:
            out = out + tl.load(bias_ptr + col, mask=keep, other=0.0)[None, :]
        tl.store(out_ptr + (row * channels)[:, None] + col[None, :], out, mask=mask)

    @triton.jit
    def _depthwise_kernel(x_ptr, weight_ptr, scale_ptr, bias_ptr, out_ptr, r, lo, hi,
                          channels, height, width, out_height, out_width,
                          stride_n, stride_c, stride_h, stride_w,
                          step_h, step_w, pad_h, pad_w, dilation_h, dilation_w,
                          KH: tl.constexpr, KW: tl.constexpr, HAS_BIAS: tl.constexpr,
                          BLOCK_W: tl.constexpr, BLOCK_C: tl.constexpr):
        # One output row (n, ho), a tile of its pixels by channels. Each tap quantizes the
        # input it reads (as _quantize_kernel does) and adds (q - zp) * w in int32: exact.
        n = tl.program_id(0) // out_height
        ho = tl.program_id(0) % out_height
        wo = tl.program_id(1) * BLOCK_W + tl.arange(0, BLOCK_W)
        col = tl.program_id(2) * BLOCK_C + tl.arange(0, BLOCK_C)
        keep = col < channels
        acc = tl.zeros((BLOCK_W, BLOCK_C), dtype=tl.int32)
        for kh in tl.static_range(KH):
            h = ho * step_h - pad_h + kh * dilation_h
            for kw in tl.static_range(KW):
                w = wo * step_w - pad_w + kw * dilation_w
                mask = ((w >= 0) & (w < width) & (h >= 0) & (h < height))[:, None] & keep[None, :]
                source = n * stride_n + h * stride_h + (w * stride_w)[:, None] + (col * stride_c)[None, :]
                v = tl.load(x_ptr + source, mask=mask, other=0.0) * r
                v = tl.minimum(tl.maximum(v, lo), hi)
                v = tl.where(mask, (v + 12582912.0) - 12582912.0, 0.0)  # padding: q - zp = 0
                tap = tl.load(weight_ptr + col * (KH * KW) + kh * KW + kw, mask=keep, other=0)
                acc += v.to(tl.int32) * tap[None, :]
        out = acc.to(tl.float32) * tl.load(scale_ptr + col, mask=keep, other=1.0)[None, :]
        if HAS_BIAS:
            out = out + tl.load(bias_ptr + col, mask=keep, other=0.0)[None, :]
        pixel = (n * out_height + ho) * out_width + wo
        tl.store(out_ptr + (pixel * channels)[:, None] + col[None, :], out, mask=(wo < out_width)[:, None] & keep[None, :])


def _launch_options() -> dict:
    # Contraction off: a * b + c stays two roundings, as PyTorch's separate ops round it.
    return {} if interpreting() else {"enable_fp_fusion": False}


def _row_tiles(rows: int, width: int, channels: int) -> tuple[int, int, int]:
    return rows, -(-width // ROW_PIXELS), -(-channels // ROW_CHANNELS)


def fits(x: torch.Tensor, out_elements: int) -> bool:
    """Whether every element index the kernel computes, into x (any strides) and its output,
    fits int32 arithmetic (a batch of 256 is far under it; a huge --eval-batch-size is not)."""
    reach = sum((size - 1) * stride for size, stride in zip(x.shape, x.stride())) + 1
    return reach < INDEX_LIMIT and out_elements < INDEX_LIMIT


def quantize_nhwc(x: torch.Tensor, reciprocal: float, lo: float, hi: float, offset: int,
                  padding: tuple[int, int], pad_value: int) -> torch.Tensor:
    """round(clamp(x * reciprocal, lo, hi)) + offset as int8, channels last, its border
    `pad_value`; x is float32 (N, C, H, W), any strides."""
    n, c, h, w = x.shape
    ph, pw = padding
    if not fits(x, n * (h + 2 * ph) * (w + 2 * pw) * c):
        return quantize_nhwc_torch(x, reciprocal, lo, hi, offset, padding, pad_value)
    out = torch.empty((n, h + 2 * ph, w + 2 * pw, c), dtype=torch.int8, device=x.device)
    if ph or pw:
        out.fill_(pad_value)
    _quantize_kernel[_row_tiles(n * h, w, c)](
        x, out, float(reciprocal), float(lo), float(hi), float(offset), c, h, w, *x.stride(), ph, pw,
        BLOCK_W=ROW_PIXELS, BLOCK_C=ROW_CHANNELS, **_launch_options())
    return out


def finish(acc: torch.Tensor, correction: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None,
           channels: int) -> torch.Tensor:
    """float32(acc[:, :channels] + correction) * scale (+ bias), (M, channels) float32."""
    rows = acc.shape[0]
    if not fits(acc, rows * channels):
        return finish_torch(acc, correction, scale, bias, channels)
    out = torch.empty((rows, channels), dtype=torch.float32, device=acc.device)
    grid = (-(-rows // TILE_ROWS), -(-channels // TILE_COLUMNS))
    _finish_kernel[grid](acc, correction, scale, scale if bias is None else bias, out, rows, channels,
                         acc.stride(0), HAS_BIAS=bias is not None, BLOCK_R=TILE_ROWS, BLOCK_C=TILE_COLUMNS,
                         **_launch_options())
    return out


def output_size(size: int, kernel: int, step: int, pad: int, dilation: int) -> int:
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // step + 1


def depthwise(x: torch.Tensor, weight: torch.Tensor, reciprocal: float, lo: float, hi: float,
              stride, padding, dilation, scale: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """float32(sum (q - zp) * w) * scale (+ bias) of a depthwise convolution (one filter per
    channel), q - zp = round(clamp(x * reciprocal, lo, hi)); x float32 (N, C, H, W, any strides),
    weight int32 (C, KH, KW). NCHW shape, channels-last memory."""
    n, c, h, w = x.shape
    kh, kw = weight.shape[1:]
    ho = output_size(h, kh, stride[0], padding[0], dilation[0])
    wo = output_size(w, kw, stride[1], padding[1], dilation[1])
    if not fits(x, n * ho * wo * c):
        return depthwise_torch(x, weight, reciprocal, lo, hi, stride, padding, dilation, scale, bias)
    out = torch.empty((n, ho, wo, c), dtype=torch.float32, device=x.device)
    _depthwise_kernel[_row_tiles(n * ho, wo, c)](
        x, weight, scale, scale if bias is None else bias, out, float(reciprocal), float(lo), float(hi),
        c, h, w, ho, wo, *x.stride(), *stride, *padding, *dilation, KH=kh, KW=kw, HAS_BIAS=bias is not None,
        BLOCK_W=ROW_PIXELS, BLOCK_C=ROW_CHANNELS, **_launch_options())
    return out.permute(0, 3, 1, 2)


def quantize_nhwc_torch(x, reciprocal, lo, hi, offset, padding, pad_value) -> torch.Tensor:
    n, c, h, w = x.shape
    ph, pw = padding
    # reciprocal is a float32 value: a Python scalar multiplies as that float32 number.
    q = (x * reciprocal).round_().clamp_(lo, hi).add_(offset)
    out = torch.empty((n, h + 2 * ph, w + 2 * pw, c), dtype=torch.int8, device=x.device)
    if ph or pw:
        out.fill_(pad_value)
    out[:, ph:ph + h, pw:pw + w].copy_(q.permute(0, 2, 3, 1))  # exact: integers in int8's range
    return out


def finish_torch(acc, correction, scale, bias, channels) -> torch.Tensor:
    out = (acc[:, :channels] + correction).float().mul_(scale)
    return out if bias is None else out.add_(bias)


def depthwise_torch(x, weight, reciprocal, lo, hi, stride, padding, dilation, scale, bias) -> torch.Tensor:
    # exact.py's path: float32 integers and PyTorch's depthwise kernel (exact sums), then the scale.
    ints = (x * reciprocal).round_().clamp_(lo, hi)
    out = F.conv2d(ints, weight.unsqueeze(1).float(), None, stride, padding, dilation, x.shape[1])
    out = out.mul_(scale.view(1, -1, 1, 1))
    return out if bias is None else out.add_(bias.view(1, -1, 1, 1))


def _self_check(device: torch.device) -> str | None:
    """None if the kernels give their twins' bits on `device`, else what went wrong."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn((2, 24, 9, 7), generator=g) * 40
    x.view(-1)[:200] = torch.arange(-100, 100) + 0.5  # ties, with r = 1: to even
    x = x.to(device)
    acc = torch.randint(-(2 ** 26), 2 ** 26, (70, 40), generator=g, dtype=torch.int32).to(device)
    correction = torch.randint(-5000, 5000, (35,), generator=g, dtype=torch.int32).to(device)
    scale = (torch.rand(35, generator=g) * 1e-3).to(device)
    bias = torch.randn(35, generator=g).to(device)
    weight = torch.randint(-128, 128, (24, 3, 3), generator=g, dtype=torch.int32).to(device)
    try:
        for layout in (torch.contiguous_format, torch.channels_last):
            xs = x.contiguous(memory_format=layout)
            for r in (1.0, 0.37):
                arguments = (xs, r, -20.0, 235.0, -108, (1, 2), -3)
                if not torch.equal(quantize_nhwc(*arguments), quantize_nhwc_torch(*arguments)):
                    return "the quantizing kernel differs from PyTorch's ops"
                arguments = (xs, weight, r, -20.0, 235.0, (2, 1), (1, 1), (1, 1), scale[:24], bias[:24])
                if not torch.equal(depthwise(*arguments), depthwise_torch(*arguments)):
                    return "the depthwise kernel differs from PyTorch's ops"
        for b in (bias, None):
            if not torch.equal(finish(acc, correction, scale, b, 35), finish_torch(acc, correction, scale, b, 35)):
                return "the scaling kernel differs from PyTorch's ops"
    except Exception as error:  # a Triton without a compiler for this GPU, or another version's API
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    return None


@functools.lru_cache(maxsize=None)
def _checked(device: torch.device) -> bool:
    if triton is None:
        return False
    problem = _self_check(device)
    if problem:
        print(f"note: exact runtime: Triton kernels not used ({problem}); PyTorch's ops give the same "
              "numbers, more slowly", file=sys.stderr)
    return problem is None


def enabled(device: torch.device) -> bool:
    """Whether the exact runtime uses these kernels on `device`: CUDA (or Triton's CPU interpreter),
    Triton present, not switched off by DFQ_EXACT_KERNELS=0, and the self-check passed."""
    device = torch.device(device)
    if os.environ.get("DFQ_EXACT_KERNELS", "1") == "0":
        return False
    if not (device.type == "cuda" or (interpreting() and device.type == "cpu")):
        return False
    return _checked(device)
