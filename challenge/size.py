"""Size accounting: one definition, used by the kit (output.txt header) and the scorer.

- Quantized size: for every quantized weight tensor, ceil(numel * bits / 8) bytes; plus 4 bytes
  for every other number kept (scales, zero points, biases, activation parameters, and any
  tensor left unquantized), whatever its stored dtype.
- FP32 size: 4 bytes x numel of every tensor of the FP32 state_dict (parameters and BatchNorm
  buffers), except `num_batches_tracked`, which is bookkeeping, not model.
- Compression ratio: 100 * (fp32 - quantized) / fp32.

Every integer weight must lie on the symmetric grid of its declared width,
[-(2**(bits-1) - 1), 2**(bits-1) - 1]; a value outside it means the declared width is a lie.
"""
from __future__ import annotations

import math
from typing import Mapping

import torch

from .errors import KitError

MIN_BITS, MAX_BITS = 2, 8


def packed_bytes(numel: int, bits: int) -> int:
    return math.ceil(numel * bits / 8)


def weight_grid(bits: int) -> tuple[int, int]:
    """The integer range of a symmetric `bits`-bit weight."""
    if not MIN_BITS <= bits <= MAX_BITS:
        raise KitError(f"weight bit width {bits} is outside {MIN_BITS}..{MAX_BITS}")
    limit = 2 ** (bits - 1) - 1
    return -limit, limit


def check_fits(name: str, values: torch.Tensor, bits: int) -> None:
    low, high = weight_grid(bits)
    if values.numel() and (int(values.min()) < low or int(values.max()) > high):
        raise KitError(f"weight {name!r} holds integers in [{int(values.min())}, {int(values.max())}], "
                       f"outside its declared {bits}-bit range [{low}, {high}]")


def quantized_size_bytes(int_weights: Mapping[str, tuple[torch.Tensor, int]],
                         kept_tensors: Mapping[str, torch.Tensor]) -> int:
    """int_weights: name -> (unpacked integer values, bits); kept_tensors: every other stored tensor."""
    total = 0
    for name, (values, bits) in int_weights.items():
        check_fits(name, values, bits)
        total += packed_bytes(values.numel(), bits)
    total += 4 * sum(t.numel() for t in kept_tensors.values())
    return total


def fp32_size_bytes(model_or_state_dict) -> int:
    state = model_or_state_dict
    if isinstance(state, torch.nn.Module):
        state = state.state_dict()
    return 4 * sum(t.numel() for k, t in state.items() if not k.endswith("num_batches_tracked"))


def fp32_size_bytes_of_arch(arch: str, num_classes: int) -> int:
    """The FP32 size of a torchvision architecture, from its shapes alone (no weights needed)."""
    from .models import build_architecture

    with torch.device("meta"):
        model = build_architecture(arch, num_classes)
    return fp32_size_bytes(model)


def compression_ratio(fp32_bytes: int, quantized_bytes: int) -> float:
    if fp32_bytes <= 0:
        raise KitError(f"FP32 size must be positive, got {fp32_bytes}")
    return 100.0 * (fp32_bytes - quantized_bytes) / fp32_bytes
