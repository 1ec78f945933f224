"""benchmarks/frontier.py: which runs it plans, what it writes from their results, and scoring runs
made elsewhere (--rescore; one small main.py run). The end-to-end frontier takes minutes even at
tiny sizes: see its docstring."""
import json

import pytest

from benchmarks.frontier import Run, first_maker, get_args_parser, main, plan_runs
from benchmarks.frontier_report import write_report
from challenge.errors import KitError

ARGV = ["--model", "resnet18", "--out", "OUT", "--data", "DATA", "--targets", "85,90", "--schemes", "w4a4",
        "--method-arg", "iterations=2", "--search-arg", "proxy=adaround-kl"]


def test_each_target_has_both_curves_and_method_args_go_to_the_best_only():
    args, extra = get_args_parser().parse_known_args(ARGV + ["--device", "cuda"])
    runs = {run.label: run for run in plan_runs(args)}
    assert list(runs) == ["fp32", "brecq-85", "rtn-85", "brecq-90", "rtn-90", "brecq-w4a4"]
    assert extra == ["--device", "cuda"]  # passed to every run
    assert "--method-arg" in runs["brecq-90"].options and "--method-arg" not in runs["rtn-90"].options
    assert runs["rtn-90"].options[runs["rtn-90"].options.index("--method") + 1] == "rtn"
    for label in ("brecq-85", "rtn-85"):  # the same widths search on both curves
        assert runs[label].options[:6] == ["--scheme", "w4a8", "--target-compression", "85", "--search-arg",
                                           "proxy=adaround-kl"]
    assert "--search-arg" not in runs["brecq-w4a4"].options and not runs["fp32"].scored


def test_runs_share_their_synthetic_images_unless_told_not_to(capsys):
    main([*ARGV, "--dry-run"])
    commands = capsys.readouterr().out.splitlines()
    assert len(commands) == 6 and all("--reuse-synthetic" in c for c in commands)
    main([*ARGV, "--dry-run", "--no-reuse"])
    assert "--reuse-synthetic" not in capsys.readouterr().out


def test_the_cheapest_run_not_made_yet_makes_the_shared_images_before_the_others_start(tmp_path):
    args, _ = get_args_parser().parse_known_args(ARGV)
    runs = plan_runs(args)
    assert first_maker(runs, tmp_path).label == "rtn-85"  # not a reconstruction the others wait for
    for label in ("rtn-85", "rtn-90"):  # made by an earlier invocation: this one must make the images again
        (tmp_path / "runs" / label).mkdir(parents=True)
        (tmp_path / "runs" / label / "result.json").write_text('{"top1": 90.0}')
        (tmp_path / "runs" / label / "model.safetensors").write_bytes(b"made")
    assert first_maker(runs, tmp_path).label == "brecq-85"
    (tmp_path / "runs" / "rtn-90" / "result.json").write_text('{"error": "main.py exit code 1"}')
    assert first_maker(runs, tmp_path).label == "rtn-90"  # failed before: made again, first
    args, _ = get_args_parser().parse_known_args([*ARGV, "--no-rtn"])
    assert first_maker(plan_runs(args), tmp_path / "none").label == "brecq-85"


def test_options_the_frontier_sets_per_run_are_refused():
    with pytest.raises(KitError, match="--save-model is set by the frontier"):
        main(ARGV + ["--save-model", "x.safetensors"])


def test_report_has_both_curves_the_fp32_line_and_the_prediction(tmp_path):
    args, _ = get_args_parser().parse_known_args(ARGV)
    predicted = {"compression": 85.0, "bits_per_weight": 4.8, "sensitivity": 0.1, "proxy": "kl",
                 "joint_kl": 0.05, "agreement": 96.0}
    runs = [Run("fp32", "fp32", [], scored=False, result={"top1": 92.0, "halves": [93.0, 91.0]}),
            Run("brecq-85", "best", [], 85.0, "w4a8", result={"compression": 85.01, "top1": 91.5, "verified": 8,
                                                              "verified_agree": 8, "predicted": predicted,
                                                              "halves": [92.5, 90.5]}),
            Run("rtn-85", "rtn", [], 85.0, "w4a8", result={"compression": 85.01, "top1": 90.0}),
            Run("brecq-90", "best", [], 90.0, "w4a8", result={"error": "main.py exit code 1: boom"}),
            Run("brecq-w4a4", "scheme", [], None, "w4a4", result={"compression": 87.4, "top1": 88.0})]
    paths = write_report(tmp_path, args, runs, "python -m benchmarks.frontier ...")
    table = (tmp_path / "frontier.md").read_text()
    assert "| brecq (searched) | 85 | 85.01 | 4.80 | 91.50 | -0.50 | 92.50 / 90.50 |" in table and "96.00 | 8/8" in table
    assert "FP32 top-1 on these images: 92.00% (halves 93.00 / 91.00)" in table
    assert "| rtn (searched) | 85 | 85.01 |" in table and "failed: main.py exit code 1: boom" in table
    rows = json.loads((tmp_path / "frontier.json").read_text())
    assert rows["fp32_top1"] == 92.0 and len(rows["rows"]) == 4
    assert paths[-1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_runs_made_elsewhere_are_scored_on_the_images_here(tmp_path):
    """--rescore: an artifact made on another machine (2 images there) is evaluated here on 6,
    written as its output.txt for them and verified by the scorer; a planned run that was never
    made is a failed row, not a crash."""
    import subprocess
    import sys

    from challenge import output_format
    from tests.conftest import IMAGENETTE, REPO, STANDINS, require

    weights = str(require(STANDINS / "resnet18-imagenette10.pth"))
    common = ["--model", "resnet18", "--weights", weights, "--classes", str(require(IMAGENETTE) / "wnids.txt")]
    out = tmp_path / "frontier"
    with pytest.raises(KitError, match="run the frontier without --rescore first"):
        main([*common, "--out", str(out), "--data", str(IMAGENETTE), "--rescore"])
    made = out / "runs" / "rtn-90"
    made.mkdir(parents=True)
    elsewhere = tmp_path / "two-images"  # the other machine's --data: the first two images only
    (elsewhere / "n01440764").mkdir(parents=True)
    for image in sorted((IMAGENETTE / "n01440764").iterdir())[:2]:
        (elsewhere / "n01440764" / image.name).symlink_to(image)
    command = ["main.py", *common, "--data", str(elsewhere), "--scheme", "w4a8", "--generator", "gaussian",
               "--num-samples", "2", "--batch-size", "2", "--workers", "0", "--device", "cpu",
               "--save-model", str(made / "model.safetensors")]
    with open(made / "output.txt", "w") as output:
        assert subprocess.run([sys.executable, *command], cwd=REPO, stdout=output, stderr=subprocess.PIPE).returncode == 0
    (made / "command.txt").write_text(" ".join(command) + "\n")
    (made / "result.json").write_text(json.dumps({"seconds": 12.5, "main_top1": 100.0, "images": 2}))
    (out / "runs" / "fp32").mkdir()
    (out / "runs" / "fp32" / "result.json").write_text(json.dumps({"seconds": 3.0, "top1": 100.0, "images": 2}))

    here = [*common, "--out", str(out), "--data", str(IMAGENETTE), "--limit", "6", "--method", "rtn",
            "--generator", "gaussian", "--targets", "90,85", "--rescore"]
    assert main(here) == 1  # rtn-85 was planned but never made
    result = json.loads((made / "result.json").read_text())
    assert (result["verified"], result["verified_agree"], result["seconds"]) == (6, 6, 12.5), result
    assert len(result["halves"]) == 2 and sum(result["halves"]) / 2 == pytest.approx(result["top1"], abs=0.01)
    assert result["made_elsewhere"]["images"] == 2 and 86 < result["compression"] < 88  # w4a8's
    section = output_format.read(made / "output-rescored.txt")[0]
    assert (section.model, section.scheme, section.generator, section.num_images) == ("resnet18", "w4a8", "gaussian", 6)
    fp32 = json.loads((out / "runs" / "fp32" / "result.json").read_text())
    assert fp32["images"] == 6 and len(fp32["halves"]) == 2
    table = (out / "frontier.md").read_text()
    assert "| 6/6 | 12 |" in table and "failed: not made" in table and "(halves " in table
