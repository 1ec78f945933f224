"""ONNX export (challenge/export) and the onnxruntime runtime: the graph is the artifact's model.

Random-weight models check every scheme and architecture (onnx.checker, the integers, the float
graph against PyTorch); the trained stand-ins check that ONNX Runtime's integer kernels predict
what the reference runtime predicts on real images.
"""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install -r requirements.txt)")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -r requirements.txt)")

from onnx import numpy_helper  # noqa: E402

from challenge import data, evaluate  # noqa: E402
from challenge.artifact import load_artifact, read_artifact, save_artifact  # noqa: E402
from challenge.export import export_artifact  # noqa: E402
from challenge.export.runtime import OnnxRuntimeModel, fused_operators  # noqa: E402
from challenge.models import MODEL_NAMES, build_architecture, load_fp32_model  # noqa: E402
from challenge.quant import get_scheme, list_schemes, quantize_model  # noqa: E402
from challenge.quant.exact import exact_runtime, normalize_exact  # noqa: E402
from tests.conftest import IMAGENETTE, REPO, STANDINS, require  # noqa: E402

IMAGES = torch.randint(0, 256, (2, 3, 224, 224), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))


def _random_model(arch):
    """Random weights with BatchNorm statistics of random inputs, so that activations keep their
    scale through the network (at PyTorch's init, MobileNetV2's logits are 1e-9)."""
    torch.manual_seed(0)
    model = build_architecture(arch, 10)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # a plain average over the batches below
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(8, 3, 64, 64))
    return model.eval()


def _artifact(folder, arch, scheme, model=None):
    model = model if model is not None else _random_model(arch)
    calibration = [torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))]
    qmodel = quantize_model(model, get_scheme(scheme), calibration)
    path = folder / f"{arch}-{scheme}.safetensors"
    save_artifact(path, qmodel, arch=arch, num_classes=10, scheme=scheme, generator="gaussian")
    return path


def _logits(model, images=IMAGES):
    with torch.no_grad(), exact_runtime():
        return model(normalize_exact(images))


# Every architecture at int8, every other scheme on MobileNetV2 (ReLU6, residual adds).
CASES = [(arch, "int8") for arch in MODEL_NAMES] + [("mobilenet_v2", s) for s in list_schemes() if s != "int8"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(arch, scheme) -> (artifact path, onnx path), made once for the module."""
    folder, made = tmp_path_factory.mktemp("export"), {}

    def get(arch, scheme):
        if (arch, scheme) not in made:
            artifact = _artifact(folder, arch, scheme)
            made[arch, scheme] = artifact, export_artifact(artifact, folder / f"{arch}-{scheme}.onnx").path
        return made[arch, scheme]
    return get


@pytest.mark.parametrize("arch, scheme", CASES)
def test_export_passes_the_checker_and_holds_the_artifacts_numbers(exported, arch, scheme):
    artifact, path = exported(arch, scheme)
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    constants = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    contents = read_artifact(artifact)
    assert json.loads(dict((p.key, p.value) for p in proto.metadata_props)["dfq_artifact"]) == contents.metadata
    for name, (values, bits) in contents.int_weights.items():
        assert constants[f"{name}.weight.int"].dtype == np.int8  # sub-8-bit weights too, on their grid
        assert np.array_equal(constants[f"{name}.weight.int"], values.numpy()), name
        scale = contents.floats[f"{name}.weight.scale"].numpy()
        assert np.array_equal(constants[f"{name}.weight.scale"].reshape(-1), scale), name
    for name, spec in contents.layers.items():
        if spec["act_bits"] is not None:
            assert constants[f"{name}.input.scale"] == contents.floats[f"{name}.input.scale"].item()
            assert constants[f"{name}.input.zero_point"] == contents.floats[f"{name}.input.zero_point"].item()
            assert constants[f"{name}.input.zero_point"].dtype == np.uint8
    quantizers = sum(n.op_type == "QuantizeLinear" for n in proto.graph.node)
    assert quantizers == sum(spec["act_bits"] is not None for spec in contents.layers.values())


@pytest.mark.parametrize("arch, scheme", CASES)
def test_onnxruntime_computes_the_reference_model(exported, arch, scheme):
    """The float graph is the PyTorch model (same topology); quantized graphs are near the reference."""
    artifact, path = exported(arch, scheme)
    reference, _ = load_artifact(artifact)
    expected, got = _logits(reference), _logits(OnnxRuntimeModel(path.read_bytes()))
    spread = float(expected.abs().max())
    # fp32: only float rounding apart. Quantized random-weight models: a value on a rounding
    # boundary may move one step, so the logits agree roughly, not bit for bit.
    tolerance = 1e-4 if scheme == "fp32" else 0.15
    assert float((expected - got).abs().max()) <= tolerance * spread, (arch, scheme)


def test_int8_runs_on_integer_kernels(exported):
    counts = fused_operators(exported("resnet18", "int8")[1].read_bytes())
    assert counts["QLinearConv"] == 8 and counts["QGemm"] == 1  # each block's first conv, the classifier


@pytest.fixture(scope="module")
def standin_artifacts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("standins")
    paths = {}
    for arch in ("resnet18", "shufflenet_v2_x1_0"):
        fp32 = load_fp32_model(arch, require(STANDINS) / f"{arch}-imagenette10.pth")
        paths[arch] = _artifact(folder, arch, "int8", fp32.model)
    return paths


@pytest.mark.parametrize("arch", ["resnet18", "shufflenet_v2_x1_0"])
def test_onnxruntime_predicts_as_the_reference_on_real_images(standin_artifacts, arch):
    root = require(IMAGENETTE)
    records = data.list_images(root, data.read_class_list(root / "wnids.txt"))[::35]  # 48 images, all classes
    images, labels = data.decode_all(data.ImageDataset(root, records), num_workers=0)
    reference, _ = load_artifact(standin_artifacts[arch])
    ort_model = OnnxRuntimeModel(export_artifact(standin_artifacts[arch], standin_artifacts[arch].with_suffix(".onnx"))
                                 .path.read_bytes())
    a = evaluate.predict_tensor(reference, images, batch_size=16).classes
    b = evaluate.predict_tensor(ort_model, images, batch_size=16).classes
    differ = sum(x != y for x, y in zip(a, b))
    assert differ <= 1, f"{differ} of {len(records)} predictions differ"  # the bound: 99% agreement
    assert evaluate.top1(a, labels) > 80  # trained models on real images, not noise


# ---------------------------------------------------------------- command line


def _run(*args, script=("-m", "challenge.export")):
    return subprocess.run([sys.executable, *script, *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def _one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_command_line_export(exported, tmp_path):
    artifact, _ = exported("resnet18", "int8")
    result = _run(artifact, "--out", tmp_path / "sub" / "m.onnx")
    assert result.returncode == 0 and result.stdout == "", result.stderr
    onnx.checker.check_model(onnx.load(tmp_path / "sub" / "m.onnx"))
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["m.onnx"]  # no temporary file left


def test_bad_inputs_end_with_one_line_and_exit_2(exported, tmp_path):
    from safetensors.torch import load_file, save_file

    not_kit = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(3)}, not_kit)
    _one_line_error(_run(not_kit, "--out", tmp_path / "a.onnx"), "other.safetensors", "metadata")
    artifact, _ = exported("resnet18", "int8")
    metadata = read_artifact(artifact).metadata
    foreign = tmp_path / "w3a3.safetensors"
    save_file(load_file(artifact), foreign, metadata={"dfq_artifact": json.dumps(dict(metadata, scheme="w3a3"))})
    _one_line_error(_run(foreign, "--out", tmp_path / "b.onnx"), "scheme 'w3a3'", "int8")
    (tmp_path / "file").write_text("")
    _one_line_error(_run(artifact, "--out", tmp_path / "file" / "c.onnx"), "cannot write", "c.onnx")
    _one_line_error(_run(artifact, "--out", artifact), "is the artifact itself")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "other.safetensors", "w3a3.safetensors"]


def test_main_evaluates_with_onnxruntime_and_exports(tmp_path):
    from challenge.output_format import parse

    root = require(IMAGENETTE)
    args = ["--model", "shufflenet_v2_x1_0", "--data", root, "--classes", root / "wnids.txt", "--weights-dir",
            require(STANDINS), "--limit", "6", "--num-samples", "4", "--batch-size", "4", "--workers", "0",
            "--device", "cpu", "--runtime", "onnxruntime", "--export-onnx", tmp_path / "s.onnx"]
    result = _run(*args, script=("main.py",))
    assert result.returncode == 0, result.stderr
    (section,) = parse(result.stdout.encode())
    assert section.num_images == 6 and "onnxruntime runtime" in result.stderr
    onnx.checker.check_model(onnx.load(tmp_path / "s.onnx"))
    bad = _run(*args[:-1], tmp_path / "s.onnx" / "x", script=("main.py",))  # a file as a folder: fails at once
    assert bad.returncode == 2 and bad.stderr.startswith("error: cannot write ONNX output"), bad.stderr
