"""ReduceLROnPlateau on device tensors, so that an optimisation loop never waits for the device.

The learning rate is a tensor that fused Adam reads on the device; `plateau_step` applies
torch's ReduceLROnPlateau rule (mode "min", relative threshold, no cooldown) with torch.where,
step for step, without reading the loss on the host. Used by ZeroQ and Genie-D.
"""
from __future__ import annotations

import torch


def plateau_step(lr, best, bad, loss, *, factor, patience, min_lr, threshold):
    """ReduceLROnPlateau (mode min, relative threshold, no cooldown) on device tensors."""
    improved = loss < best * (1 - threshold)
    best.copy_(torch.where(improved, loss, best))
    bad.copy_(torch.where(improved, torch.zeros_like(bad), bad + 1))
    reduce = bad > patience
    lr.copy_(torch.where(reduce, torch.clamp(lr * factor, min=min_lr), lr))
    bad.copy_(torch.where(reduce, torch.zeros_like(bad), bad))
