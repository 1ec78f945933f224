"""The elementwise chains of a reconstruction step, fused into a few kernels on a GPU.

A reconstruction step on a block of a few layers at batch 32 is hundreds of tiny kernels: each
layer's activation fake-quantization (scale from its log, divide, round, straight-through,
shift, clamp, shift back, multiply; QDrop's choice), its soft weight (rectified sigmoid, floor
plus rounding, clamp, per-channel scale) and its rounding regulariser, forward and backward.
Even replayed from a CUDA graph each costs a few microseconds, so a step took about 1.6 ms of
which the convolutions were a small part. On a GPU each chain below is compiled with
torch.compile (Inductor fuses it, and its backward, into one or two Triton kernels); shapes are
dynamic, and every tensor is handed over in one layout (activations as (batch, rest), weights
as (channels, rest)) with its integer bounds as tensors, so the layers of a network share one
compiled graph per function instead of one per shape (each compilation costs seconds). The
functions compute what their eager versions compute up to floating-point rounding order; on
the CPU (and with DFQ_COMPILE=0) the eager versions run: the CPU twin is the same Python.
"""
from __future__ import annotations

from typing import Callable

import torch

from challenge.compiling import on_gpu_compiled

GAMMA, ZETA = -0.1, 1.1


def rectified_sigmoid(v: torch.Tensor) -> torch.Tensor:
    return torch.clamp(torch.sigmoid(v) * (ZETA - GAMMA) + GAMMA, 0, 1)


def round_ste(x: torch.Tensor) -> torch.Tensor:
    return (torch.round(x) - x).detach() + x


def _act_fake_quant(x, scale0, log_scale, zero_point, qmin, qmax, drop_prob: float = 0.0, low=None, high=None,
                    bias=None):
    """LSQ fake quantization of x (rows: _rows) with the step size s0 * exp(t); with `drop_prob`
    > 0, QDrop keeps x itself where a uniform draw is below it. The draw is made here: compiled,
    it is generated inside the kernel (the backward keeps a mask of bytes), instead of a float
    tensor written, read, and read again by the backward (a third of the chain's memory traffic
    in MobileNetV2's large early blocks). `bias` (one per column of x): the bias of the layer
    before, absorbed into the chain (_absorbed.py), added to x first; `low`, `high` (0-d tensors,
    infinite for none): the clamp of an absorbed activation, applied next."""
    if bias is not None:
        x = x + bias
    if low is not None:
        x = torch.clamp(x, low, high)
    scale = scale0 * torch.exp(log_scale)
    quantized = (torch.clamp(round_ste(x / scale) + zero_point, qmin, qmax) - zero_point) * scale
    if drop_prob > 0:
        quantized = torch.where(torch.rand_like(x) < drop_prob, x, quantized)
    return quantized


def _qdrop_input(x_q, x_fp, drop_prob: float):
    """QDrop's block input (batch, rest): each element the FP32 model's with probability drop_prob,
    else the quantized model's; the draw made in the kernel, as in _act_fake_quant."""
    return torch.where(torch.rand_like(x_q) < drop_prob, x_fp, x_q)


def _squared_error_rows(out, target):
    """Each row's summed squared error (rows: _rows): the reconstruction loss before its total."""
    return (out - target).pow(2).sum(dim=1)


def _soft_weight(v, floor, scale0, log_scale, low, high):
    """AdaRound's soft weight (channels, rest): clamp(floor + h(V), low, high) * s0 * exp(t)."""
    scale = (scale0 * torch.exp(log_scale)).unsqueeze(1)
    return torch.clamp(floor + rectified_sigmoid(v), low, high) * scale


def _soft_weight_and_penalty(v, floor, scale0, log_scale, low, high, beta):
    """`_soft_weight` and `_rounding_penalty` of the same V in one chain: compiled, one kernel
    forward and one backward read V for both (instead of four kernels, and a fifth adding the two
    gradients of V), which in the small late units is a tenth of a step's kernels."""
    return _soft_weight(v, floor, scale0, log_scale, low, high), _rounding_penalty(v, beta)


def _rounding_penalty(v, beta):
    """AdaRound's regulariser sum(1 - |2 h(V) - 1|^beta), per output channel (row): pushes every
    h(V) to 0 or 1. Rows, not the total: compiled with dynamic shapes (first traced on the stem's
    864 weights), the sum down to one number took 1.2 ms a step for MobileNetV2's 1.28 M classifier
    weights, 87% of that unit's step (profiled on an H100): a reduction that did not split across
    the GPU. A sum per row is spread over the rows."""
    return (1 - (2 * rectified_sigmoid(v) - 1).abs().pow(beta)).sum(dim=1)


_act_fake_quant_2d = on_gpu_compiled(_act_fake_quant)
_qdrop_input_2d = on_gpu_compiled(_qdrop_input)
_squared_error_rows_2d = on_gpu_compiled(_squared_error_rows)
_soft_weight_2d = on_gpu_compiled(_soft_weight)
_soft_weight_and_penalty_2d = on_gpu_compiled(_soft_weight_and_penalty)


def _rows(x: torch.Tensor) -> tuple[Callable, Callable]:
    """How to view x as rows in its own memory order, and how to put such rows back in x's shape
    and layout. A feature map whose channels are innermost (channels-last, or a channel slice of
    such a map, as ShuffleNetV2's branches take) is one row per pixel, a view: flattened
    channels-first it would be copied at every step, and handed on channels-first, so the
    convolution after it would leave the channels-last kernels (reconstruction keeps feature maps
    channels-last: _reconstruct.py). Other maps are rows of their last dimension, other tensors
    (batch, rest). Many short rows let a chain's backward reduce per row in the kernel that writes
    its elementwise gradient (act_fake_quant). With ShuffleNetV2's slices flattened per sample
    (32 rows of 45,472), its units' steps were up to 7x slower on an H100."""
    if x.dim() == 4 and x.stride(1) == 1:
        n, c, h, w = x.shape
        return (lambda t: t.permute(0, 2, 3, 1).reshape(-1, c),
                lambda rows: rows.view(n, h, w, c).permute(0, 3, 1, 2))
    if x.dim() > 2 and x.is_contiguous():
        return (lambda t: t.reshape(-1, t.shape[-1])), (lambda rows: rows.view(x.shape))
    return (lambda t: t.reshape(len(t), -1)), (lambda rows: rows.view(x.shape))


def _columns_are_channels(x: torch.Tensor) -> bool:
    """Whether _rows(x) has one column per channel of x (dimension 1)."""
    return (x.dim() == 4 and x.stride(1) == 1) or x.dim() == 2


def act_fake_quant(x, scale0, log_scale, zero_point, qmin, qmax, drop_prob: float = 0.0, low=None, high=None,
                   bias=None):
    """`_act_fake_quant` for x of any shape and layout (qmin, qmax, low, high: 0-d tensors on x's
    device; the step size is one for the tensor, so the order of the elements in a row does not matter;
    bias: one per channel of x, added in the chain where the rows' columns are x's channels).
    The chain gets the log step size once per row, broadcast (a view): its gradient is then a sum
    per row, which Inductor computes in the kernel that writes the gradient of x, and the rows'
    sums are added here. (A sum down to one number is a kernel of its own that reads x, the
    gradient and the QDrop mask once more: in MobileNetV2's 112x112 blocks, profiled on an H100, a
    third of the chain's backward.)"""
    if bias is not None and not _columns_are_channels(x):
        x, bias = x + bias.view(-1, *[1] * (x.dim() - 2)), None
    to_rows, back = _rows(x)
    rows = to_rows(x)
    return back(_act_fake_quant_2d(rows, scale0, log_scale.expand(len(rows), 1), zero_point, qmin, qmax,
                                   drop_prob, low, high, bias))


def qdrop_input(x_q, x_fp, drop_prob: float):
    """`_qdrop_input` for block inputs of any shape, both in x_q's layout."""
    to_rows, back = _rows(x_q)
    return back(_qdrop_input_2d(to_rows(x_q), to_rows(x_fp), drop_prob))


def reconstruction_loss(out, target):
    """|| out - target ||^2 summed over channels (dim 1) and averaged over the rest (samples,
    pixels): the rows' sums in one fused kernel, their total apart (a compiled sum down to one
    number did not split across the GPU: _rounding_penalty)."""
    to_rows, _ = _rows(out)
    pixels = out.numel() // out.shape[1]
    return _squared_error_rows_2d(to_rows(out), to_rows(target)).sum() / pixels


def soft_weight(v, floor, scale0, log_scale, low, high):
    """`_soft_weight` for v and floor of shape (channels, rest) (low, high: 0-d tensors on v's device).
    v is the parameter itself, not a view: compiled code guards a view on its base's shape."""
    return _soft_weight_2d(v, floor, scale0, log_scale, low, high)


def soft_weight_and_penalty(v, floor, scale0, log_scale, low, high, beta):
    """`soft_weight` and AdaRound's regulariser of the same V (beta: a 1-element tensor): the
    weight and the regulariser, `_rounding_penalty`'s rows summed."""
    weight, rows = _soft_weight_and_penalty_2d(v, floor, scale0, log_scale, low, high, beta)
    return weight, rows.sum()
