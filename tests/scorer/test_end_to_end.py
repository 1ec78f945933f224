"""End to end on real assets: the baseline builds a submission, `pack` zips it, `run` scores it
(with verification), `leaderboard` shows it with the right accuracy and compression."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import SHARED_ASSETS
from scorer.cli import main as scorer_main

REPO = Path(__file__).resolve().parents[2]
MODELS = ("resnet18", "shufflenet_v2_x1_0")  # the two 10-class stand-ins
LIMIT = 20

pytestmark = pytest.mark.skipif(not (SHARED_ASSETS / "imagenette10").is_dir(),
                                reason=f"shared assets not found at {SHARED_ASSETS} (imagenette10 + stand-in weights)")


def _baseline(model: str, out_dir: Path) -> bytes:
    if not (REPO / "main.py").is_file():
        pytest.skip("main.py (the baseline) is not there yet")
    data = SHARED_ASSETS / "imagenette10"
    command = [sys.executable, "main.py", "--model", model, "--data", str(data),
               "--weights", str(SHARED_ASSETS / "weights" / "standins" / f"{model}-imagenette10.pth"),
               "--classes", str(data / "wnids.txt"), "--limit", str(LIMIT), "--num-samples", "8",
               "--save-model", str(out_dir / f"saved-{model}.safetensors")]
    done = subprocess.run(command, cwd=REPO, capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stdout


def _ground_truth(path: Path) -> dict[str, int]:
    with open(SHARED_ASSETS / "imagenette10" / "labels.csv", encoding="utf-8") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda r: r["file"])[:LIMIT]
    path.write_text("file,index\n" + "".join(f"{r['file']},{r['index']}\n" for r in rows), encoding="utf-8")
    return {r["file"]: int(r["index"]) for r in rows}


def test_baseline_pack_run_leaderboard(tmp_path, capsys):
    read_artifact = pytest.importorskip("challenge.artifact", reason="challenge/artifact.py is not there yet").read_artifact
    from challenge.output_format import parse
    from challenge.size import compression_ratio

    work = tmp_path / "work"
    work.mkdir()
    output = b"".join(_baseline(m, work) for m in MODELS)
    (work / "output.txt").write_bytes(output)
    (work / "code").mkdir()
    (work / "code" / "run.sh").write_text("python main.py ...\n")
    truth = _ground_truth(tmp_path / "gt.csv")
    config = tmp_path / "challenge.toml"
    config.write_text(f'[challenge]\nmodels = {list(MODELS)!r}\nnum_classes = 10\nground_truth = "gt.csv"\n'
                      f'images = "{SHARED_ASSETS / "imagenette10"}"\n[verify]\nsample = 8\n'.replace("'", '"'),
                      encoding="utf-8")
    upload = tmp_path / "inbox" / "baseline-team" / "baseline.zip"
    upload.parent.mkdir(parents=True)

    assert scorer_main(["pack", "--config", str(config), "--output", str(work / "output.txt"),
                        "--models", *[str(p) for p in sorted(work.glob("saved-*"))],
                        "--code", str(work / "code"), "--out", str(upload)]) == 0
    assert "OK, the scorer accepts it" in capsys.readouterr().out
    db_path, board_dir = tmp_path / "scores.sqlite", tmp_path / "board"
    assert scorer_main(["run", "--config", str(config), "--inbox", str(tmp_path / "inbox"),
                        "--db", str(db_path), "--workers", "1"]) == 0
    assert "1 scored, 0 invalid" in capsys.readouterr().out
    assert scorer_main(["leaderboard", "--config", str(config), "--db", str(db_path), "--out", str(board_dir)]) == 0

    # Expected figures, computed independently of the scorer.
    sections = {s.model: s for s in parse(output)}
    accuracy, compression = {}, {}
    for model in MODELS:
        predictions = sections[model].predictions
        accuracy[model] = 100.0 * sum(predictions[f] == label for f, label in truth.items()) / len(truth)
        contents = read_artifact(work / f"saved-{model}.safetensors")
        compression[model] = compression_ratio(contents.fp32_bytes, contents.quantized_bytes)
    board = pd.read_csv(board_dir / "leaderboard.csv")
    assert list(board.team) == ["baseline-team"]
    row = board.iloc[0]
    assert row["accuracy"] == pytest.approx(round(sum(accuracy.values()) / 2, 1))
    assert row["compression"] == pytest.approx(round(sum(compression.values()) / 2, 1))
    for model in MODELS:
        assert row[f"{model} accuracy"] == pytest.approx(accuracy[model], abs=0.01)
        assert row[f"{model} compression"] == pytest.approx(compression[model], abs=0.01)
    assert 70.0 < row["compression"] < 80.0  # int8 of a float32 model: about 75%
    assert "baseline-team" in (board_dir / "leaderboard.md").read_text()
    assert "baseline-team" in (board_dir / "leaderboard.html").read_text()
