"""The search's byte count is the scorer's: checked against read_artifact of real artifacts."""
import random

import pytest
import torch

from challenge.artifact import read_artifact, save_artifact
from challenge.models import build_architecture
from challenge.quant import get_scheme, quantize_model
from challenge.search import plan
from challenge.search.sizes import size_model
from challenge.size import compression_ratio

CASES = [("mobilenet_v2", 1000, "int8"), ("shufflenet_v2_x1_0", 10, "challenge2021"), ("resnet18", 10, "int8")]


@pytest.mark.parametrize("arch, num_classes, scheme_name", CASES)
def test_size_model_equals_the_artifact_byte_for_byte(tmp_path, arch, num_classes, scheme_name):
    torch.manual_seed(0)
    model = build_architecture(arch, num_classes).eval()
    scheme = get_scheme(scheme_name)
    rng = random.Random(arch)
    space = plan(arch, num_classes, scheme, 80.0)  # any reachable target: only sizes are read
    # Odd widths on purpose: ShuffleNetV2's 522-weight depthwise layers make ceil() matter.
    bits = {name: rng.choice([2, 3, 5, 7, 8]) for name in space.searched}
    rules = [{"match": n, "weight_bits": b} for n, b in bits.items()]
    qmodel = quantize_model(model, scheme, [torch.randn(2, 3, 64, 64)], rules)
    path = tmp_path / "model.safetensors"
    save_artifact(path, qmodel, arch=arch, num_classes=num_classes, scheme=scheme_name, generator="gaussian")
    contents = read_artifact(path)
    assert space.sizes.total_bytes(bits) == contents.quantized_bytes
    assert space.sizes.fp32_bytes == contents.fp32_bytes
    assert space.sizes.compression(bits) == compression_ratio(contents.fp32_bytes, contents.quantized_bytes)


def test_fixed_layers_count_at_their_own_width():
    scheme = get_scheme("w4a8")
    space = plan("resnet18", 10, scheme, 80.0)
    assert "conv1" not in space.searched and space.specs["conv1"].weight_bits == 8  # an 8-bit edge
    searched = space.searched
    with_fc = size_model("resnet18", 10, space.specs, searched)
    without_fc = size_model("resnet18", 10, space.specs, [n for n in searched if n != "fc"])
    bits = {n: 3 for n in searched if n != "fc"}
    assert with_fc.total_bytes({**bits, "fc": 4}) == without_fc.total_bytes(bits)


@pytest.mark.parametrize("target", [0.0, 74.9, 86.72, 91.123456])
def test_budget_is_the_largest_size_meeting_the_target(target):
    sizes = plan("mobilenet_v2", 1000, get_scheme("w4a8"), 80.0).sizes
    budget = sizes.budget(target)
    assert compression_ratio(sizes.fp32_bytes, budget) >= target
    assert compression_ratio(sizes.fp32_bytes, budget + 1) < target
