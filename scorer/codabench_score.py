"""The scoring program Codabench runs: `python -m scorer codabench-score --ref DIR --res DIR --out DIR`.

A compute worker gives it the reference data in `input/ref` (the rules as challenge.toml, the
ground truth, the verification images when the organizer bundled them) and the submission in
`input/res`; it writes `output/scores.json` (the leaderboard's columns) and
`output/detailed_results.html` (the leaderboard page of this one submission).

What arrives in `input/res`: the worker has already unzipped the upload (with Python's
zipfile) and added a `metadata` file of its own. Two forms are accepted:
  - one zip and nothing else: the kit's zip, uploaded inside a zip. It is scored exactly as
    `python -m scorer run` scores it, every check of the zip itself included.
  - the submission's files: the kit's zip uploaded as it is. They are zipped again and scored
    the same way; the checks of member names, links and special files were then Codabench's
    extraction's, which drops or flattens them, so such a zip may pass where `check` refuses it.
A submission the kit would not rank ends as a failed run: the kit's one-line reason on stderr
(`error: ...`), exit code 2, and the page saying why; no scores.json. Scoring runs within the
rules' memory limit, as in a `scorer run` worker; the worker itself enforces the time limit
(competition.yaml's execution_time_limit is the rules' seconds).

An upload is files, never a program. But a Codabench worker runs, in its prediction step, the
command of an upload's own top-level `metadata` (or `metadata.yaml`) file, and passes on what that
command wrote instead of the upload: then the worker's `metadata` records the program's exit code
(it is null when the upload was only copied). Such a run is refused here: what it produced was
not uploaded, and no participant code is part of a result. (The worker has run that code by then,
in the competition's docker image, without the reference data; the kit cannot stop that, only
rank nothing from it.)
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pandas as pd

from challenge.errors import KitError, one_line

from . import limits, page, ranking
from .config import Rules, load_rules
from .result import SCORED, Result
from .score import make_context, score_zip

RULES_NAME = "challenge.toml"
WORKER_FILES = {"metadata"}  # what the compute worker itself writes next to the submission's files
TEAM = "this submission"  # the worker is not told who submitted


def submission_zip(res: Path, scratch: Path) -> tuple[Path, list[str]]:
    """The zip to score, and a note when it had to be rebuilt from the unpacked files; a KitError
    when `res` is not an upload (a program's output, or nothing)."""
    ran = program_that_ran(res)
    if ran:
        raise KitError(ran)
    entries = [p for p in sorted(res.iterdir()) if p.name not in WORKER_FILES]
    if not entries:
        raise KitError("the upload reached the scoring program empty: an empty zip, or one with a top-level "
                       "metadata file (Codabench takes such an upload for a program and passes none of its files "
                       "on); upload the zip `python -m scorer pack` writes")
    if len(entries) == 1 and entries[0].is_file() and entries[0].name.lower().endswith(".zip"):
        return entries[0], []
    rebuilt = scratch / "submission.zip"
    with zipfile.ZipFile(rebuilt, "w", compression=zipfile.ZIP_STORED) as archive:
        for dirpath, dirnames, names in os.walk(res):
            dirnames.sort()
            for name in sorted(names):
                path = Path(dirpath, name)
                relative = path.relative_to(res).as_posix()
                if relative in WORKER_FILES or path.is_symlink():
                    continue
                archive.write(path, relative)
    return rebuilt, ["the upload was unzipped by Codabench before scoring; upload the kit's zip inside a zip to "
                     "have its names and links checked as `python -m scorer check` does"]


def frames(result: Result, submitted_at: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One result as the database's two frames, so the kit's own ranking rules judge it."""
    submissions = pd.DataFrame([{"id": 1, "team": TEAM, "path": "upload.zip", "submitted_at": submitted_at,
                                 "status": result.status, "error": result.error}])
    scores = pd.DataFrame([{"submission_id": 1, "model": m.model, "accuracy": m.accuracy,
                            "accuracy_public": m.accuracy_public, "accuracy_private": m.accuracy_private,
                            "compression": m.compression} for m in result.models],
                          columns=["submission_id", "model", "accuracy", "accuracy_public", "accuracy_private",
                                   "compression"])
    return submissions, scores


def scores_of(standings: ranking.Standings, rules: Rules) -> dict[str, float]:
    """The leaderboard's columns (the figures that rank, at their precision), then per-model figures."""
    row = standings.ranked.iloc[0]
    scores = {"compression": float(row["compression"]), "accuracy": float(row["accuracy"])}
    for model in rules.models:
        scores[f"{model}_compression"] = float(row[f"{model} compression"])
        scores[f"{model}_accuracy"] = float(row[f"{model} accuracy"])
    return scores


def _write(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)  # the worker uploads what it finds: never half a file


def program_that_ran(res: Path) -> str | None:
    """Why `res` is a program's output rather than the upload (see the module's docstring), else None.
    Read from the worker's own `metadata` file; one that is absent or unreadable proves nothing."""
    import yaml

    try:
        written = yaml.safe_load((res / "metadata").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    code = written.get("exitCode") if isinstance(written, dict) else None
    if code is None:
        return None
    return (f"Codabench ran this upload as a program (its top-level metadata file holds a command; exit code "
            f"{code}) and passed on what that program wrote: this challenge ranks uploaded files only. Upload the "
            "zip `python -m scorer pack` writes, which has no top-level metadata file")


def score(ref: Path, res: Path, out: Path) -> tuple[ranking.Standings, dict | None]:
    rules = load_rules(ref / RULES_NAME)
    ctx = make_context(rules, verify=True)  # a broken reference bundle stops here, with its message
    with tempfile.TemporaryDirectory(prefix="dfq-codabench-") as scratch:
        try:
            zip_path, notes = submission_zip(res, Path(scratch))
        except KitError as error:  # a failed run with the page saying why, as score_zip's own refusals
            result, notes = Result.invalid(one_line(error)), []
        else:  # within the rules' memory limit, as a `scorer run` worker (the worker times the run itself)
            limits.apply(rules.limits, cpu=False)
            try:
                result = score_zip(zip_path, ctx)
            finally:
                limits.lift()
    result.notes = notes + result.notes
    standings = ranking.standings(*frames(result, time.time()), rules)  # the worker is not told the upload time
    out.mkdir(parents=True, exist_ok=True)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    notes_text = " ".join(f"Note: {n}." for n in result.notes)
    _write(out / "detailed_results.html", page.render(standings, "Your submission", intro=notes_text))
    if result.status != SCORED or standings.ranked.empty:
        return standings, None
    scores = scores_of(standings, rules)
    _write(out / "scores.json", json.dumps(scores, indent=1) + "\n")
    return standings, scores


def main(ref: str, res: str, out: str) -> int:
    ref_dir, res_dir = Path(ref), Path(res)
    for name, folder in (("--ref", ref_dir), ("--res", res_dir)):
        if not folder.is_dir():
            raise KitError(f"{name} {str(folder)!r} is not a folder; Codabench passes $input/ref and $input/res")
    standings, scores = score(ref_dir, res_dir, Path(out))
    if scores is None:
        raise KitError(standings.rejected.iloc[0]["reason"])
    print(json.dumps(scores))
    return 0
