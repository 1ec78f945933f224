"""Genie-D's per-BatchNorm work as three hand-written Triton kernels (compiled="kernels"): no Inductor.

Inductor compiled the same work into fused kernels too (a "layers" setting, removed), but cost 56-78
s on a machine's first run and 38-55 s on every later one (an H100, calls 13 and 14 of issue 20),
nearly all of it fixed costs around its code generation and cache, for the same step time. These
three Triton kernels compile in about 11 s once per machine (Triton's own cache) and load in
milliseconds.

On a channels-last map seen as its (rows = pixels, channels) matrix x, with the eval BatchNorm's
per-channel scale and shift:
- forward: y = act(x * scale + shift) and, per tile of rows, the per-channel sums of x and x^2;
  a second kernel adds the tiles' sums up in a fixed order (the same result every run) and
  finishes the mean, the std and each channel's share of the distance;
- backward: dx = dy * act'(x * scale + shift) * scale + a + b * x, where a and b (per channel)
  carry the gradient of the statistics' distance: mean = sum/R and the unbiased
  var = (sum(x^2)/R - mean^2) * R/(R-1), so d mean/dx = 1/R and d var/dx = 2 (x - mean)/(R-1).
`_fused_bn._normalise_and_match` is the same function in PyTorch ops: the twin the tests compare
with (under Triton's CPU interpreter), and what runs without a GPU.
Importing this module needs Triton (it comes with PyTorch's CUDA wheels on Linux).
"""
from __future__ import annotations

import contextlib

import torch
import triton
import triton.language as tl

TILE = 4096  # elements a program handles: BLOCK_R rows of BLOCK_C channels
FORWARD_STEPS = 8  # tiles a forward program walks
FINISH_T, FINISH_C = 64, 32  # the finish kernel's tile: tiles of rows (looped over) by channels


# Sizes are not specialised on (each variant compiles for about a second): one compilation per
# tile width and dtype serves every layer of every model. No activation is bounds of -inf, inf.
@triton.jit(do_not_specialize=["rows", "channels"])
def _forward(x_ptr, scale_ptr, shift_ptr, y_ptr, sums_ptr, squares_ptr, rows, channels, low, high,
             BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr, STEPS: tl.constexpr):
    # A program walks STEPS tiles of BLOCK_R rows, so that the large early maps leave the finish
    # kernel a few thousand partial sums per channel rather than tens of thousands.
    tile = tl.program_id(0)
    col = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    keep = col < channels
    scale = tl.load(scale_ptr + col, mask=keep, other=0.0)[None, :]
    shift = tl.load(shift_ptr + col, mask=keep, other=0.0)[None, :]
    total = tl.zeros((BLOCK_C,), dtype=tl.float32)
    total_sq = tl.zeros((BLOCK_C,), dtype=tl.float32)
    for step in range(STEPS):
        row = (tile * STEPS + step) * BLOCK_R + tl.arange(0, BLOCK_R)
        mask = (row < rows)[:, None] & keep[None, :]
        offsets = row.to(tl.int64)[:, None] * channels + col[None, :]
        x = tl.load(x_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
        y = tl.minimum(tl.maximum(x * scale + shift, low), high)
        tl.store(y_ptr + offsets, y.to(y_ptr.dtype.element_ty), mask=mask)
        total += tl.sum(x, axis=0)
        total_sq += tl.sum(x * x, axis=0)
    tl.store(sums_ptr + tile * channels + col, total, mask=keep)
    tl.store(squares_ptr + tile * channels + col, total_sq, mask=keep)


@triton.jit(do_not_specialize=["tiles", "channels"])
def _finish(sums_ptr, squares_ptr, target_mean_ptr, target_std_ptr, mean_ptr, std_ptr, terms_ptr, tiles, channels,
            inv_rows, unbias, eps, inv_channels, BLOCK_T: tl.constexpr, BLOCK_C: tl.constexpr):
    # Per channel: the tiles' sums added up in a fixed order, the mean and the unbiased std
    # (one pass: (sum(x^2)/R - mean^2) * R/(R-1)), and the channel's share of the distance.
    col = tl.program_id(0) * BLOCK_C + tl.arange(0, BLOCK_C)
    keep = col < channels
    total = tl.zeros((BLOCK_T, BLOCK_C), dtype=tl.float32)
    total_sq = tl.zeros((BLOCK_T, BLOCK_C), dtype=tl.float32)
    for start in range(0, tiles, BLOCK_T):
        tile = start + tl.arange(0, BLOCK_T)
        mask = (tile < tiles)[:, None] & keep[None, :]
        offsets = tile.to(tl.int64)[:, None] * channels + col[None, :]
        total += tl.load(sums_ptr + offsets, mask=mask, other=0.0)
        total_sq += tl.load(squares_ptr + offsets, mask=mask, other=0.0)
    mean = tl.sum(total, axis=0) * inv_rows
    var = tl.maximum(tl.sum(total_sq, axis=0) * inv_rows - mean * mean, 0.0) * unbias
    std = tl.sqrt(var + eps)
    target_mean = tl.load(target_mean_ptr + col, mask=keep, other=0.0)
    target_std = tl.load(target_std_ptr + col, mask=keep, other=0.0)
    terms = ((mean - target_mean) * (mean - target_mean) + (std - target_std) * (std - target_std)) * inv_channels
    tl.store(mean_ptr + col, mean, mask=keep)
    tl.store(std_ptr + col, std, mask=keep)
    tl.store(terms_ptr + col, terms, mask=keep)


@triton.jit(do_not_specialize=["rows", "channels"])
def _backward(x_ptr, grad_y_ptr, scale_ptr, shift_ptr, mean_ptr, std_ptr, target_mean_ptr, target_std_ptr,
              grad_distance_ptr, grad_x_ptr, rows, channels, low, high, inv_rows, two_over_rows_less_one,
              inv_channels, BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr):
    row = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    col = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    keep = col < channels
    mask = (row < rows)[:, None] & keep[None, :]
    offsets = row.to(tl.int64)[:, None] * channels + col[None, :]
    x = tl.load(x_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
    grad_y = tl.load(grad_y_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
    scale = tl.load(scale_ptr + col, mask=keep, other=0.0)[None, :]
    before = x * scale + tl.load(shift_ptr + col, mask=keep, other=0.0)[None, :]
    passes = mask & (before >= low) & (before <= high)  # torch.clamp's gradient: bounds inclusive
    grad_x = tl.where(passes, grad_y * scale, 0.0)
    # The distance's gradient: a + b * x per channel (module docstring).
    grad_distance = tl.load(grad_distance_ptr)
    mean = tl.load(mean_ptr + col, mask=keep, other=0.0)
    std = tl.load(std_ptr + col, mask=keep, other=1.0)
    d_mean = 2.0 * (mean - tl.load(target_mean_ptr + col, mask=keep, other=0.0)) * inv_channels * grad_distance
    d_var = (std - tl.load(target_std_ptr + col, mask=keep, other=0.0)) / std * inv_channels * grad_distance
    b = d_var * two_over_rows_less_one
    a = d_mean * inv_rows - b * mean
    grad_x += a[None, :] + b[None, :] * x
    tl.store(grad_x_ptr + offsets, grad_x.to(grad_x_ptr.dtype.element_ty), mask=mask)


def _blocks(rows: int, channels: int, steps: int = 1) -> tuple[int, int, tuple[int, int]]:
    block_c = min(64, triton.next_power_of_2(channels))
    block_r = TILE // block_c
    return block_r, block_c, (triton.cdiv(rows, block_r * steps), triton.cdiv(channels, block_c))


def _bounds(low, high) -> dict:
    return {"low": -float("inf") if low is None else float(low), "high": float("inf") if high is None else float(high)}


def _on(x: torch.Tensor):
    """Launch on x's GPU (Triton launches on the current device); nothing to do under the interpreter."""
    return torch.cuda.device(x.device) if x.is_cuda else contextlib.nullcontext()


class NormaliseAndMatch(torch.autograd.Function):
    """(rows, channels) x -> (act(x * scale + shift), distance of x's statistics to the targets).
    Three kernels forward (the map, the per-channel finish, the distance's sum), one backward:
    a handful of launches per layer rather than dozens of small PyTorch ops."""

    @staticmethod
    def forward(ctx, x, scale, shift, target_mean, target_std, eps: float, low, high):
        with _on(x):
            return NormaliseAndMatch._forward(ctx, x, scale, shift, target_mean, target_std, eps, low, high)

    @staticmethod
    def _forward(ctx, x, scale, shift, target_mean, target_std, eps, low, high):
        if x.dim() != 2 or x.stride() != (x.shape[1], 1):
            raise ValueError(f"the kernels take a (rows, channels) matrix with contiguous rows, got strides {x.stride()}")
        rows, channels = x.shape
        block_r, block_c, grid = _blocks(rows, channels, FORWARD_STEPS)
        y = torch.empty_like(x)
        sums = torch.empty(grid[0], channels, device=x.device, dtype=torch.float32)
        squares = torch.empty_like(sums)
        _forward[grid](x, scale, shift, y, sums, squares, rows, channels, **_bounds(low, high),
                       BLOCK_R=block_r, BLOCK_C=block_c, STEPS=FORWARD_STEPS)
        mean, std, terms = (torch.empty(channels, device=x.device, dtype=torch.float32) for _ in range(3))
        _finish[(triton.cdiv(channels, FINISH_C),)](sums, squares, target_mean, target_std, mean, std, terms, grid[0],
                                                    channels, 1.0 / rows, rows / max(rows - 1, 1), float(eps),
                                                    1.0 / channels, BLOCK_T=FINISH_T, BLOCK_C=FINISH_C)
        ctx.save_for_backward(x, scale, shift, mean, std, target_mean, target_std)
        ctx.low, ctx.high = low, high
        return y, terms.sum()

    @staticmethod
    def backward(ctx, grad_y, grad_distance):
        with _on(ctx.saved_tensors[0]):
            return NormaliseAndMatch._backward(ctx, grad_y, grad_distance)

    @staticmethod
    def _backward(ctx, grad_y, grad_distance):
        x, scale, shift, mean, std, target_mean, target_std = ctx.saved_tensors
        rows, channels = x.shape
        if grad_distance is None:
            grad_distance = torch.zeros((), device=x.device)
        grad_y = torch.zeros_like(x) if grad_y is None else grad_y.contiguous()
        block_r, block_c, grid = _blocks(rows, channels)
        grad_x = torch.empty_like(x)
        _backward[grid](x, grad_y, scale, shift, mean, std, target_mean, target_std,
                        grad_distance.float().contiguous(), grad_x, rows, channels, **_bounds(ctx.low, ctx.high),
                        inv_rows=1.0 / rows, two_over_rows_less_one=2.0 / max(rows - 1, 1), inv_channels=1.0 / channels,
                        BLOCK_R=block_r, BLOCK_C=block_c)
        return grad_x, None, None, None, None, None, None, None
