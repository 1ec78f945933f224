"""`python -m scorer bundle`: the challenge as a Codabench v2 competition bundle.

    competition.yaml         title, pages, phases, one task, the leaderboard (Codabench's YAML, version 2)
    logo.png, pages/*.md     the site's logo and pages, written from the rules (bundle_pages.py)
    scoring_program.zip      this kit's scorer/ and challenge/ packages + metadata.yaml (the command)
    reference_data.zip       challenge.toml (the rules), ground_truth.csv, images/ when bundled
    starting_kit/            how to upload, and the example submission as an upload (upload.zip),
                             which is also the task's solution (organizers can run it on the site)

Layout and keys as Codabench reads them (src/apps/competitions/unpackers/v2.py, and the compute
worker, compute_worker/compute_worker.py, which runs `metadata.yaml`'s command in the competition's
docker image with the program in /app/program, the reference data in /app/input/ref, the
submission in /app/input/res and the output in /app/output, `$input`/`$output` substituted).
Leaderboard: compression is the primary column and Codabench orders ties by the other columns in
index order, then by submission time: the kit's rule (compression, accuracy, earlier upload).
"""
from __future__ import annotations

import dataclasses
import io
import os
import shutil
import tempfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from challenge.errors import KitError

from . import bundle_pages, rules_toml
from .codabench_score import RULES_NAME
from .config import Rules
from .groundtruth import load_ground_truth
from .ranking import _decimals
from .verify import image_paths

# Public, on Docker Hub; Python 3.11. The scoring program installs what the kit needs beyond
# torch and torchvision (safetensors, pandas, ...) at the start of each run (scorer/codabench_entry.py).
DEFAULT_IMAGE = "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime"
COMMAND = "python3 -m scorer.codabench_entry --ref $input/ref --res $input/res --out $output"
KIT = Path(__file__).resolve().parents[1]
PROGRAM_PACKAGES = ("scorer", "challenge")
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclasses.dataclass(frozen=True)
class Phase:
    name: str
    start: datetime
    end: datetime | None = None


def parse_phase(text: str) -> Phase:
    """`NAME,START[,END]`, dates as YYYY-MM-DD or 'YYYY-MM-DD HH:MM:SS' (UTC)."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (2, 3) or not parts[0]:
        raise KitError(f"--phase {text!r}: expected NAME,START[,END], e.g. 'Development,2026-01-10,2026-03-01'")
    dates = []
    for value in parts[1:]:
        try:
            dates.append(datetime.fromisoformat(value))
        except ValueError:
            raise KitError(f"--phase {text!r}: {value!r} is not a date; use YYYY-MM-DD or 'YYYY-MM-DD HH:MM:SS'") from None
    return Phase(parts[0], dates[0], dates[1] if len(dates) > 1 else None)


def check_phases(phases: list[Phase]) -> None:
    """Codabench's own rules: in order, without overlap, only the last one may be open-ended."""
    for i, phase in enumerate(phases):
        if phase.end is not None and phase.end <= phase.start:
            raise KitError(f"phase {phase.name!r} ends before it starts")
        if i + 1 < len(phases):
            after = phases[i + 1]
            if phase.end is None:
                raise KitError(f"phase {phase.name!r} needs an end: phase {after.name!r} follows it")
            if after.start <= phase.end:
                raise KitError(f"phase {after.name!r} starts before phase {phase.name!r} has ended")


def _program_files() -> list[tuple[Path, str]]:
    files = []
    for package in PROGRAM_PACKAGES:
        for path in sorted((KIT / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.append((path, path.relative_to(KIT).as_posix()))
    return files


def _logo() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (160, 160), "#1d3557")
    draw = ImageDraw.Draw(image)
    for i, height in enumerate((110, 78, 52, 30)):  # bars shrinking: a model being compressed
        draw.rectangle([22 + i * 30, 135 - height, 42 + i * 30, 135], fill="#e63946" if i == 3 else "#a8dadc")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _reference_files(rules: Rules, images_mode: str) -> tuple[Rules, list[tuple[Path, str]]]:
    """The rules as the scoring program will read them (paths inside the reference data) and the files."""
    truth_path = Path(rules.ground_truth)
    files = [(truth_path, "ground_truth.csv")]
    bundled = dataclasses.replace(rules, ground_truth="ground_truth.csv", workers=0,
                                  verify=dataclasses.replace(rules.verify, cache_dir=""))
    if rules.legacy2021.image_order:
        files.append((Path(rules.legacy2021.image_order), "image_order.txt"))
        bundled = dataclasses.replace(bundled, legacy2021=dataclasses.replace(rules.legacy2021,
                                                                              image_order="image_order.txt"))
    if images_mode == "bundle":
        if not rules.images or not Path(rules.images).is_dir():
            raise KitError(f"--verify-images bundle: the config's images folder {rules.images!r} is not there; give "
                           "it (--images), or use --verify-images none, or a folder on the workers (/app/data/...)")
        truth = load_ground_truth(rules.ground_truth, rules.num_classes)
        root = Path(rules.images)
        for relative in image_paths(truth, root):
            if not (root / relative).is_file():
                raise KitError(f"image {relative} of the ground truth is not in {root}")
            files.append((root / relative, f"images/{relative}"))
        bundled = dataclasses.replace(bundled, images="images")
    elif images_mode == "none":
        bundled = dataclasses.replace(bundled, images="", verify=dataclasses.replace(bundled.verify, sample=0))
    else:  # a folder on the compute workers, e.g. their read-only data mount /app/data
        bundled = dataclasses.replace(bundled, images=images_mode)
    return bundled, files


def competition_yaml(rules: Rules, *, title: str, phases: list[Phase], docker_image: str, max_submissions: int,
                     max_per_day: int, page_names: list[str], with_example: bool) -> dict:
    precision = {"compression": _decimals(rules.compression_precision), "accuracy": _decimals(rules.accuracy_precision)}
    phase_entries = []
    for index, phase in enumerate(phases):
        entry = {"index": index, "name": phase.name, "description": f"{phase.name} phase of {title}",
                 "start": phase.start.strftime(DATE_FORMAT), "max_submissions": max_submissions,
                 "max_submissions_per_day": max_per_day, "execution_time_limit": int(rules.limits.seconds),
                 "starting_kit": "starting_kit", "tasks": [0]}
        if phase.end is not None:
            entry["end"] = phase.end.strftime(DATE_FORMAT)
        phase_entries.append(entry)
    data = {
        "version": 2, "title": title,
        "description": "Data-free post-training quantization: the smallest models first, the most accurate second.",
        "image": "logo.png", "terms": "pages/terms.md", "docker_image": docker_image,
        "registration_auto_approve": False, "enable_detailed_results": True,
        "show_detailed_results_in_submission_panel": True, "show_detailed_results_in_leaderboard": True,
        "make_programs_available": True, "make_input_data_available": False,
        "pages": [{"title": name.removesuffix(".md").capitalize(), "file": f"pages/{name}"} for name in page_names],
        "phases": phase_entries,
        "tasks": [{"index": 0, "name": "Scoring", "description": "The kit's scorer: safe zips, compression from the "
                   "artifacts, accuracy (verified), ranked as the rules say",
                   "scoring_program": "scoring_program.zip", "reference_data": "reference_data.zip"}],
        "leaderboards": [{"title": "Results", "key": "main", "submission_rule": "Force_Best", "columns": [
            {"title": "Compression (%)", "key": "compression", "index": 0, "sorting": "desc",
             "precision": precision["compression"]},
            {"title": "Top-1 accuracy (%)", "key": "accuracy", "index": 1, "sorting": "desc",
             "precision": precision["accuracy"]},
        ]}],
    }
    if with_example:
        data["solutions"] = [{"index": 0, "path": "starting_kit/upload.zip", "tasks": [0]}]
    return data


def _zip_of(files: list[tuple[Path | bytes, str]], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        for source, name in files:
            if isinstance(source, bytes):
                archive.writestr(name, source)
            else:
                archive.write(source, name)
    return out.getvalue()


def wrap(kit_zip: Path) -> bytes:
    """The upload Codabench's worker unzips into the kit's zip, unopened (stored: it is compressed)."""
    return _zip_of([(kit_zip, "submission.zip")], zipfile.ZIP_STORED)


def build(rules: Rules, out: str | Path, *, title: str, phases: list[Phase], images_mode: str = "bundle",
          example: str | Path | None = None, docker_image: str = DEFAULT_IMAGE, max_submissions: int = 100,
          max_per_day: int | None = None) -> Path:
    import yaml

    if not phases:
        today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
        phases = [Phase("Development", today)]
    check_phases(phases)
    if example is not None and not Path(example).is_file():
        raise KitError(f"--example {str(example)!r} not found; pass a zip that `python -m scorer pack` wrote")
    bundled, reference = _reference_files(rules, images_mode)
    max_per_day = max_per_day if max_per_day is not None else (rules.submissions_per_day or 5)
    pages = bundle_pages.pages(rules, title, images_mode, max_per_day=max_per_day, max_submissions=max_submissions)
    data = competition_yaml(rules, title=title, phases=phases, docker_image=docker_image,
                            max_submissions=max_submissions, max_per_day=max_per_day,
                            page_names=[n for n in pages if n != "terms.md"], with_example=example is not None)
    metadata = yaml.safe_dump({"command": COMMAND}, sort_keys=False).encode()
    program = _zip_of([*_program_files(), (metadata, "metadata.yaml")])
    reference_zip = _zip_of([*reference, (rules_toml.dumps(bundled).encode(), RULES_NAME)])
    members: list[tuple[Path | bytes, str]] = [
        (yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode(), "competition.yaml"),
        (_logo(), "logo.png"), (program, "scoring_program.zip"), (reference_zip, "reference_data.zip"),
        *[(text.encode(), f"pages/{name}") for name, text in pages.items()],
        (pages["submitting.md"].encode(), "starting_kit/README.md"),
    ]
    if example is not None:
        members.append((wrap(Path(example)), "starting_kit/upload.zip"))
    out = Path(out)
    with tempfile.NamedTemporaryFile(dir=out.parent if out.parent.is_dir() else None, delete=False,
                                     suffix=".part") as handle:
        handle.write(_zip_of(members))
    os.chmod(handle.name, 0o644)  # NamedTemporaryFile makes it private; the organizer uploads it
    shutil.move(handle.name, out)  # a reader never sees half a bundle
    return out
