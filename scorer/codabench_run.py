"""`python -m scorer codabench-run`: what a Codabench compute worker does with one submission, here.

Following compute_worker/compute_worker.py for a scoring-only task (no ingestion program):
  1. the prediction step unzips the upload; having no metadata file, it is copied as the
     step's output, next to the `metadata` file the worker writes there (exit code, time). An
     upload with a top-level `metadata` file is taken for a program: with a command the worker
     runs it (here: refused, participant code never runs), without one nothing is passed on;
  2. the scoring step unzips the scoring program into program/, the reference data into
     input/ref and that output into input/res, makes output/, and runs metadata.yaml's command
     from program/ with $input, $output, $program ... replaced by those folders;
  3. a non-zero exit is a failed run; otherwise output/scores.json holds the scores.
Unzipping is Python's ZipFile.extractall, as on the worker. The command runs in a fresh process
of this Python (`python3` in the command becomes sys.executable: the worker's docker image is
not here) with a minimal environment, so it imports the program's own copy of the kit.
Like the worker's, the unzipping has no limits of its own (a zip bomb fills the disk): what the
kit's scorer checks, it checks after. Run it on uploads you would give a worker.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from challenge.errors import KitError


@dataclass
class Run:
    returncode: int
    scores: dict | None
    stdout: str
    stderr: str
    root: Path  # the worker's folder, kept when asked to (program/, input/, output/)


def substitute(command: str, root: Path) -> str:
    """The worker's placeholders (replace_legacy_metadata_command, scoring step), in its order."""
    for name, folder in (("$input", "input"), ("$output", "output"), ("$program", "program"),
                         ("$ingestion_program", "program"), ("$hidden", "input/ref"), ("$shared", "shared"),
                         ("$submission_program", "ingested_program"), ("$tmp", "output"),
                         ("$predictions", "input/res")):
        command = command.replace(name, str(root / folder))
    return command


def _unzip(source: Path, destination: Path, what: str) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(source) as archive:
            archive.extractall(destination)
    except (zipfile.BadZipFile, OSError) as error:
        # The worker's own words: it retries, then fails the run before any program runs.
        raise KitError(f"Bad or empty zip file: the {what} {source.name} ({error})") from None


def _task(bundle_dir: Path) -> dict:
    import yaml

    path = bundle_dir / "competition.yaml"
    if not path.is_file():
        raise KitError("competition.yaml is missing from the bundle's top folder")
    competition = yaml.safe_load(path.read_text(encoding="utf-8"))
    tasks = {t["index"]: t for t in competition.get("tasks", [])}
    first_phase = sorted(competition.get("phases", []), key=lambda p: p.get("index", 0))[0]
    return tasks[first_phase["tasks"][0]]


def _place(bundle_dir: Path, relative: str, destination: Path, what: str) -> None:
    source = bundle_dir / relative
    if source.is_dir():  # Codabench zips a folder it finds in the bundle
        import shutil

        shutil.copytree(source, destination)
    elif source.is_file():
        _unzip(source, destination, what)
    else:
        raise KitError(f"the bundle names {relative} as the {what}, but does not hold it")


def _as_the_worker_passes_it_on(res: Path) -> None:
    """The worker's prediction step takes an upload with a top-level `metadata` (or `metadata.yaml`)
    file for a program: with a command, it runs it (participant code, which this never does: it
    stops here, as the scoring program would refuse that run's output); without one, it passes
    nothing on."""
    import shutil

    import yaml

    described = next((res / name for name in ("metadata.yaml", "metadata") if (res / name).is_file()), None)
    if described is None:
        return
    try:
        command = (yaml.safe_load(described.read_text(encoding="utf-8")) or {}).get("command")
    except (UnicodeDecodeError, yaml.YAMLError, AttributeError):
        command = None
    if command:
        raise KitError(f"the upload's top-level {described.name} file holds a command, which a Codabench worker runs "
                       "as a program (participant code; codabench-run does not) and whose output the scoring "
                       "program refuses: upload the zip `python -m scorer pack` writes")
    for entry in list(res.iterdir()):
        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()


def run(bundle: str | Path, submission: str | Path, *, keep: str | Path | None = None, timeout: float | None = None) -> Run:
    import yaml

    bundle, submission = Path(bundle), Path(submission)
    for name, path in (("--bundle", bundle), ("--submission", submission)):
        if not path.is_file():
            raise KitError(f"{name} {str(path)!r} not found")
    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="dfq-codabench-run-"))
    if keep and root.exists() and any(root.iterdir()):
        raise KitError(f"--keep {str(root)!r} is not empty; give a new folder")
    try:
        bundle_dir = root / "bundle"
        _unzip(bundle, bundle_dir, "competition bundle")
        task = _task(bundle_dir)
        _place(bundle_dir, task["scoring_program"], root / "program", "scoring program")
        if "reference_data" in task:
            _place(bundle_dir, task["reference_data"], root / "input" / "ref", "reference data")
        res = root / "input" / "res"
        _unzip(submission, res, "submission")  # prediction step: the upload, unzipped...
        _as_the_worker_passes_it_on(res)
        (res / "metadata").write_text(yaml.safe_dump({"exitCode": None, "elapsedTime": None}))  # ...+ the worker's file
        (root / "output").mkdir()
        (root / "shared").mkdir()
        metadata = yaml.safe_load((root / "program" / "metadata.yaml").read_text(encoding="utf-8"))
        argv = shlex.split(substitute(metadata["command"], root))
        if argv and argv[0] in ("python", "python3"):
            argv[0] = sys.executable
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root / "shared"), "PYTHONUNBUFFERED": "1",
               "LANG": "C.UTF-8", "TMPDIR": tempfile.gettempdir()}
        done = subprocess.run(argv, cwd=root / "program", env=env, capture_output=True, text=True, timeout=timeout)
        scores_path = root / "output" / "scores.json"
        scores = json.loads(scores_path.read_text()) if done.returncode == 0 and scores_path.is_file() else None
        return Run(done.returncode, scores, done.stdout, done.stderr, root)
    finally:
        if not keep:
            import shutil

            shutil.rmtree(root, ignore_errors=True)
