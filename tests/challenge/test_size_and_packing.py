import pytest
import torch

from challenge import size
from challenge.errors import KitError
from challenge.models import MODEL_NAMES, build_architecture
from challenge.quant.packing import pack, unpack


@pytest.mark.parametrize("bits", range(2, 9))
def test_pack_round_trip_and_exact_length(bits):
    low, high = size.weight_grid(bits)
    values = torch.randint(low, high + 1, (1001,), dtype=torch.int8)
    packed = pack(values, bits)
    assert packed.dtype == torch.uint8 and packed.numel() == size.packed_bytes(1001, bits)
    assert torch.equal(unpack(packed, bits, 1001), values)


def test_unpack_rejects_wrong_length():
    with pytest.raises(ValueError, match="packed uint8 bytes"):
        unpack(torch.zeros(10, dtype=torch.uint8), 4, 100)


def test_quantized_size_counts_bits_and_floats():
    weights = {"w": (torch.ones(10, dtype=torch.int8), 4)}
    kept = {"scale": torch.ones(3), "zp": torch.zeros(2, dtype=torch.int32)}
    assert size.quantized_size_bytes(weights, kept) == 5 + 4 * 5


@pytest.mark.parametrize("value", [-8, 8, 100])
def test_integers_outside_declared_bits_are_rejected(value):
    with pytest.raises(KitError, match="outside its declared 4-bit range"):
        size.quantized_size_bytes({"w": (torch.tensor([0, value], dtype=torch.int8), 4)}, {})


@pytest.mark.parametrize("arch", MODEL_NAMES)
def test_fp32_size_of_arch_matches_state_dict(arch):
    model = build_architecture(arch, 10)
    expected = 4 * sum(t.numel() for k, t in model.state_dict().items() if "num_batches_tracked" not in k)
    assert size.fp32_size_bytes_of_arch(arch, 10) == expected == size.fp32_size_bytes(model)


def test_compression_ratio():
    assert size.compression_ratio(400, 100) == 75.0
    with pytest.raises(KitError):
        size.compression_ratio(0, 1)
