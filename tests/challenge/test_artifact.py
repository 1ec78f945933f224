import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from challenge import size
from challenge.artifact import ArtifactError, load_artifact, read_artifact, save_artifact
from challenge.models import load_fp32_model
from challenge.quant import get_scheme, list_schemes, quantize_model
from challenge.quant.layer_config import read_layer_config


@pytest.fixture(scope="module")
def shufflenet(request):
    from tests.conftest import STANDINS, require

    return load_fp32_model("shufflenet_v2_x1_0", weights_dir=require(STANDINS))


def quantized(model, scheme, rules=None):
    g = torch.Generator().manual_seed(0)
    batches = [torch.randn(4, 3, 96, 96, generator=g) for _ in range(2)]
    return quantize_model(model, get_scheme(scheme), batches, rules)


@pytest.mark.parametrize("scheme", list_schemes())
def test_round_trip_gives_identical_predictions(tmp_path, shufflenet, scheme):
    qmodel = quantized(shufflenet.model, scheme)
    path = tmp_path / "model.safetensors"
    save_artifact(path, qmodel, arch="shufflenet_v2_x1_0", num_classes=10, scheme=scheme, generator="gaussian")
    reloaded, contents = load_artifact(path)
    x = torch.randn(8, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(qmodel(x), reloaded(x))
    assert contents.scheme == scheme and contents.num_classes == 10
    assert contents.fp32_bytes == size.fp32_size_bytes(shufflenet.model)
    with safe_open(str(path), framework="pt") as handle:
        assert json.loads(handle.metadata()["dfq_artifact"])["layers"] == contents.layers


def test_mixed_precision_sizes_and_packing(tmp_path, shufflenet):
    config = tmp_path / "mixed.toml"
    config.write_text('[[layer]]\nmatch = "stage2.*"\nweight_bits = 2\n[[layer]]\nmatch = "fc"\nquantize = false\n')
    qmodel = quantized(shufflenet.model, "int8", read_layer_config(config))
    path = tmp_path / "mixed.safetensors"
    save_artifact(path, qmodel, arch="shufflenet_v2_x1_0", num_classes=10, scheme="int8", generator="gaussian")
    contents = read_artifact(path)
    assert contents.layers["stage2.0.branch1.0"]["weight_bits"] == 2
    assert "fc.weight" in contents.floats  # left in float, counted at 4 bytes each
    expected = sum(size.packed_bytes(v.numel(), b) for v, b in contents.int_weights.values())
    expected += 4 * sum(t.numel() for t in contents.floats.values())
    assert contents.quantized_bytes == expected


@pytest.fixture(scope="module")
def w4a8_artifact(shufflenet, tmp_path_factory):
    """Quantized once per module; each tampering test edits a copy."""
    path = tmp_path_factory.mktemp("w4a8") / "a.safetensors"
    save_artifact(path, quantized(shufflenet.model, "w4a8"), arch="shufflenet_v2_x1_0", num_classes=10,
                  scheme="w4a8", generator="gaussian")
    return path


def tampered(tmp_path, source, change):
    with safe_open(str(source), framework="pt") as handle:
        metadata = handle.metadata()
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    header = json.loads(metadata["dfq_artifact"])
    change(header, tensors)
    metadata = {"dfq_artifact": json.dumps(header)} if not isinstance(header.get("layers"), str) else {
        "dfq_artifact": json.dumps(header).replace('"{not json"', "{not json")}
    path = tmp_path / "tampered.safetensors"
    save_file(tensors, str(path), metadata=metadata)
    return path


def set_field_zero(metadata, tensors):
    # Packed 4-bit field 0 decodes to -8: outside the declared symmetric grid [-7, 7].
    tensors["fc.weight.int"] = torch.zeros_like(tensors["fc.weight.int"])


@pytest.mark.parametrize("change, message", [
    (set_field_zero, "outside its declared 4-bit range"),
    (lambda m, t: t.update({"fc.weight.int": t["fc.weight.int"][:-1]}), "fc.weight.int"),
    (lambda m, t: t.update({"fc.bias": torch.zeros(11)}), "fc.bias"),
    (lambda m, t: t.pop("conv1.0.input.scale"), "missing"),
    (lambda m, t: t.update({"extra": torch.zeros(1)}), "unexpected"),
    (lambda m, t: m.update({"arch": "vgg16"}), "arch"),
    (lambda m, t: m.update({"num_classes": -3}), "num_classes"),
    (lambda m, t: m.update({"num_classes": "10"}), "num_classes"),
    (lambda m, t: m.update({"layers": "{not json"}), "JSON"),
    (lambda m, t: t.update({"fc.weight.scale": torch.full_like(t["fc.weight.scale"], float("nan"))}), "NaN"),
])
def test_tampered_artifacts_are_rejected(tmp_path, w4a8_artifact, change, message):
    with pytest.raises(ArtifactError, match=message):
        read_artifact(tampered(tmp_path, w4a8_artifact, change))


def test_not_safetensors_is_rejected(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"PK\x03\x04 this is a pickle zip, not safetensors")
    with pytest.raises(ArtifactError, match="not a readable safetensors"):
        read_artifact(path)


def test_same_model_gives_the_same_file(tmp_path, w4a8_artifact):
    from challenge.artifact import load_artifact as load

    model, contents = load(w4a8_artifact)
    for name in ("a", "b"):
        save_artifact(tmp_path / name, model, arch=contents.arch, num_classes=contents.num_classes,
                      scheme=contents.scheme, generator=contents.generator)
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


@pytest.mark.parametrize("metadata", ["[" * 100000 + "]" * 100000, '{"num_classes": ' + "9" * 5000 + "}"])
def test_crafted_metadata_is_an_artifact_error(tmp_path, metadata):
    path = tmp_path / "crafted.safetensors"
    save_file({"x": torch.zeros(1)}, str(path), metadata={"dfq_artifact": metadata})
    with pytest.raises(ArtifactError):
        read_artifact(path)
