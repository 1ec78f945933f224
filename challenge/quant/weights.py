"""Symmetric weight quantization, per output channel or per tensor, on the grid
[-(2**(bits-1) - 1), 2**(bits-1) - 1] (the grid size.py checks).

The scale comes from the absolute maximum (`minmax`) or from the clipping that minimizes the
per-channel squared error (`mse`), which matters below 8 bits.
"""
from __future__ import annotations

import torch

from ..size import weight_grid


def _channel_view(w: torch.Tensor, per_channel: bool) -> torch.Tensor:
    return w.reshape(w.shape[0], -1) if per_channel else w.reshape(1, -1)


def quantize_with_scale(w: torch.Tensor, scale: torch.Tensor, bits: int) -> torch.Tensor:
    """Integers (int8) of `w` for a scale of shape [C] or [1]."""
    low, high = weight_grid(bits)
    shape = (-1,) + (1,) * (w.dim() - 1)
    return torch.clamp(torch.round(w / scale.view(shape)), low, high).to(torch.int8)


def dequantize(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    shape = (-1,) + (1,) * (q.dim() - 1)
    return q.float() * scale.view(shape)


def weight_scale(w: torch.Tensor, bits: int, per_channel: bool = True, method: str = "minmax",
                 steps: int = 100, min_ratio: float = 0.3) -> torch.Tensor:
    """Scale of shape [C] (per channel) or [1]."""
    _, high = weight_grid(bits)
    rows = _channel_view(w.detach().float(), per_channel)
    absmax = rows.abs().amax(dim=1).clamp(min=1e-12)
    if method == "minmax":
        return absmax / high
    if method != "mse":
        from ..errors import KitError

        raise KitError(f"unknown weight observer {method!r}; choose minmax or mse")
    best_scale = absmax / high
    best_error = torch.full_like(absmax, float("inf"))
    for ratio in torch.linspace(1.0, min_ratio, steps).tolist():
        scale = absmax * ratio / high
        fake = torch.clamp(torch.round(rows / scale[:, None]), -high, high) * scale[:, None]
        error = ((fake - rows) ** 2).sum(dim=1)
        better = error < best_error
        best_error = torch.where(better, error, best_error)
        best_scale = torch.where(better, scale, best_scale)
    return best_scale
