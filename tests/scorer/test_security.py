"""Hostile and broken uploads: each is rejected with a clear reason and harms nothing else.

One scenario for all cases (a good submission is scored and published first, then every bad
zip arrives in one run), then one test per case on the stored verdict, plus the global
checks: nothing written outside the scorer's temporary folder, no payload ran, the good
submission and the leaderboard unchanged.
"""
from __future__ import annotations

import gzip
import os
import pathlib
import pickle
import stat
import tempfile

import numpy as np
import pytest

from scorer import db, leaderboard, ranking, runner
from scorer_helpers import MODELS, zip_bytes

MARKER_NAME = "PAYLOAD_RAN"


class Payload:
    """Unpickling this creates a marker file: proof that something unpickled it."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _retouched_artifact(path: pathlib.Path, change: str) -> bytes:
    """The artifact with one tensor altered: a value outside its declared bits, or a wrong shape."""
    from safetensors import safe_open
    from safetensors.numpy import save

    with safe_open(str(path), framework="numpy") as handle:
        metadata = handle.metadata()
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    if change == "bits":
        name = next(k for k in tensors if k.endswith(".weight.int"))  # int8 weights, stored as bytes
        tensors[name] = tensors[name].copy()
        tensors[name].flat[0] = 0x80  # -128: off the symmetric 8-bit grid [-127, 127]
    else:
        name = max((k for k, t in tensors.items() if t.dtype == np.float32), key=lambda k: tensors[k].size)
        tensors[name] = np.ascontiguousarray(tensors[name].reshape(-1)[:-1])
    return save(tensors, metadata=metadata)


def _cases(ch, marker: pathlib.Path):
    """(team, members or raw bytes, extra make_zip kwargs, expected reason regex)."""
    good = ch.members()
    out = ch.output()
    lines = out.decode().split("\n")
    header2 = next(i for i, l in enumerate(lines) if l.startswith("#") and i > 0)
    pickled = pickle.dumps(Payload(marker))
    legacy = "".join("In (MB): 1.0\n" + "".join(f"{l}\n" for l in ch.labels) for _ in MODELS).encode()

    def with_output(text: str):
        return {**good, "output.txt": text.encode("utf-8", "surrogateescape")}

    def drop_line(i):
        return with_output("\n".join(lines[:i] + lines[i + 1:]))

    no_artifact = {k: v for k, v in good.items() if k != "models/shufflenet_v2_x1_0.safetensors"}
    swapped = {**good, "models/resnet18.safetensors": good["models/mobilenet_v2.safetensors"]}
    return [
        ("traversal", {**good, "../evil.txt": b"x"}, {}, "climbs out"),
        ("traversal-deep", {**good, "code/../../../evil.txt": b"x"}, {}, "climbs out"),
        ("absolute", {**good, "/tmp/evil.txt": b"x"}, {}, "absolute path"),
        ("symlink", {**good, "code/link": b"/etc/passwd"}, {"modes": {"code/link": stat.S_IFLNK | 0o777}}, "symbolic link"),
        ("symlink-model", {**good, "models/resnet18.safetensors": b"../../etc/passwd"},
         {"modes": {"models/resnet18.safetensors": stat.S_IFLNK | 0o777}}, "symbolic link"),
        ("fifo", {**good, "code/pipe": b""}, {"modes": {"code/pipe": stat.S_IFIFO | 0o644}}, "special file"),
        ("zip-bomb", {**good, "code/zeros.txt": b"\0" * (64 << 20)}, {}, "zip bombs"),
        ("member-bomb", {**good, **{f"code/f{i}.py": b"" for i in range(5001)}}, {}, "members, more than"),
        ("nested-zip-name", {**good, "code/inner.zip": zip_bytes({"a": b"b"})}, {}, "archive inside"),
        ("nested-zip-content", {**good, "code/readme.txt": zip_bytes({"a": b"b"})}, {}, "by its content"),
        ("nested-gzip-content", {**good, "code/data.txt": gzip.compress(b"x" * 100)}, {}, "by its content"),
        ("torch-save-as-model", {**good, "models/resnet18.safetensors": zip_bytes({"archive/data.pkl": pickled})},
         {}, "by its content"),
        ("pickle-pth", {**no_artifact, "models/shufflenet_v2_x1_0.pth": pickled}, {}, "only safetensors artifacts"),
        ("pickle-top", {**good, "model.pkl": pickled}, {}, "only safetensors artifacts"),
        ("pickle-as-safetensors", {**good, "models/resnet18.safetensors": pickled}, {}, "resnet18.safetensors"),
        ("wrong-arch", swapped, {}, "holds a 'mobilenet_v2' model"),
        ("wrong-shape", {**good, "models/resnet18.safetensors": _retouched_artifact(ch.artifacts["resnet18"], "shape")},
         {}, "resnet18.safetensors"),
        ("bits-overflow", {**good, "models/resnet18.safetensors": _retouched_artifact(ch.artifacts["resnet18"], "bits")},
         {}, "resnet18.safetensors"),
        ("missing-artifact", no_artifact, {}, "lacks models/shufflenet_v2_x1_0.safetensors"),
        ("bom", with_output("\ufeff" + out.decode()), {}, "byte-order mark"),
        ("crlf", with_output(out.decode().replace("\n", "\r\n")), {}, "carriage return"),
        ("non-utf8", {**good, "output.txt": out.replace(b"img_00003", b"img_\xff0003")}, {}, "not valid UTF-8"),
        ("duplicate-line", with_output("\n".join(lines[:3] + [lines[2]] + lines[3:])), {}, "appears twice|declares"),
        ("missing-image", drop_line(5), {}, "declares 20 images but has 19"),
        ("out-of-range", with_output(out.decode().replace("\t3\n", "\t10\n", 1)), {}, "outside \\[0, 10\\)"),
        ("negative-label", with_output(out.decode().replace("\t3\n", "\t-3\n", 1)), {}, "not a non-negative integer"),
        ("no-tab", with_output(out.decode().replace("\t4\n", " 4\n", 1)), {}, "expected '<path><TAB><class index>'"),
        ("blank-line", with_output(out.decode().replace("\n", "\n\n", 2)), {}, "blank line|declares"),
        ("missing-model", with_output("\n".join(lines[header2:])), {}, "no section for resnet18"),
        ("unknown-image", with_output(out.decode().replace("img_00004", "img_99999", 1)), {}, "not in the ground truth"),
        ("scheme-mismatch", {**good, "output.txt": ch.output(scheme="int4")}, {}, "scheme=int4"),
        ("no-output", {k: v for k, v in good.items() if k != "output.txt"}, {}, "no output.txt"),
        ("empty-zip", {}, {}, "holds no files"),
        ("not-a-zip", b"MZ\x90\x00 this is an executable, not a zip", {}, "not a readable zip"),
        ("legacy-no-order", {**good, "output.txt": legacy}, {}, "image_order"),
        ("unexpected-file", {**good, "run.exe": b"MZ"}, {}, "unexpected file 'run.exe'"),
    ]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, artifacts, artifact_sizes):
    from conftest import Challenge, NUM_CLASSES
    from scorer.config import Rules
    from scorer_helpers import ground_truth_csv, image_names

    root = tmp_path_factory.mktemp("security")
    files = image_names(20, NUM_CLASSES)
    labels = [i % NUM_CLASSES for i in range(20)]
    gt = ground_truth_csv(root / "gt.csv", files, labels)
    ch = Challenge(root, files, labels, Rules(models=MODELS, num_classes=NUM_CLASSES, ground_truth=str(gt)),
                   artifacts, artifact_sizes)
    marker = root / MARKER_NAME
    scratch = root / "scratch"  # the scorer's temporary folders go here, so we can watch them
    scratch.mkdir()
    conn = db.connect(root / "scores.sqlite")
    ch.upload("good", "good.zip", ch.members())
    # Worker processes are spawned: they take the temporary folder from TMPDIR.
    old_tempdir, old_env = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = os.environ["TMPDIR"] = str(scratch)
    try:
        # The good submission in this process (the isolation under test is that of the bad
        # zips' run below, in workers): a worker's start-up would add 6 s.
        runner.run(conn, ch.rules, root / "inbox", verify=False, workers=0)
        before_rows = db.submissions_frame(conn).drop(columns=["scored_at", "seconds"])
        before_board = ranking.standings(db.submissions_frame(conn), db.model_scores_frame(conn), ch.rules)
        cases = _cases(ch, marker)
        for team, members, kwargs, _ in cases:
            if isinstance(members, bytes):
                path = root / "inbox" / team / "upload.zip"
                path.parent.mkdir(parents=True)
                path.write_bytes(members)
            else:
                ch.upload(team, "upload.zip", members, **kwargs)
        listing_before = {p for p in root.rglob("*") if "inbox" not in p.parts}
        summary = runner.run(conn, ch.rules, root / "inbox", verify=False, workers=2)
        listing_after = {p for p in root.rglob("*") if "inbox" not in p.parts}
    finally:
        tempfile.tempdir = old_tempdir
        if old_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = old_env
    after_board = ranking.standings(db.submissions_frame(conn), db.model_scores_frame(conn), ch.rules)
    rows = db.submissions_frame(conn).set_index("team")
    return dict(root=root, marker=marker, scratch=scratch, cases=cases, rows=rows, summary=summary,
                before_rows=before_rows, before_board=before_board, after_board=after_board,
                new_files=listing_after - listing_before, conn=conn, ch=ch)


CASE_NAMES = ["traversal", "traversal-deep", "absolute", "symlink", "symlink-model", "fifo", "zip-bomb",
              "member-bomb", "nested-zip-name", "nested-zip-content", "nested-gzip-content", "torch-save-as-model",
              "pickle-pth", "pickle-top", "pickle-as-safetensors", "wrong-arch", "wrong-shape", "bits-overflow",
              "missing-artifact", "bom", "crlf", "non-utf8", "duplicate-line", "missing-image", "out-of-range",
              "negative-label", "no-tab", "blank-line", "missing-model", "unknown-image", "scheme-mismatch",
              "no-output", "empty-zip", "not-a-zip", "legacy-no-order", "unexpected-file"]


def test_case_list_is_complete(scenario):
    assert [c[0] for c in scenario["cases"]] == CASE_NAMES
    assert len(CASE_NAMES) >= 25


@pytest.mark.parametrize("team", CASE_NAMES)
def test_rejected_with_a_clear_reason(scenario, team):
    expected = next(c[3] for c in scenario["cases"] if c[0] == team)
    row = scenario["rows"].loc[team]
    assert row.status == "invalid", f"{team} was accepted"
    assert row.error and "\n" not in row.error
    assert __import__("re").search(expected, row.error), f"{team}: {row.error}"
    assert "Traceback" not in row.error


def test_no_payload_ran_and_nothing_written_outside(scenario):
    assert not scenario["marker"].exists()
    assert not list(pathlib.Path(scenario["root"]).rglob(MARKER_NAME))
    assert not list(pathlib.Path(scenario["root"]).rglob("evil.txt"))
    assert not os.path.exists("/tmp/evil.txt")
    assert list(scenario["scratch"].iterdir()) == []  # every extraction folder was removed
    unexpected = {p for p in scenario["new_files"] if not p.name.startswith("scores.sqlite")}
    assert unexpected == set()


def test_other_submissions_and_leaderboard_unchanged(scenario):
    rows = db.submissions_frame(scenario["conn"]).drop(columns=["scored_at", "seconds"])
    good = rows[rows.team == "good"].reset_index(drop=True)
    assert good.equals(scenario["before_rows"].reset_index(drop=True))
    assert scenario["after_board"].ranked.equals(scenario["before_board"].ranked)
    assert set(scenario["after_board"].rejected.team) == set(CASE_NAMES)
    assert scenario["summary"].invalid == len(CASE_NAMES) and scenario["summary"].scored == 0


def test_leaderboard_lists_the_rejections(scenario, tmp_path):
    leaderboard.write(scenario["after_board"], tmp_path)
    text = (tmp_path / "leaderboard.md").read_text()
    assert "good" in text and "climbs out" in text
