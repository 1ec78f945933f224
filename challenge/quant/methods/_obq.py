"""Rounding one input column at a time with error feedback (Optimal Brain Quantization in GPTQ's
fixed-order form): the solver behind `gptq`.

For a weight W (rows: output channels) whose inputs X have the Hessian H = X^T X, rounding column
j to q_j moves the output by (w_j - q_j) x_j; the columns not rounded yet can absorb most of that:
    W[:, j+1:] -= (w_j - q_j) / U[j, j] * U[j, j+1:]
where U is the upper Cholesky factor of H^-1 (GPTQ's reformulation of OBQ's updates, which it
showed equal to re-inverting H after every column). Columns go in blocks of `block`: inside a
block the updates are exact, and the block's errors reach the later columns in one matrix
product (GPTQ's lazy batch updates, the same result for less memory traffic).

Everything is batched over a leading group axis: a plain layer is one group, a depthwise
convolution one group per channel (each channel has its own 9 inputs and its own 9 x 9 H).
"""
from __future__ import annotations

import torch


def _upper_inverse_factor(hessian: torch.Tensor, damp: float) -> torch.Tensor:
    """U, upper triangular, with U^T U = (H + damping)^-1, per group. The dampening (a fraction of
    the mean diagonal) makes H invertible when the samples span fewer directions than H has (a
    classifier fed fewer images than its inputs); it is raised tenfold until H factorises.

    One Cholesky factorisation and one triangular inverse, instead of inverting H and factorising
    the inverse: with J the reversal of the order, J H J = L L^T gives H = (J L J)(J L J)^T, whose
    factor J L J is upper triangular, so U = (J L J)^-1 = J L^-1 J."""
    size = hessian.shape[-1]
    eye = torch.eye(size, dtype=hessian.dtype, device=hessian.device)
    mean_diagonal = hessian.diagonal(dim1=-2, dim2=-1).mean(dim=-1).clamp(min=1e-12)
    flipped = hessian.flip(-1, -2)
    for attempt in range(6):
        factor, info = torch.linalg.cholesky_ex(flipped + (damp * 10 ** attempt) * mean_diagonal[:, None, None] * eye)
        if not info.any():
            inverse = torch.linalg.solve_triangular(factor, eye.expand_as(factor), upper=False)
            return inverse.flip(-1, -2)
    raise RuntimeError("the layer's input Hessian stayed singular after dampening")


@torch.no_grad()
def round_columns(weight: torch.Tensor, hessian: torch.Tensor, scale: torch.Tensor, low: int, high: int, *,
                  damp: float = 0.01, block: int = 128, act_order: bool = False) -> torch.Tensor:
    """Integers for `weight` [G, R, n] (G groups of R rows over n inputs) on the grid [low, high]
    at per-row step sizes `scale` [G, R], given each group's input Hessian `hessian` [G, n, n].

    `act_order` rounds the columns of larger H diagonal (larger inputs) first, while the most
    columns are left to absorb their error (the GPTQ code's later option)."""
    # float32, as GPTQ computes: the same integers as float64 on the layers tried, in 60% of the time
    hessian = hessian.to(torch.float32, copy=True)  # changed below; H may come as float64 (summed so)
    weight = weight.to(torch.float32, copy=True)
    scale = scale.float()[:, :, None]
    groups, rows, size = weight.shape
    diagonal = hessian.diagonal(dim1=-2, dim2=-1)
    dead = diagonal == 0  # inputs that were always zero: any weight there is free, keep it at 0
    diagonal[dead] = 1
    weight.masked_fill_(dead[:, None, :], 0)
    order = None
    if act_order:
        order = torch.argsort(diagonal, dim=-1, descending=True, stable=True)
        weight = weight.gather(2, order[:, None, :].expand(groups, rows, size))
        hessian = hessian.gather(1, order[:, :, None].expand(groups, size, size))
        hessian = hessian.gather(2, order[:, None, :].expand(groups, size, size))
    upper = _upper_inverse_factor(hessian, damp)
    integers = torch.empty_like(weight)
    for start in range(0, size, block):
        end = min(start + block, size)
        part = weight[:, :, start:end].clone()
        errors = torch.empty_like(part)
        inner = upper[:, start:end, start:end]
        for j in range(end - start):
            column = part[:, :, j:j + 1]
            rounded = torch.clamp(torch.round(column / scale), low, high)
            integers[:, :, start + j:start + j + 1] = rounded
            error = (column - rounded * scale) / inner[:, j, j][:, None, None]
            part[:, :, j:] -= error * inner[:, j:j + 1, j:]
            errors[:, :, j:j + 1] = error
        weight[:, :, end:] -= errors @ upper[:, start:end, end:]
    if order is not None:
        integers = torch.empty_like(integers).scatter_(2, order[:, None, :].expand(groups, rows, size), integers)
    return integers
