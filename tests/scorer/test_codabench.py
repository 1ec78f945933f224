"""The Codabench bundle: its competition.yaml against Codabench's documented fields, and a local
compute-worker run that scores as `python -m scorer run` does, figures and reasons alike.

The example challenge here is small: the three int8 artifacts of conftest and 20 generated JPEGs,
bundled; verification is off ([verify] sample = 0) to keep the test short: re-evaluating the
artifacts takes about a minute on two cores. The real example (submissions/make_example.sh) is
verified in full; see the README's "Hosting on Codabench".
"""
from __future__ import annotations

import io
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from challenge.errors import one_line
from conftest import NUM_CLASSES, Challenge
from scorer import bundle
from scorer.cli import main as scorer_main
from scorer.codabench_run import run as codabench_run
from scorer_helpers import MODELS, ground_truth_csv, image_names, make_zip

yaml = pytest.importorskip("yaml", reason="PyYAML is in requirements.txt; install it")

# Codabench's documented competition.yaml (docs: Organizers/Benchmark_Creation/Yaml-Structure.md,
# read against src/apps/competitions/unpackers/v2.py): key -> type, required keys marked.
TOP = {"version": int, "title": str, "image": str, "terms": str, "description": str, "docker_image": str,
       "registration_auto_approve": bool, "enable_detailed_results": bool, "make_programs_available": bool,
       "make_input_data_available": bool, "show_detailed_results_in_submission_panel": bool,
       "show_detailed_results_in_leaderboard": bool, "pages": list, "phases": list, "tasks": list,
       "solutions": list, "leaderboards": list, "queue": str, "contact_email": str, "reward": str,
       "auto_run_submissions": bool, "can_participants_make_submissions_public": bool, "forum_enabled": bool,
       "fact_sheet": dict}
TOP_REQUIRED = {"version", "title", "image", "terms", "pages", "phases", "tasks", "leaderboards"}
PHASE = {"index": int, "name": str, "description": str, "start": str, "end": str, "tasks": list,
         "max_submissions": int, "max_submissions_per_day": int, "auto_migrate_to_this_phase": bool,
         "execution_time_limit": int, "hide_output": bool, "hide_prediction_output": bool, "hide_score_output": bool,
         "starting_kit": str, "public_data": str, "accepts_only_result_submissions": bool}
TASK = {"index": int, "name": str, "description": str, "scoring_program": str, "reference_data": str,
        "input_data": str, "ingestion_program": str, "ingestion_only_during_scoring": bool}
LEADERBOARD = {"title": str, "key": str, "columns": list, "submission_rule": str, "hidden": bool}
COLUMN = {"title": str, "key": str, "index": int, "sorting": str, "computation": str, "computation_indexes": list,
          "precision": int, "hidden": bool}
SUBMISSION_RULES = {"Add", "Add_And_Delete", "Add_And_Delete_Multiple", "Force_Last", "Force_Latest_Multiple",
                    "Force_Best"}


def _check_fields(entry: dict, schema: dict, required: set, where: str) -> None:
    assert required <= set(entry), f"{where}: lacks {required - set(entry)}"
    for key, value in entry.items():
        assert key in schema, f"{where}: {key!r} is not a documented field"
        assert isinstance(value, schema[key]), f"{where}: {key} = {value!r} is not {schema[key].__name__}"


def _generated_images(root: Path, files: list[str]) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(root / name, "JPEG")
    return root


@pytest.fixture(scope="module")
def example(tmp_path_factory, artifacts, artifact_sizes):
    """The example challenge, its bundle, the example submission, and `scorer run`'s leaderboard."""
    from scorer.config import Rules

    root = tmp_path_factory.mktemp("codabench")
    files = image_names(20, NUM_CLASSES)
    labels = [i % NUM_CLASSES for i in range(20)]
    gt = ground_truth_csv(root / "gt.csv", files, labels)
    images = _generated_images(root / "images", files)
    config = root / "challenge.toml"
    config.write_text(f'[challenge]\nmodels = {list(MODELS)!r}\nnum_classes = {NUM_CLASSES}\nground_truth = "gt.csv"\n'
                      'images = "images"\n[verify]\nsample = 0\n'.replace("'", '"'), encoding="utf-8")
    assert images.is_dir()
    # Some predictions wrong, a different number per model: an accuracy that is not a default.
    predictions = {m: [(l + 1) % NUM_CLASSES if i < 3 + 4 * k else l for i, l in enumerate(labels)]
                   for k, m in enumerate(MODELS)}
    ch = Challenge(root, files, labels, Rules(models=MODELS, num_classes=NUM_CLASSES, ground_truth=str(gt)),
                   artifacts, artifact_sizes)
    team_zip = make_zip(root / "inbox" / "example-team" / "team.zip", ch.members(ch.output(predictions)))
    assert scorer_main(["run", "--config", str(config), "--inbox", str(root / "inbox"), "--db",
                        str(root / "scores.sqlite"), "--workers", "0", "--out", str(root / "board")]) == 0
    board = pd.read_csv(root / "board" / "leaderboard.csv")
    competition = root / "competition.zip"
    assert scorer_main(["bundle", "--config", str(config), "--out", str(competition), "--example", str(team_zip),
                        "--phase", "Development,2026-01-10,2026-03-01", "--phase", "Final,2026-03-02 00:00:00"]) == 0
    return dict(root=root, ch=ch, team_zip=team_zip, board=board, competition=competition)


def test_competition_yaml_follows_codabench_fields(example):
    with zipfile.ZipFile(example["competition"]) as archive:
        names = set(archive.namelist())
        data = yaml.safe_load(archive.read("competition.yaml"))
        program = zipfile.ZipFile(archive.open("scoring_program.zip"))
        reference = zipfile.ZipFile(archive.open("reference_data.zip"))
    _check_fields(data, TOP, TOP_REQUIRED, "competition")
    assert data["version"] == 2 and data["docker_image"].startswith("pytorch/pytorch:")
    assert {data["image"], data["terms"]} <= names and data["enable_detailed_results"] is True
    for page in data["pages"]:
        _check_fields(page, {"title": str, "file": str}, {"title", "file"}, "page")
        assert page["file"] in names
    tasks = {t["index"] for t in data["tasks"]}
    for task in data["tasks"]:
        _check_fields(task, TASK, {"index", "name", "scoring_program"}, "task")
        assert {task["scoring_program"], task["reference_data"]} <= names
    for index, phase in enumerate(data["phases"]):
        _check_fields(phase, PHASE, {"name", "start", "tasks"}, "phase")
        assert set(phase["tasks"]) <= tasks and phase["starting_kit"] + "/README.md" in names
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", phase["start"])
    assert [p["start"] for p in data["phases"]] == ["2026-01-10 00:00:00", "2026-03-02 00:00:00"]
    assert data["phases"][0]["end"] == "2026-03-01 00:00:00" and "end" not in data["phases"][1]
    assert data["phases"][0]["max_submissions_per_day"] == 5 and data["phases"][0]["execution_time_limit"] == 14400
    # The evaluation page states the limits Codabench applies, per participant account, not a per-team count
    # the kit's Codabench run cannot keep (it scores each submission alone).
    evaluation = next(p["file"] for p in data["pages"] if p["file"].endswith("evaluation.md"))
    with zipfile.ZipFile(example["competition"]) as archive:
        text = " ".join(archive.read(evaluation).decode().split())
    assert "per participant account: at most 5 a day and 100 in a phase" in text and "per team" not in text
    for solution in data["solutions"]:
        assert solution["path"] in names and set(solution["tasks"]) <= tasks
    (board,) = data["leaderboards"]
    _check_fields(board, LEADERBOARD, {"title", "key", "columns"}, "leaderboard")
    assert board["submission_rule"] in SUBMISSION_RULES
    for column in board["columns"]:
        _check_fields(column, COLUMN, {"title", "key", "index"}, "column")
    # Codabench ranks by the primary column (index 0), then the others by index: compression, accuracy.
    assert [(c["key"], c["index"], c["sorting"]) for c in board["columns"]] == [
        ("compression", 0, "desc"), ("accuracy", 1, "desc")]
    metadata = yaml.safe_load(program.read("metadata.yaml"))
    assert "$input/res" in metadata["command"] and "$input/ref" in metadata["command"] and "$output" in metadata["command"]
    assert {"scorer/score.py", "scorer/zipsafe.py", "challenge/quant/exact.py"} <= set(program.namelist())
    assert {"challenge.toml", "ground_truth.csv", "images/n00000003/img_00003.JPEG"} <= set(reference.namelist())


def test_codabench_run_gives_the_figures_of_scorer_run(example, tmp_path):
    row = example["board"].iloc[0]
    upload = tmp_path / "upload.zip"
    upload.write_bytes(bundle.wrap(example["team_zip"]))
    submissions = (example["team_zip"], upload)  # as pack wrote it, and inside a zip
    # The two runs side by side (threads waiting on their scoring processes, which mostly import torch).
    with ThreadPoolExecutor(len(submissions)) as pool:
        runs = list(pool.map(lambda s: codabench_run(example["competition"], s, keep=tmp_path / s.stem), submissions))
    for submitted, done in zip(submissions, runs):
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.scores["compression"] == row["compression"] and done.scores["accuracy"] == row["accuracy"]
        for model in MODELS:
            assert done.scores[f"{model}_accuracy"] == pytest.approx(row[f"{model} accuracy"])
        page = (tmp_path / submitted.stem / "output" / "detailed_results.html").read_text()
        assert 'class="entry' in page and f"{row['compression']:g}" in page
    assert 0 < row["accuracy"] < 100 and 70 < row["compression"] < 80  # a real figure, not a default


def _kit_zip(folder: Path, case) -> Path:
    """The case's zip; its members stored, not deflated (20 s less), except the zip bomb's, whose
    compression is the attack. No other case depends on how its members are compressed."""
    name, members, kwargs, _ = case
    kit_zip = folder / name / "team.zip"
    if isinstance(members, bytes):
        kit_zip.parent.mkdir(parents=True)
        kit_zip.write_bytes(members)
    else:
        compression = zipfile.ZIP_DEFLATED if name == "zip-bomb" else zipfile.ZIP_STORED
        make_zip(kit_zip, members, **{"compression": compression, **kwargs})
    return kit_zip


# What compute_worker.py writes beside an upload it copied (no program ran: no exit code, no time).
WORKER_METADATA_OF_A_COPY = ("exitCode: null\nelapsedTime: null\ningestionExitCode: null\n"
                             "ingestionElapsedTime: null\n")


def _reference(example, folder: Path) -> Path:
    with zipfile.ZipFile(example["competition"]) as archive:
        zipfile.ZipFile(archive.open("reference_data.zip")).extractall(folder)
    return folder


def test_an_upload_that_ran_as_a_program_or_arrived_empty_is_a_failed_run(example, tmp_path):
    """A worker runs the command of an upload's own top-level metadata file and passes on what it
    wrote (its metadata then has an exit code): refused, even when that output is a valid
    submission. An upload with such a file and no command arrives empty: said so."""
    from challenge.errors import KitError
    from scorer import codabench_score

    ref = _reference(example, tmp_path / "ref")
    ran, empty = tmp_path / "ran" / "res", tmp_path / "empty" / "res"
    ran.mkdir(parents=True)
    (ran / "upload.zip").write_bytes(example["team_zip"].read_bytes())  # what the program wrote: a good entry
    (ran / "metadata").write_text(WORKER_METADATA_OF_A_COPY.replace("exitCode: null", "exitCode: 0", 1))
    empty.mkdir(parents=True)
    (empty / "metadata").write_text(WORKER_METADATA_OF_A_COPY)
    for res, expected in ((ran, r"Codabench ran this upload as a program .*exit code 0"),
                          (empty, "reached the scoring program empty")):
        out = res.parent / "output"
        with pytest.raises(KitError, match=expected):
            codabench_score.main(str(ref), str(res), str(out))
        assert not (out / "scores.json").exists() and "Not ranked" in (out / "detailed_results.html").read_text()


def test_the_rules_memory_limit_holds_in_the_scoring_program(example, tmp_path):
    """An upload crafted to need more memory than [limits] memory_mb allows (test_limits' huge
    output.txt) is a failed run with the kit's reason, not a worker killed without one."""
    from challenge.errors import KitError
    from scorer import codabench_score
    from test_limits import BIG, _output_for

    ref, res = _reference(example, tmp_path / "ref"), tmp_path / "res"
    rules = ref / "challenge.toml"
    text = re.sub(r"(?m)^memory_mb = \d+", "memory_mb = 300", rules.read_text())
    assert "memory_mb = 300" in text
    rules.write_text(text)
    res.mkdir()
    ch = example["ch"]
    make_zip(res / "upload.zip", ch.members(_output_for(ch, image_names(BIG, 10))))
    (res / "metadata").write_text(WORKER_METADATA_OF_A_COPY)
    with pytest.raises(KitError, match="more than the 300 MB of memory"):
        codabench_score.main(str(ref), str(res), str(tmp_path / "out"))


def test_codabench_run_never_runs_an_upload_s_command(example, tmp_path):
    """The worker would run it; codabench-run stops with the reason instead (the command, which
    would leave a file, never runs). Without a command the worker passes nothing on: empty."""
    from challenge.errors import KitError

    trace = tmp_path / "PAYLOAD_RAN"
    with zipfile.ZipFile(example["team_zip"]) as kit:
        members = {name: kit.read(name) for name in kit.namelist()}
    with_command = make_zip(tmp_path / "with-command.zip", {
        **members, "metadata": f"command: python3 -c \"open('{trace}', 'w')\"\n".encode()})
    with pytest.raises(KitError, match="metadata file holds a command, which a Codabench worker runs"):
        codabench_run(example["competition"], with_command)
    assert not trace.exists()
    without = make_zip(tmp_path / "without-command.zip", {**members, "metadata.yaml": b"description: mine\n"})
    done = codabench_run(example["competition"], without)
    assert done.returncode == 2 and "reached the scoring program empty" in done.stderr.strip().splitlines()[-1]


def test_every_malformed_zip_fails_with_the_kits_reason(example, tmp_path):
    """Each hostile or broken zip of test_security, uploaded inside a zip, through the scoring
    program in the worker's layout (in this process: 36 fresh interpreters would take minutes)."""
    from challenge.errors import KitError
    from scorer import codabench_score
    from test_security import _cases

    ref = tmp_path / "input" / "ref"
    with zipfile.ZipFile(example["competition"]) as archive:
        zipfile.ZipFile(archive.open("reference_data.zip")).extractall(ref)
    cases = _cases(example["ch"], tmp_path / "PAYLOAD_RAN")
    assert len(cases) >= 30
    for case in cases:
        name, expected = case[0], case[3]
        res, out = tmp_path / name / "res", tmp_path / name / "output"
        with zipfile.ZipFile(io.BytesIO(bundle.wrap(_kit_zip(tmp_path, case)))) as upload:
            upload.extractall(res)  # what the worker does with the upload
        (res / "metadata").write_text(WORKER_METADATA_OF_A_COPY)
        with pytest.raises(KitError) as failed:
            codabench_score.main(str(ref), str(res), str(out))
        assert re.search(expected, one_line(failed.value)), f"{name}: {failed.value}"
        assert not (out / "scores.json").exists()
        assert "Not ranked" in (out / "detailed_results.html").read_text()
    assert not (tmp_path / "PAYLOAD_RAN").exists()


@pytest.mark.parametrize("case_name", ["crlf", "wrong-arch"])  # the zip itself: the command-line test below
def test_malformed_zips_fail_in_a_worker_run(example, tmp_path, case_name):
    """One case of each kind end to end: a failed run (exit code 2) whose last line is the kit's reason."""
    from test_security import _cases

    case = next(c for c in _cases(example["ch"], tmp_path / "PAYLOAD_RAN") if c[0] == case_name)
    upload = tmp_path / "upload.zip"
    upload.write_bytes(bundle.wrap(_kit_zip(tmp_path, case)))
    done = codabench_run(example["competition"], upload)
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 2 and done.scores is None, done.stderr[-500:]
    assert last.startswith("error: ") and re.search(case[3], last), last


def test_codabench_run_command_line(example, capsys, tmp_path):
    """`python -m scorer codabench-run` with a zip that climbs out: the kit's line, exit code 2."""
    bad = make_zip(tmp_path / "bad.zip", {"output.txt": b"x\n", "../evil.txt": b"x"})
    upload = tmp_path / "upload.zip"
    upload.write_bytes(bundle.wrap(bad))
    from challenge.errors import run_cli

    assert run_cli(scorer_main, ["codabench-run", "--bundle", str(example["competition"]),
                                 "--submission", str(upload)]) == 2
    assert re.search(r"^error: member '\.\./evil\.txt' climbs out", capsys.readouterr().err, re.M)


def test_an_entry_the_rules_do_not_rank_is_a_failed_run(example, tmp_path):
    """Scored but at or below the minimum compression: the kit lists it as not ranked, with the reason."""
    from challenge.errors import KitError
    from scorer import codabench_score

    ref, res = tmp_path / "ref", tmp_path / "res"
    with zipfile.ZipFile(example["competition"]) as archive:
        zipfile.ZipFile(archive.open("reference_data.zip")).extractall(ref)
    rules = ref / "challenge.toml"
    rules.write_text(rules.read_text().replace("min_compression = 25.0", "min_compression = 99.0"))
    res.mkdir()
    (res / "upload.zip").write_bytes(example["team_zip"].read_bytes())
    with pytest.raises(KitError, match=r"compression 7\d\.\d% is at or below the minimum 99.0%"):
        codabench_score.main(str(ref), str(res), str(tmp_path / "out"))


@pytest.mark.parametrize("phases, message", [
    (["Dev"], "expected NAME,START"),
    (["Dev,2026-13-01"], "is not a date"),
    (["Dev,2026-02-01,2026-01-01"], "ends before it starts"),
    (["Dev,2026-01-01", "Final,2026-02-01"], "needs an end"),
    (["Dev,2026-01-01,2026-03-01", "Final,2026-02-01"], "starts before"),
])
def test_phases_codabench_would_refuse_are_refused_here(phases, message):
    from challenge.errors import KitError

    with pytest.raises(KitError, match=message):
        bundle.check_phases([bundle.parse_phase(p) for p in phases])
