"""Bounded work per upload: a submission past the time or memory limit is rejected with the
reason, and the others are scored. Real worker processes, as `python -m scorer run` uses them."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

from scorer import db, runner, tempfiles
from scorer.config import Limits
from scorer_helpers import MODELS, image_names, output_text

BIG = 900_000  # images per model in the crafted output.txt: 2.7M lines, ~4 s and ~800 MB to parse


def _output_for(ch, files) -> bytes:
    """A well-formed output.txt: the crafted one lists BIG images, so that it costs time and
    memory to parse (and would be rejected for coverage only after that)."""
    sizes = {m: s[0] for m, s in ch.sizes.items()}
    fp32 = {m: s[1] for m, s in ch.sizes.items()}
    return output_text(files, {m: [i % 10 for i in range(len(files))] for m in MODELS},
                       quantized_bytes=sizes, fp32_bytes=fp32)


def _run(ch, limits: Limits, workers: int):
    rules = dataclasses.replace(ch.rules, limits=limits)
    conn = db.connect(ch.root / "scores.sqlite")
    summary = runner.run(conn, rules, ch.root / "inbox", verify=False, workers=workers)
    return summary, db.submissions_frame(conn).set_index("team")


def _uploads(ch):
    files = image_names(BIG, 10)
    ch.upload("a-good", "one.zip", ch.members())
    ch.upload("b-crafted", "big.zip", ch.members(_output_for(ch, files)))
    extra = ch.members()
    extra["code/note.txt"] = b"another zip, the same figures\n"
    ch.upload("c-good", "two.zip", extra)


def test_memory_limit_rejects_the_crafted_upload_and_scores_the_rest(challenge):
    _uploads(challenge)
    summary, rows = _run(challenge, Limits(seconds=120, memory_mb=300), workers=2)
    assert (summary.scored, summary.invalid) == (2, 1), rows.error.to_dict()
    assert rows.loc["b-crafted"].status == "invalid"
    assert "more than the 300 MB of memory" in rows.loc["b-crafted"].error
    assert rows.loc[["a-good", "c-good"]].status.tolist() == ["scored", "scored"]


def test_time_limit_kills_the_worker_rejects_the_upload_and_scores_the_rest(challenge):
    _uploads(challenge)
    summary, rows = _run(challenge, Limits(seconds=1.2, memory_mb=4096), workers=1)
    assert (summary.scored, summary.invalid) == (2, 1), rows.error.to_dict()
    assert "took longer than the 1.2 s" in rows.loc["b-crafted"].error
    assert rows.loc[["a-good", "c-good"]].status.tolist() == ["scored", "scored"]


def test_stale_temporary_folders_of_dead_processes_are_removed(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead, alive = int(gone.stdout), os.getppid()
    for name in (f"{tempfiles.PREFIX}{dead}-abc", f"{tempfiles.PREFIX}{alive}-def", f"{tempfiles.PREFIX}old-style",
                 f"{tempfiles.PREFIX}{os.getpid()}-mine"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "output.txt").write_text("x")
    assert tempfiles.remove_stale(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{tempfiles.PREFIX}{alive}-def", f"{tempfiles.PREFIX}old-style", f"{tempfiles.PREFIX}{os.getpid()}-mine"])
