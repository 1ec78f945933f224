"""benchmarks/frontier.py without running main.py: which runs it plans, and what it writes from
their results (the end-to-end run takes minutes even at tiny sizes: see its docstring)."""
import json

import pytest

from benchmarks.frontier import Run, get_args_parser, main, plan_runs
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


def test_options_the_frontier_sets_per_run_are_refused():
    with pytest.raises(KitError, match="--save-model is set by the frontier"):
        main(ARGV + ["--save-model", "x.safetensors"])


def test_report_has_both_curves_the_fp32_line_and_the_prediction(tmp_path):
    args, _ = get_args_parser().parse_known_args(ARGV)
    predicted = {"compression": 85.0, "bits_per_weight": 4.8, "sensitivity": 0.1, "proxy": "kl",
                 "joint_kl": 0.05, "agreement": 96.0}
    runs = [Run("fp32", "fp32", [], scored=False, result={"top1": 92.0}),
            Run("brecq-85", "best", [], 85.0, "w4a8", result={"compression": 85.01, "top1": 91.5, "verified": 8,
                                                              "verified_agree": 8, "predicted": predicted}),
            Run("rtn-85", "rtn", [], 85.0, "w4a8", result={"compression": 85.01, "top1": 90.0}),
            Run("brecq-90", "best", [], 90.0, "w4a8", result={"error": "main.py exit code 1: boom"}),
            Run("brecq-w4a4", "scheme", [], None, "w4a4", result={"compression": 87.4, "top1": 88.0})]
    paths = write_report(tmp_path, args, runs, "python -m benchmarks.frontier ...")
    table = (tmp_path / "frontier.md").read_text()
    assert "| brecq (searched) | 85 | 85.01 | 4.80 | 91.50 | -0.50 |" in table and "96.00 | 8/8" in table
    assert "| rtn (searched) | 85 | 85.01 |" in table and "failed: main.py exit code 1: boom" in table
    rows = json.loads((tmp_path / "frontier.json").read_text())
    assert rows["fp32_top1"] == 92.0 and len(rows["rows"]) == 4
    assert paths[-1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
