"""Bit-packing of signed integers below 8 bits.

Each value v of a `bits`-bit tensor is stored as the unsigned field v + 2**(bits-1) in `bits`
bits, little-endian within bytes, fields laid end to end over the flattened tensor; the last
byte is zero-padded. So a tensor of n values takes exactly ceil(n * bits / 8) bytes.
"""
from __future__ import annotations

import torch

from ..size import packed_bytes


def pack(values: torch.Tensor, bits: int) -> torch.Tensor:
    """int8 values -> uint8 bytes."""
    if bits == 8:
        return values.to(torch.int8).reshape(-1).view(torch.uint8).clone()
    fields = (values.reshape(-1).to(torch.int16) + (1 << (bits - 1))).to(torch.uint8)
    bit_planes = (fields.unsqueeze(1) >> torch.arange(bits, dtype=torch.uint8)) & 1
    stream = bit_planes.reshape(-1)
    stream = torch.nn.functional.pad(stream, (0, (-stream.numel()) % 8))
    weights = (1 << torch.arange(8, dtype=torch.int32))
    return (stream.reshape(-1, 8).to(torch.int32) * weights).sum(dim=1).to(torch.uint8)


def unpack(data: torch.Tensor, bits: int, numel: int) -> torch.Tensor:
    """uint8 bytes -> int8 values (flat, `numel` of them)."""
    if data.dtype != torch.uint8 or data.dim() != 1 or data.numel() != packed_bytes(numel, bits):
        raise ValueError(f"expected {packed_bytes(numel, bits)} packed uint8 bytes for {numel} values "
                         f"of {bits} bits, got {data.dtype} {tuple(data.shape)}")
    if bits == 8:
        return data.view(torch.int8).clone()
    stream = ((data.unsqueeze(1) >> torch.arange(8, dtype=torch.uint8)) & 1).reshape(-1)[: numel * bits]
    weights = (1 << torch.arange(bits, dtype=torch.int16))
    fields = (stream.reshape(numel, bits).to(torch.int16) * weights).sum(dim=1)
    return (fields - (1 << (bits - 1))).to(torch.int8)
