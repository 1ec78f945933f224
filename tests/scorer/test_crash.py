"""SIGKILL the scorer in the middle of a run, twice, then let it finish: every submission is
scored exactly once and the database is consistent. Runs `python -m scorer run` in a
subprocess, the way organizers do."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scorer_helpers import MODELS, ground_truth_csv, image_names, output_text

REPO = Path(__file__).resolve().parents[2]
COUNT = 20
IMAGES = 20_000  # enough lines that a run takes a few seconds, so the kill lands mid-run


def _finished(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT COUNT(*) FROM submissions WHERE status IN ('scored', 'invalid')").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def _run(root: Path, config: Path, kill_after: int | None) -> tuple[int, int]:
    """Start `scorer run`; SIGKILL it once `kill_after` results are stored. Returns (rc, done at the end)."""
    command = [sys.executable, "-m", "scorer", "run", "--config", str(config), "--inbox", str(root / "inbox"),
               "--db", str(root / "scores.sqlite"), "--no-verify", "--workers", "2"]
    scratch = root / "scratch"  # the scorer's temporary folders, to see what a kill leaves
    scratch.mkdir(exist_ok=True)
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True, env=dict(os.environ, TMPDIR=str(scratch)))
    try:
        if kill_after is not None:
            while process.poll() is None and _finished(root / "scores.sqlite") < kill_after:
                time.sleep(0.01)
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=300)
    finally:
        try:  # orphaned workers of the killed scorer: same session, started by this test
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return process.returncode, _finished(root / "scores.sqlite")


def test_sigkill_mid_run_then_rerun(tmp_path, challenge):
    files = image_names(IMAGES, 10)
    labels = [i % 10 for i in range(IMAGES)]
    gt = ground_truth_csv(tmp_path / "big_gt.csv", files, labels)
    config = tmp_path / "challenge.toml"
    config.write_text(f'[challenge]\nnum_classes = 10\nground_truth = "{gt.name}"\n', encoding="utf-8")
    sizes = {m: s[0] for m, s in challenge.sizes.items()}
    fp32 = {m: s[1] for m, s in challenge.sizes.items()}
    for k in range(COUNT):
        wrong = [(l + 1) % 10 if i < k * 100 else l for i, l in enumerate(labels)]  # each one different
        output = output_text(files, {m: wrong for m in MODELS}, quantized_bytes=sizes, fp32_bytes=fp32)
        challenge.upload(f"team{k % 7}", f"sub{k}.zip", challenge.members(output))
    # The same bytes uploaded twice (another name, another team) are one submission.
    (tmp_path / "inbox" / "copycat").mkdir()
    (tmp_path / "inbox" / "copycat" / "same.zip").write_bytes((tmp_path / "inbox" / "team0" / "sub0.zip").read_bytes())

    rc1, done1 = _run(tmp_path, config, kill_after=3)
    rc2, done2 = _run(tmp_path, config, kill_after=done1 + 5)
    rc3, done3 = _run(tmp_path, config, kill_after=None)
    assert rc1 == -signal.SIGKILL and rc2 == -signal.SIGKILL, "the scorer finished before it could be killed"
    assert 3 <= done1 < done2 < COUNT
    assert rc3 == 0 and done3 == COUNT
    # The killed runs' extraction folders were removed by the next run, the last run's by itself.
    assert list((tmp_path / "scratch").glob("dfq-submission-*")) == []

    conn = sqlite3.connect(tmp_path / "scores.sqlite")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    rows = conn.execute("SELECT status, results_written, error FROM submissions").fetchall()
    assert len(rows) == COUNT
    assert all(r == ("scored", 1, "") for r in rows), rows
    per_model = conn.execute("SELECT submission_id, COUNT(*) FROM model_scores GROUP BY submission_id").fetchall()
    assert len(per_model) == COUNT and all(n == len(MODELS) for _, n in per_model)
    accuracy = sorted(a for (a,) in conn.execute("SELECT accuracy FROM model_scores WHERE model = 'resnet18'"))
    assert accuracy == pytest.approx(sorted(100.0 * (1 - k * 100 / IMAGES) for k in range(COUNT)))
    assert conn.execute("SELECT COUNT(*) FROM uploads").fetchone()[0] == COUNT + 1
