"""--method and --method-arg through main.py, as a participant runs it (real processes)."""
import json
import re
import subprocess
import sys
from pathlib import Path

from safetensors import safe_open

from challenge.output_format import parse
from tests.conftest import IMAGENETTE, STANDINS, require, side_by_side

REPO = Path(__file__).resolve().parents[1]
SMALL = ["--limit", "4", "--num-samples", "4", "--batch-size", "4", "--workers", "0", "--device", "cpu"]

PARTICIPANT_METHOD = '''
import torch
from challenge.quant import quant_layers


def halve_last_scale(fp32_model, qmodel, batches, *, factor=0.5):
    """Re-round the classifier's weights to a finer grid: a method of the participant's own."""
    layer = quant_layers(qmodel)["fc"]
    scale = layer.weight_scale * factor
    high = 2 ** (layer.spec.weight_bits - 1) - 1
    w = layer.weight_int.float() * layer.weight_scale.view(-1, 1)
    layer.set_integer_weight(torch.clamp(torch.round(w / scale.view(-1, 1)), -high, high).to(torch.int8), scale)
'''


def main_py(*args):
    return subprocess.run([sys.executable, "main.py", *args], cwd=REPO, capture_output=True, text=True, timeout=600)


def standin(*extra):
    return ["--model", "resnet18", "--data", str(require(IMAGENETTE)), "--classes", str(IMAGENETTE / "wnids.txt"),
            "--weights-dir", str(require(STANDINS)), *SMALL, *extra]


def one_error_line(result) -> str:
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and sum(l.startswith("error: ") for l in lines) == 1, result.stderr
    return lines[-1]


def test_brecq_on_bf16_zeroq_images_through_main(tmp_path):
    """The whole path a participant runs, through the bf16 generation path (ZeroQ: Genie-D's
    generator is large for a CPU test) and the fused reconstruction chains (eager on a CPU): an
    output.txt, and an artifact that loads (read_artifact checks every integer against its grid)
    and records the method. Same seed, same bytes: test_entry_points' determinism test. Two
    images, not SMALL's four: ZeroQ's bf16 steps on a CPU took 9 s for four."""
    from challenge.artifact import load_artifact

    artifact = tmp_path / "resnet18.safetensors"
    result = main_py(*standin("--num-samples", "2", "--batch-size", "2", "--scheme", "w4a8", "--generator", "zeroq",
                              "--gen-arg", "iterations=2", "--gen-arg", "precision=bf16", "--method", "brecq",
                              "--method-arg", "iterations=3", "--method-arg", "batch_size=2",
                              "--save-model", str(artifact)))
    assert result.returncode == 0, result.stderr
    section = parse(result.stdout.encode())[0]
    assert section.model == "resnet18" and len(section.predictions) == 4
    load_artifact(artifact)
    with safe_open(str(artifact), framework="pt") as handle:
        metadata = json.loads(handle.metadata()["dfq_artifact"])
    assert metadata["method"] == "brecq" and metadata["method_args"] == {"iterations": 3, "batch_size": 2}
    assert "brecq: 10 units in" in result.stderr  # the per-unit seconds, then their total
    # and where each unit's seconds went: caching its inputs, the first (compiling) step, the rest
    assert re.search(r"brecq 1/10 conv1: [\d.]+ s \(inputs cached [\d.]+ s, first 1 steps [\d.]+ s, "
                     r"2 steps at [\d.]+ ms\)", result.stderr), result.stderr
    # benchmarks/pipeline_speed.py reads these lines back: its parser must keep up with them
    from benchmarks.pipeline_speed import parse_log

    units = parse_log(result.stderr)["units"]
    assert len(units) == 10 and all(u["steps"] == 2 and u["ms_a_step"] >= 0 for u in units), units


def test_participant_method_file(tmp_path):
    method_file = tmp_path / "my_method.py"
    method_file.write_text(PARTICIPANT_METHOD)
    artifact = tmp_path / "resnet18.safetensors"
    result = main_py(*standin("--scheme", "w4a8", "--method", f"{method_file}:halve_last_scale",
                              "--method-arg", "factor=0.25", "--save-model", str(artifact)))
    assert result.returncode == 0, result.stderr
    with safe_open(str(artifact), framework="pt") as handle:
        metadata = json.loads(handle.metadata()["dfq_artifact"])
    assert metadata["method"].endswith("my_method.py:halve_last_scale") and metadata["method_args"] == {"factor": 0.25}


def test_bad_method_inputs(tmp_path):
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    cases = {  # expected line: arguments. Run side by side: each process mostly imports torch.
        "unknown method 'magic'; choose one of adaround, bias-correction, brecq, gptq, rtn": ("--method", "magic"),
        "fp32 scheme quantizes nothing, so method 'brecq'": ("--scheme", "fp32", "--method", "brecq"),
        "rejected its arguments": ("--method", "brecq", "--method-arg", "iteratoins=5"),
        "--method-arg needs --method": ("--method-arg", "a=1"),
        f"method file '{empty}' has no function 'mine'": ("--method", f"{empty}:mine"),
        "does not exist": ("--method", "/no/such.py:mine"),
        # A value whose type does not fit the default's: refused before any heavy work.
        "--method-arg iterations='abc': method 'brecq' takes a whole number": (
            "--method", "brecq", "--method-arg", "iterations=abc"),
        "--method-arg iterations=2.5: method 'adaround' takes a whole number": (
            "--method", "adaround", "--method-arg", "iterations=2.5"),
    }
    results = side_by_side([[sys.executable, "main.py", "--model", "resnet18", *args] for args in cases.values()])
    for expected, result in zip(cases, results):
        assert expected in one_error_line(result)