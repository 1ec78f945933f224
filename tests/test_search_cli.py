"""python -m challenge.search and main.py --target-compression as a participant runs them."""
import subprocess
import sys
from pathlib import Path

from challenge.output_format import parse
from challenge.quant.layer_config import read_layer_config
from challenge.size import compression_ratio
from scorer.measure import artifact_facts, fp32_bytes_of
from tests.conftest import IMAGENETTE, STANDINS, require, side_by_side

REPO = Path(__file__).resolve().parents[1]
# One tiny Gaussian sample, two candidate widths, min-max weight scales: seconds, not minutes.
TINY = ["--num-samples", "1", "--batch-size", "1", "--device", "cpu", "--scheme", "int8"]


def start(*args, module=("-m", "challenge.search")):
    return subprocess.run([sys.executable, *module, *args], cwd=REPO, capture_output=True, text=True, timeout=600)


def resnet18_weights():
    return str(require(STANDINS) / "resnet18-imagenette10.pth")


def one_error_line(result) -> str:
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and sum(l.startswith("error: ") for l in lines) == 1, result.stderr
    return lines[-1]


def scorer_compression(artifact: Path) -> float:
    arch, num_classes, _, quantized = artifact_facts(artifact)
    return compression_ratio(fp32_bytes_of(arch, num_classes), quantized)


def test_search_then_main_layer_config_meets_the_target_as_scored(tmp_path):
    out = tmp_path / "mixed.toml"
    reuse = ["--reuse-synthetic", "--cache-dir", str(tmp_path / "cache")]
    result = start("--model", "resnet18", "--weights", resnet18_weights(), *TINY, "--weight-bits", "4,8",
                   "--samples", "1", "--target-compression", "80", "--out", str(out), *reuse)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    for name in ("mixed.toml", "mixed.frontier.md", "mixed.frontier.png", "mixed.sensitivities.json"):
        assert (tmp_path / name).is_file(), name
    assert {rule["weight_bits"] for rule in read_layer_config(out)} <= {4, 8}
    artifact = tmp_path / "resnet18.safetensors"
    # main.py on the config, and re-solving for another target, which reuses the measured
    # sensitivities (no second measurement): side by side, neither reads what the other writes.
    run, again = side_by_side([
        [sys.executable, "main.py", "--model", "resnet18", "--data", str(require(IMAGENETTE)), "--classes",
         str(IMAGENETTE / "wnids.txt"), "--weights", resnet18_weights(), *TINY, "--limit", "2", "--workers", "0",
         "--layer-config", str(out), "--save-model", str(artifact)],
        [sys.executable, "-m", "challenge.search", "--model", "resnet18", "--weights", resnet18_weights(), *TINY,
         "--weight-bits", "4,8", "--samples", "1", "--target-compression", "82", "--out", str(tmp_path / "again.toml"),
         "--sensitivities-from", str(tmp_path / "mixed.sensitivities.json"), *reuse]])
    assert run.returncode == 0, run.stderr
    assert scorer_compression(artifact) >= 80.0
    assert again.returncode == 0, again.stderr
    assert "sensitivities 0.0 s" in again.stderr
    assert "synthetic images reused from" in again.stderr  # and the same images: not generated again


def test_main_py_target_compression_saves_the_config_beside_the_artifact(tmp_path):
    artifact = tmp_path / "models" / "resnet18.safetensors"
    run = start("--model", "resnet18", "--data", str(require(IMAGENETTE)), "--classes", str(IMAGENETTE / "wnids.txt"),
                "--weights", resnet18_weights(), *TINY, "--limit", "2", "--workers", "0", "--target-compression", "81",
                "--search-arg", "weight_bits=(4, 8)", "--search-arg", "samples=1", "--save-model", str(artifact),
                module=("main.py",))
    assert run.returncode == 0, run.stderr
    assert len(parse(run.stdout.encode())[0].predictions) == 2  # stdout is output.txt only
    assert (artifact.parent / "resnet18.layers.toml").is_file()
    assert (artifact.parent / "resnet18.layers.frontier.png").is_file()
    assert scorer_compression(artifact) >= 81.0


def test_bad_inputs_are_one_line(tmp_path):
    weights = resnet18_weights()
    search = [sys.executable, "-m", "challenge.search", "--model", "resnet18", "--weights", weights,
              "--out", str(tmp_path / "x.toml")]
    main = [sys.executable, "main.py", "--model", "resnet18"]
    # Each entry point's wiring, once per kind of check (the plan's own refusals, out-of-range
    # targets, a pattern matching no layer, a scheme without weights, are tested in-process in
    # tests/challenge/test_search_pipeline.py). Run side by side: each process mostly imports torch.
    cases = {  # expected line: command
        "beyond what resnet18 reaches with 2-bit weights": [*search, "--target-compression", "96"],
        "a generator batch of 4 (--batch-size) is larger than the 2 calibration samples":
            [*search, "--target-compression", "85", "--num-samples", "2", "--batch-size", "4"],
        "below what resnet18 already reaches with 8-bit weights":
            [*main, "--weights", weights, "--scheme", "w4a8", "--target-compression", "50"],
        "--cache-dir is where --reuse-synthetic keeps the synthetic images":
            [*search, "--target-compression", "85", "--cache-dir", str(tmp_path)],
        "give --layer-config or --target-compression, not both":
            [*main, "--target-compression", "85", "--layer-config", "x.toml"],
    }
    for expected, result in zip(cases, side_by_side(list(cases.values()))):
        assert expected in one_error_line(result)


def test_search_args_are_checked_before_any_data():
    """--search-arg values are user input: a lone number is a list of one, anything else that is
    not numbers is a KitError at once (not a TypeError after generation)."""
    import pytest

    from challenge.cli import model_plans, parse_args
    from challenge.errors import KitError
    from challenge.quant import get_scheme
    from challenge.search.stage import search_space

    def space(*search_args):
        argv = ["--model", "resnet18", "--scheme", "w4a8", "--target-compression", "80"]
        for pair in search_args:
            argv += ["--search-arg", pair]
        (plan,) = model_plans(parse_args(argv), argv)
        return search_space(plan.search, plan.model, 10, get_scheme("w4a8"))

    # A lone width: (one weight width would leave nothing to choose, so an activation width)
    plan, sweep = space("act_bits=4", "sweep=85")
    assert plan.act_bits == [4] and sweep == [85]
    for bad, message in [("weight_bits='four'", "weight_bits= takes a list of numbers"),
                         ("act_bits=[4,'x']", "act_bits= takes a list of numbers"),
                         ("sweep=101", "sweep= points must be percentages"),
                         ("samples='abc'", "samples= takes a whole number")]:
        with pytest.raises(KitError, match=message):
            space(bad)
