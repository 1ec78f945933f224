"""Fused Triton kernels for exact_int8's convolutions on a GPU: the same bits in fewer passes.

Around each int8 product, PyTorch's ops walk the activations many times: float32 multiply,
round, offset, clamp, then an int8 channels-last copy before it; the int32 correction, the
float conversion, the scale and the bias after it. On an H200 those passes, not the products,
were most of the evaluation time. Each side here is one kernel, computing the same IEEE
float32 operations in the same order, so the numbers are the ones PyTorch's ops give:

- `quantize_nhwc`: x (N, C, H, W, any strides) -> int8 (N, H+2ph, W+2pw, C),
  q = round(clamp(x * r, lo, hi)) + offset. Clamping to integer bounds before rounding equals
  rounding first (round is monotonic and keeps integers). Rounding is to nearest even by adding
  and subtracting 1.5 * 2**23: exact for |v| <= 2**22, and the clamp keeps |v| under 400.
- `finish`: acc (M, >= Cout) int32 -> float32 (M, Cout),
  out = float32(acc + correction) * scale (+ bias): two separately rounded operations, compiled
  with floating-point contraction off, so no fused multiply-add rounds them once.

Each process checks the kernels against PyTorch's ops once, on a small tensor that holds
rounding ties, before it uses them; without Triton, or if that check fails, exact_int8 keeps
PyTorch's ops (DFQ_EXACT_KERNELS=0 chooses them too). Under TRITON_INTERPRET=1 the kernels
run on the CPU, which is how the tests check them without a GPU.
"""
from __future__ import annotations

import functools
import os
import sys

import torch

TILE_ROWS, TILE_COLUMNS = 64, 32

try:  # Triton comes with PyTorch's CUDA wheels on Linux; without it exact_int8 keeps PyTorch's ops
    import triton
    import triton.language as tl
except ImportError:
    triton = None


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


if triton is not None:
    @triton.jit
    def _quantize_kernel(x_ptr, out_ptr, r, lo, hi, offset, rows, channels, height, width,
                         stride_n, stride_c, stride_h, stride_w, pad_h, pad_w,
                         BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr):
        # A tile of interior pixels (rows: n, h, w in order) by channels (columns).
        row = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
        col = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
        w = row % width
        h = (row // width) % height
        n = row // (width * height)
        source = (n * stride_n + h * stride_h + w * stride_w)[:, None] + (col * stride_c)[None, :]
        pixel = (n * (height + 2 * pad_h) + h + pad_h) * (width + 2 * pad_w) + w + pad_w
        target = (pixel * channels)[:, None] + col[None, :]
        mask = (row < rows)[:, None] & (col < channels)[None, :]
        v = tl.load(x_ptr + source, mask=mask, other=0.0) * r
        v = tl.minimum(tl.maximum(v, lo), hi)
        v = (v + 12582912.0) - 12582912.0  # 1.5 * 2**23: rounds to nearest even, exactly
        tl.store(out_ptr + target, (v + offset).to(tl.int8), mask=mask)

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


def _grid(rows: int, columns: int) -> tuple[int, int]:
    return -(-rows // TILE_ROWS), -(-columns // TILE_COLUMNS)


def _launch_options() -> dict:
    # Contraction off: a * b + c stays two roundings, as PyTorch's separate ops round it.
    return {} if interpreting() else {"enable_fp_fusion": False}


def quantize_nhwc(x: torch.Tensor, reciprocal: float, lo: float, hi: float, offset: int,
                  padding: tuple[int, int], pad_value: int) -> torch.Tensor:
    """round(clamp(x * reciprocal, lo, hi)) + offset as int8, channels last, zero-padded by
    `pad_value` (see the module docstring); x is float32 (N, C, H, W)."""
    n, c, h, w = x.shape
    ph, pw = padding
    out = torch.empty((n, h + 2 * ph, w + 2 * pw, c), dtype=torch.int8, device=x.device)
    if ph or pw:
        out.fill_(pad_value)
    rows = n * h * w
    _quantize_kernel[_grid(rows, c)](x, out, float(reciprocal), float(lo), float(hi), float(offset), rows, c, h, w,
                                    *x.stride(), ph, pw, BLOCK_R=TILE_ROWS, BLOCK_C=TILE_COLUMNS,
                                    **_launch_options())
    return out


def finish(acc: torch.Tensor, correction: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None,
           channels: int) -> torch.Tensor:
    """float32(acc[:, :channels] + correction) * scale (+ bias), (M, channels) float32."""
    rows = acc.shape[0]
    out = torch.empty((rows, channels), dtype=torch.float32, device=acc.device)
    _finish_kernel[_grid(rows, channels)](acc, correction, scale, scale if bias is None else bias, out, rows,
                                         channels, acc.stride(0), HAS_BIAS=bias is not None,
                                         BLOCK_R=TILE_ROWS, BLOCK_C=TILE_COLUMNS, **_launch_options())
    return out


def quantize_nhwc_torch(x, reciprocal, lo, hi, offset, padding, pad_value) -> torch.Tensor:
    """quantize_nhwc with PyTorch's ops (exact_int8's path without the kernels)."""
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
    """finish with PyTorch's ops."""
    out = (acc[:, :channels] + correction).float().mul_(scale)
    return out if bias is None else out.add_(bias)


def _self_check(device: torch.device) -> str | None:
    """None if the kernels give PyTorch's bits on `device`, else what went wrong."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn((2, 24, 9, 7), generator=g) * 40
    x.view(-1)[:200] = torch.arange(-100, 100) + 0.5  # ties, with r = 1: to even
    x = x.to(device)
    acc = torch.randint(-(2 ** 26), 2 ** 26, (70, 40), generator=g, dtype=torch.int32).to(device)
    correction = torch.randint(-5000, 5000, (35,), generator=g, dtype=torch.int32).to(device)
    scale = (torch.rand(35, generator=g) * 1e-3).to(device)
    bias = torch.randn(35, generator=g).to(device)
    try:
        for layout in (torch.contiguous_format, torch.channels_last):
            xs = x.contiguous(memory_format=layout)
            for r in (1.0, 0.37):
                arguments = (xs, r, -20.0, 235.0, -108, (1, 2), -3)
                if not torch.equal(quantize_nhwc(*arguments), quantize_nhwc_torch(*arguments)):
                    return "the quantizing kernel differs from PyTorch's ops"
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
        print(f"note: exact int8 path: Triton kernels not used ({problem}); PyTorch's ops give the same "
              "numbers, more slowly", file=sys.stderr)
    return problem is None


def enabled(device: torch.device) -> bool:
    """Whether exact_int8 uses these kernels on `device`: CUDA (or Triton's CPU interpreter),
    Triton present, not switched off by DFQ_EXACT_KERNELS=0, and the self-check passed."""
    device = torch.device(device)
    if os.environ.get("DFQ_EXACT_KERNELS", "1") == "0":
        return False
    if not (device.type == "cuda" or (interpreting() and device.type == "cpu")):
        return False
    return _checked(device)
