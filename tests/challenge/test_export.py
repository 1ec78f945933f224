"""ONNX export (challenge/export) and the onnxruntime runtime: the graph is the artifact's model.

Random-weight models check every scheme and architecture (onnx.checker, the integers, the float
graph against PyTorch) on small images; the trained stand-ins check that ONNX Runtime's integer
kernels predict what the reference runtime predicts on real images.
"""
import dataclasses
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
from challenge.errors import KitError  # noqa: E402
from challenge.export import export_artifact  # noqa: E402
from challenge.export.runtime import OnnxRuntimeModel, fused_operators, session  # noqa: E402
from challenge.models import MODEL_NAMES, build_architecture, load_fp32_model  # noqa: E402
from challenge.quant import get_scheme, list_schemes, quantize_model  # noqa: E402
from challenge.quant.exact import exact_runtime, normalize_exact  # noqa: E402
from tests.conftest import ASSETS, IMAGENET_VAL, IMAGENETTE, REPO, require, side_by_side  # noqa: E402

# The graph takes any image size, as the architectures do; 64 x 64 keeps the tests fast.
IMAGES = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
# Every architecture at int8, every other scheme on MobileNetV2 (ReLU6, residual adds).
CASES = [(arch, "int8") for arch in MODEL_NAMES] + [("mobilenet_v2", s) for s in list_schemes() if s != "int8"]


def _random_model(arch):
    """Random weights with BatchNorm statistics of random inputs, so that activations keep their
    scale through the network (at PyTorch's init, MobileNetV2's logits are 1e-9)."""
    torch.manual_seed(0)
    model = build_architecture(arch, 10)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # a plain average over the batches below
    with torch.no_grad():
        model(torch.randn(8, 3, 32, 32))
    return model.eval()


def _artifact(folder, arch, scheme, model=None, calibration=None, num_classes=10):
    model = model if model is not None else _random_model(arch)
    calibration = calibration or [torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))]
    # The scheme's grids with min-max observers: the same kind of artifact, without the MSE
    # searches that take minutes at 6 bits (the export reads the grids, not how they were chosen).
    fast = dataclasses.replace(get_scheme(scheme), weight_observer="minmax", act_observer="minmax")
    path = folder / f"{arch}-{scheme}.safetensors"
    save_artifact(path, quantize_model(model, fast, calibration), arch=arch, num_classes=num_classes,
                  scheme=scheme, generator="gaussian")
    return path


def _logits(model, images=IMAGES):
    with torch.no_grad(), exact_runtime():
        return model(normalize_exact(images))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(arch, scheme) -> (artifact path, onnx path), each made once for the module."""
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
    assert json.loads({p.key: p.value for p in proto.metadata_props}["dfq_artifact"]) == contents.metadata
    for name, (values, bits) in contents.int_weights.items():
        assert constants[f"{name}.weight.int"].dtype == np.int8  # sub-8-bit weights too, on their grid
        assert np.array_equal(constants[f"{name}.weight.int"], values.numpy()), name
        scale = contents.floats[f"{name}.weight.scale"].numpy()
        assert np.array_equal(constants[f"{name}.weight.scale"].reshape(-1), scale), name
    quantized = [name for name, spec in contents.layers.items() if spec["act_bits"] is not None]
    producer = {output: node for node in proto.graph.node for output in node.output}
    layer_node = {n.name.rsplit("/", 1)[0]: n for n in proto.graph.node if n.op_type in ("Conv", "Gemm")}
    for name in quantized:
        # The layer reads a DequantizeLinear with the artifact's scale and zero point (its own, or
        # the same quantizer written once at the block output it reads, qparams.py).
        dq = producer[layer_node[name].input[0]]
        assert dq.op_type == "DequantizeLinear", name
        scale = contents.floats[f"{name}.input.scale"].item()
        assert constants[dq.input[2]] == contents.floats[f"{name}.input.zero_point"].item(), name
        assert constants[dq.input[2]].dtype == np.uint8
        spec = contents.layers[name]
        if constants[dq.input[1]] != scale:  # ResNet's residual stream: the grid at twice the step
            assert arch == "resnet18" and constants[dq.input[1]] == np.float32(2) * np.float32(scale), name
            assert producer[dq.input[0]].op_type == "Clip", name
        elif spec["act_bits"] < 8 or spec["reduce_range"]:
            # A narrow grid is a Clip on the integers, reached through selections on them.
            node = producer[dq.input[0]]
            while node.op_type in ("MaxPool", "Gather", "Split", "Flatten"):
                node = producer[node.input[0]]
            assert node.op_type == "Clip", name
    # ONNX Runtime loads and runs it (unoptimized, the quickest check; optimized runs are below).
    (logits,) = session(path.read_bytes(), level="ORT_DISABLE_ALL").run(None, {"input": normalize_exact(IMAGES).numpy()})
    assert logits.shape == (2, 10) and np.isfinite(logits).all()


@pytest.mark.parametrize("arch", MODEL_NAMES)
def test_the_float_graph_is_the_pytorch_model(exported, arch):
    """fp32 checks the topology (every add, split, shuffle and pool) to float rounding; quantized
    graphs are checked on real images below (on random weights one rounding step cascades)."""
    artifact, path = exported(arch, "fp32")
    reference, _ = load_artifact(artifact)
    expected, got = _logits(reference), _logits(OnnxRuntimeModel(path.read_bytes()))
    assert float((expected - got).abs().max()) <= 1e-4 * float(expected.abs().max()), arch


# Per architecture: additions and concatenations of its forward, which must run integer too.
MERGES = {"resnet18": {"QLinearAdd": 8}, "mobilenet_v2": {"QLinearAdd": 10},
          "shufflenet_v2_x1_0": {"QLinearConcat": 16}}
FLOAT_OPS = ("Conv", "FusedConv", "Gemm", "MatMul", "Add", "Concat", "GlobalAveragePool", "Relu", "DequantizeLinear")
# ResNet's residual stream is on twice its readers' step (qparams.residual_range): each block's
# first conv and downsampling conv read it through a uint8 Clip.
CLIPPED = {"resnet18": 8 + 3}


def _check_integer_graph(model_bytes, arch, convs):
    """ONNX Runtime's optimized graph: every conv a QLinearConv, nothing float but the input's quantizer."""
    counts = fused_operators(model_bytes)
    assert not {op: counts[op] for op in FLOAT_OPS if counts[op]}, (arch, counts)
    assert counts["QLinearConv"] == convs and counts["QGemm"] == 1 and counts["QLinearGlobalAveragePool"] == 1
    assert all(counts[op] == n for op, n in MERGES[arch].items()), (arch, counts)
    assert counts["QuantizeLinear"] == 1 and counts["Clip"] == CLIPPED.get(arch, 0)  # the image's; uint8 Clips


@pytest.mark.parametrize("arch, scheme", [(arch, "int8") for arch in MODEL_NAMES] + [("mobilenet_v2", "w4a8")])
def test_every_layer_runs_on_integer_kernels(exported, arch, scheme):
    """No float convolution left (read from ONNX Runtime's optimized graph), for 4-bit weights too."""
    artifact, path = exported(arch, scheme)
    model, _ = load_artifact(artifact)
    convs = sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    _check_integer_graph(path.read_bytes(), arch, convs)


REAL = {"resnet18": ("standins/resnet18-imagenette10.pth", IMAGENETTE, 80),
        "mobilenet_v2": ("mobilenet_v2-b0353104.pth", IMAGENET_VAL, 50),
        "shufflenet_v2_x1_0": ("standins/shufflenet_v2_x1_0-imagenette10.pth", IMAGENETTE, 80)}


@pytest.mark.parametrize("arch", MODEL_NAMES)
def test_onnxruntime_predicts_as_the_reference_on_real_images(tmp_path, arch):
    weights, root, least_top1 = REAL[arch]
    fp32 = load_fp32_model(arch, require(ASSETS / "weights" / weights))
    wnids = data.read_class_list(root / "wnids.txt") if fp32.num_classes == 10 else data.class_list_for(1000)
    records = data.list_images(require(root), wnids)
    step = len(records) // 16
    images, labels = data.decode_all(data.ImageDataset(root, records[::step][:16]), num_workers=0)
    others, _ = data.decode_all(data.ImageDataset(root, records[step // 2::step][:4]), num_workers=0)
    artifact = _artifact(tmp_path, arch, "int8", fp32.model, [data.normalize(others)], fp32.num_classes)
    reference, _ = load_artifact(artifact)
    onnx_bytes = export_artifact(artifact, tmp_path / "m.onnx").path.read_bytes()
    _check_integer_graph(onnx_bytes, arch, sum(isinstance(m, torch.nn.Conv2d) for m in fp32.model.modules()))
    ort_model = OnnxRuntimeModel(onnx_bytes)
    a = evaluate.predict_tensor(reference, images, batch_size=16).classes
    b = evaluate.predict_tensor(ort_model, images, batch_size=16).classes
    # 99-100% agreement on the shared sets (benchmarks/results/onnxruntime-integer.md): on 16
    # images none is expected; one is allowed for another CPU's kernels.
    assert sum(x != y for x, y in zip(a, b)) <= 1
    assert evaluate.top1(a, labels) > least_top1  # trained models on real images, not noise


# ---------------------------------------------------------------- command line


def _one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def _main_args(folder):
    """main.py on the ShuffleNetV2 stand-in with the ONNX Runtime runtime, its export in `folder`."""
    root = IMAGENETTE
    return ["--model", "shufflenet_v2_x1_0", "--data", root, "--classes", root / "wnids.txt", "--weights-dir",
            ASSETS / "weights" / "standins", "--limit", "6", "--num-samples", "4", "--batch-size", "4",
            "--workers", "0", "--device", "cpu", "--runtime", "onnxruntime", "--export-onnx", folder / "s.onnx"]


@pytest.fixture(scope="module")
def command_lines(exported, tmp_path_factory):
    """The processes of the three tests below, started together (each mostly imports torch and
    ONNX): name -> result, and each test's folder."""
    from safetensors.torch import load_file, save_file

    folders = {name: tmp_path_factory.mktemp(name) for name in ("export", "bad", "main")}
    artifact, _ = exported("resnet18", "int8")
    bad = folders["bad"]
    save_file({"weight": torch.zeros(3)}, bad / "other.safetensors")
    metadata = dict(read_artifact(artifact).metadata, scheme="w3a3")
    save_file(load_file(artifact), bad / "w3a3.safetensors", metadata={"dfq_artifact": json.dumps(metadata)})
    (bad / "file").write_text("")
    export = [sys.executable, "-m", "challenge.export"]
    commands = {"export": [*export, artifact, "--out", folders["export"] / "sub" / "m.onnx"],
                "not_kit": [*export, bad / "other.safetensors", "--out", bad / "a.onnx"],
                "foreign": [*export, bad / "w3a3.safetensors", "--out", bad / "b.onnx"],
                "unwritable": [*export, artifact, "--out", bad / "file" / "c.onnx"]}
    if IMAGENETTE.is_dir() and (ASSETS / "weights" / "standins").is_dir():
        commands["main"] = [sys.executable, "main.py", *_main_args(folders["main"])]
    results = side_by_side([[str(part) for part in command] for command in commands.values()])
    return dict(zip(commands, results)), folders


def test_command_line_export(command_lines):
    results, folders = command_lines
    result, folder = results["export"], folders["export"]
    assert result.returncode == 0 and result.stdout == "", result.stderr
    onnx.checker.check_model(onnx.load(folder / "sub" / "m.onnx"))
    assert [p.name for p in (folder / "sub").iterdir()] == ["m.onnx"]  # no temporary file left


def test_bad_inputs_end_with_one_line_and_exit_2(exported, command_lines):
    results, folders = command_lines
    _one_line_error(results["not_kit"], "other.safetensors", "metadata")
    _one_line_error(results["foreign"], "scheme 'w3a3'", "int8")
    _one_line_error(results["unwritable"], "cannot write", "c.onnx")
    artifact, _ = exported("resnet18", "int8")
    with pytest.raises(KitError, match="is the artifact itself"):
        export_artifact(artifact, artifact)
    assert sorted(p.name for p in folders["bad"].iterdir()) == ["file", "other.safetensors", "w3a3.safetensors"]


def test_main_evaluates_with_onnxruntime_and_exports(command_lines):
    from challenge.cli import parse_args
    from challenge.output_format import parse

    require(IMAGENETTE), require(ASSETS / "weights" / "standins")
    results, folders = command_lines
    result, folder = results["main"], folders["main"]
    assert result.returncode == 0, result.stderr
    (section,) = parse(result.stdout.encode())
    assert section.num_images == 6 and "onnxruntime runtime" in result.stderr
    onnx.checker.check_model(onnx.load(folder / "s.onnx"))
    with pytest.raises(KitError, match="cannot write ONNX output"):  # before any model is loaded
        parse_args([*map(str, _main_args(folder)[:-1]), str(folder / "s.onnx" / "x.onnx")])


def test_run_bash_refuses_one_onnx_path_for_three_models():
    result = subprocess.run(["bash", "run.bash", "--export-onnx", "m.onnx"], cwd=REPO, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "python -m challenge.export" in result.stderr and result.stdout == ""
