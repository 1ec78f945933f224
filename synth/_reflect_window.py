"""A window of a map extended by reflection, along one dimension, in the map's own memory layout:
Genie's swing (a reflection pad, then a crop at a random offset) without the padded map.

    reflect_window(x, dim, start, length)[i] = x[reflect(start + i)],  i < length,
    reflect(k) = -k below 0, 2 (L - 1) - k above L - 1 (F.pad's "reflect").

The swing's crop at offset s of a map padded by j is the window (s - j, L); the pad itself is
(-j, L + 2j). Why not F.pad: on a GPU its reflection kernels read and write channels-first maps,
so for a channels-last bf16 map (Genie-D on a GPU) each of MobileNetV2's five strided inputs was
copied to channels-first, padded, cropped as a strided view and copied back for cuDNN, forward
and backward: 8.7 ms of pad kernels and part of 18 ms of copies in a 103 ms step (issue 20, call
18's profile). Here a window is one concatenation of up to three slices (the middle and the two
reflected borders), and its gradient one concatenation plus in-place adds of the borders: each
one pass over the map, in its layout. An unshifted crop is the map itself.
"""
from __future__ import annotations

import torch

from synth._precision import is_channels_last


def _pieces(length_in: int, start: int, length: int) -> tuple[int, int, int, int]:
    """(left, middle start, middle length, right): `left` reflected values before the middle slice
    x[middle start : + middle length], `right` after it."""
    if not (-(length_in - 1) <= start and start + length - 1 <= 2 * (length_in - 1)):
        raise ValueError(f"reflection reaches beyond the map: start {start}, length {length}, size {length_in}")
    left = max(0, -start)
    right = max(0, start + length - length_in)
    middle_start = max(0, start)
    if length - left - right < 1:
        raise ValueError(f"a window must overlap the map itself: start {start}, length {length}, size {length_in}")
    return left, middle_start, length - left - right, right


def _zeros(like: torch.Tensor, dim: int, count: int) -> torch.Tensor:
    """`count` rows of zeros along `dim`, shaped and laid out as `like`'s rows."""
    shape = list(like.shape)
    shape[dim] = count
    zeros = like.new_zeros(shape)
    return zeros.contiguous(memory_format=torch.channels_last) if is_channels_last(like) else zeros


class _ReflectWindow(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, dim: int, start: int, length: int):
        size = x.shape[dim]
        left, middle_start, middle, right = _pieces(size, start, length)
        ctx.shape = (dim, size, left, middle_start, middle, right)
        ctx.channels_last = is_channels_last(x)
        parts = []
        if left:  # x[left], ..., x[1]
            parts.append(x.narrow(dim, 1, left).flip(dim))
        parts.append(x.narrow(dim, middle_start, middle))
        if right:  # x[L - 2], ..., x[L - 1 - right]
            parts.append(x.narrow(dim, size - 1 - right, right).flip(dim))
        return torch.cat(parts, dim) if len(parts) > 1 else parts[0].clone(memory_format=torch.preserve_format)

    @staticmethod
    def backward(ctx, grad):
        dim, size, left, middle_start, middle, right = ctx.shape
        if ctx.channels_last:  # the gradient in x's layout, as F.pad's backward gives it
            grad = grad.contiguous(memory_format=torch.channels_last)
        parts = []
        if middle_start:  # rows of x that only the reflected borders read (a few, for a swing)
            parts.append(_zeros(grad, dim, middle_start))
        parts.append(grad.narrow(dim, left, middle))
        after = size - middle_start - middle
        if after:
            parts.append(_zeros(grad, dim, after))
        grad_x = torch.cat(parts, dim) if len(parts) > 1 else parts[0].clone(memory_format=torch.preserve_format)
        if left:
            grad_x.narrow(dim, 1, left).add_(grad.narrow(dim, 0, left).flip(dim))
        if right:
            grad_x.narrow(dim, size - 1 - right, right).add_(grad.narrow(dim, left + middle, right).flip(dim))
        return grad_x, None, None, None


def reflect_window(x: torch.Tensor, dim: int, start: int, length: int) -> torch.Tensor:
    """x[reflect(start + i)] for i < length along `dim` (see the module); x itself for the whole map."""
    if start == 0 and length == x.shape[dim]:
        return x
    return _ReflectWindow.apply(x, dim, start, length)


def reflect_shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """x (N, C, H, W) shifted by (dy, dx) pixels with reflection at the borders: the swing's crop at
    offset (dy + j, dx + j) of x padded by j."""
    return reflect_window(reflect_window(x, 2, dy, x.shape[2]), 3, dx, x.shape[3])


def reflect_pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    """F.pad(x, [pad] * 4, mode="reflect"), in x's layout."""
    return reflect_window(reflect_window(x, 2, -pad, x.shape[2] + 2 * pad), 3, -pad, x.shape[3] + 2 * pad)
