"""run / rescore / pack / check in-process on the tiny synthetic challenge."""
from __future__ import annotations

import dataclasses
import json

import pytest

from challenge.errors import KitError
from scorer import db, runner
from scorer.cli import entry
from scorer.config import Legacy2021
from scorer.pack import collect_artifacts, pack
from scorer_helpers import MODELS


def _run(ch, **kwargs):
    conn = db.connect(ch.root / "scores.sqlite")
    return conn, runner.run(conn, ch.rules, ch.root / "inbox", verify=False, **kwargs)


def test_scores_and_figures(challenge):
    labels = {m: [l if i % 4 else (l + 1) % 10 for i, l in enumerate(challenge.labels)] for m in MODELS}
    challenge.upload("a", "one.zip", challenge.members(challenge.output(labels)))
    conn, summary = _run(challenge)
    assert (summary.new_uploads, summary.scored, summary.invalid) == (1, 1, 0)
    scores = db.model_scores_frame(conn)
    assert list(scores.accuracy) == [75.0] * 3
    for model, (quantized, fp32) in challenge.sizes.items():
        row = scores[scores.model == model].iloc[0]
        assert row.quantized_bytes == quantized and row.fp32_bytes == fp32
        assert row.compression == pytest.approx(100.0 * (fp32 - quantized) / fp32)


def test_same_zip_twice_is_scored_once_and_rerun_does_nothing(challenge):
    path = challenge.upload("a", "one.zip", challenge.members())
    (challenge.root / "inbox" / "b").mkdir()
    (challenge.root / "inbox" / "b" / "copy.zip").write_bytes(path.read_bytes())
    conn, summary = _run(challenge)
    assert (summary.new_uploads, summary.scored) == (1, 1)
    _, again = _run(challenge)
    assert (again.new_uploads, again.scored, again.invalid) == (0, 0, 0)
    assert len(db.submissions_frame(conn)) == 1


def test_rescore_recomputes_under_new_rules(challenge):
    challenge.upload("a", "one.zip", challenge.members())
    conn, _ = _run(challenge)
    assert db.submissions_frame(conn).status.tolist() == ["scored"]
    challenge.rules = dataclasses.replace(challenge.rules, models=MODELS[:2])  # organizers drop a model
    summary = runner.rescore(conn, challenge.rules, challenge.root / "inbox", verify=False)
    frame = db.submissions_frame(conn)
    assert summary.invalid == 1 and frame.results_written.tolist() == [1]
    assert "not a model artifact of this challenge" in frame.error[0]


def test_header_size_disagreement_is_noted_not_trusted(challenge):
    lie = {m: 1 for m in MODELS}
    challenge.upload("a", "one.zip", challenge.members(challenge.output(quantized_bytes=lie)))
    conn, summary = _run(challenge)
    assert summary.scored == 1
    notes = json.loads(db.submissions_frame(conn).notes[0])
    assert any("header says quantized_bytes=1" in n for n in notes)
    stored = db.model_scores_frame(conn)  # ordered by model name
    assert stored.quantized_bytes.tolist() == [challenge.sizes[m][0] for m in sorted(MODELS)]


def test_legacy_2021_scored_with_image_order(challenge):
    order = challenge.root / "order.txt"
    order.write_text("\n".join(challenge.files) + "\n")
    challenge.rules = dataclasses.replace(challenge.rules, legacy2021=Legacy2021(image_order=str(order)))
    legacy = "".join("In (MB): 2.5\n" + "".join(f"{l}\n" for l in challenge.labels) for _ in MODELS).encode()
    challenge.upload("old", "2021.zip", challenge.members(legacy))
    conn, summary = _run(challenge)
    assert summary.scored == 1, db.submissions_frame(conn).error[0]
    assert db.model_scores_frame(conn).accuracy.tolist() == [100.0] * 3


def test_claim_gives_up_after_repeated_crashes(tmp_path):
    conn = db.connect(tmp_path / "s.sqlite")
    db.register_upload(conn, path="t/x.zip", team="t", sha256="abc", size=1, mtime_ns=1, submitted_at=1.0)
    for _ in range(db.MAX_ATTEMPTS):
        assert db.claim(conn, 1)
        db.recover(conn)
    assert not db.claim(conn, 1)
    row = db.submissions_frame(conn).iloc[0]
    assert row.status == "invalid" and "stopped the scorer" in row.error


def test_pack_builds_a_checked_zip_and_refuses_pickles(challenge, tmp_path, capsys):
    (tmp_path / "out.txt").write_bytes(challenge.output())
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "quantize.py").write_text("print('hi')\n")
    result = pack(tmp_path / "out.txt", list(challenge.artifacts.values()), tmp_path / "code",
                  tmp_path / "team.zip", challenge.rules)
    assert result.status == "scored", result.error
    assert [m.model for m in result.models] == list(MODELS)
    (tmp_path / "model.pth").write_bytes(b"\x80\x04.")
    with pytest.raises(KitError, match="only safetensors artifacts"):
        collect_artifacts([tmp_path / "model.pth"])
    assert entry(["check", str(tmp_path / "team.zip"), "--ground-truth", challenge.rules.ground_truth,
                  "--config", str(_config(challenge))]) == 0
    bad = challenge.upload("x", "bad.zip", {"output.txt": b"nothing\n"})
    assert entry(["check", str(bad), "--config", str(_config(challenge))]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def _config(ch):
    path = ch.root / "c.toml"
    path.write_text("[challenge]\nnum_classes = 10\n", encoding="utf-8")
    return path
