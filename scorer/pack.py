"""For participants: build the submission zip, then check it exactly as the scorer will.

    python -m scorer pack --output output.txt --models saved/ --code my_code/ --out team.zip

Artifacts are named by the architecture recorded inside them, so `--save-model` paths can be
anything. The check runs the scorer's own extraction, layout, format and artifact checks
(and the coverage check too, given the ground truth), so a zip that passes here is one the
scorer accepts, barring accuracy.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

from challenge.errors import KitError

from . import layout, tempfiles
from .config import Rules
from .measure import artifact_facts
from .result import Result
from .score import make_context, score_zip
from .zipsafe import ARCHIVE_SUFFIXES

SKIPPED_DIRS = {"__pycache__", ".git", ".venv", "venv", ".ipynb_checkpoints", ".pytest_cache"}


def collect_artifacts(paths: list[str | Path]) -> dict[str, Path]:
    """model -> artifact file, from files and folders of saved artifacts."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            raise KitError(f"--models {str(path)!r} does not exist")
    artifacts: dict[str, Path] = {}
    for path in files:
        if path.name.lower().endswith(layout.PICKLE_SUFFIXES):
            raise KitError(f"{path} is a pickle file; only safetensors artifacts are accepted "
                           "(save them with main.py --save-model)")
        if not path.name.endswith(layout.ARTIFACT_SUFFIX):
            raise KitError(f"{path} is not a .safetensors artifact; pass the files saved by main.py --save-model")
        arch = artifact_facts(path)[0]
        if arch in artifacts:
            raise KitError(f"{artifacts[arch]} and {path} are both {arch} artifacts; pass one per model")
        artifacts[arch] = path
    return artifacts


def code_files(code_dir: str | Path) -> list[Path]:
    code_dir = Path(code_dir)
    if not code_dir.is_dir():
        raise KitError(f"--code {str(code_dir)!r} is not a folder; pass the folder of the code that made the submission")
    found = []
    for dirpath, dirnames, names in os.walk(code_dir):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(names):
            path = Path(dirpath, name)
            if path.is_symlink() or name.startswith(".") or name.endswith(".pyc"):
                continue
            if name.lower().endswith(ARCHIVE_SUFFIXES):
                raise KitError(f"{path} is an archive; the scorer refuses archives inside the zip, "
                               "so unpack it into the code folder or leave it out")
            found.append(path)
    return found


def build_zip(output_txt: str | Path, artifacts: dict[str, Path], code_dir: str | Path, dest: str | Path) -> Path:
    output_txt, dest = Path(output_txt), Path(dest)
    if not output_txt.is_file():
        raise KitError(f"--output {str(output_txt)!r} not found; pass the output.txt main.py wrote")
    temporary = dest.with_name(dest.name + ".part")
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        archive.write(output_txt, layout.OUTPUT_NAME)
        for model, path in sorted(artifacts.items()):
            # Quantized weights barely deflate (about 13% for int8), so they are stored as they
            # are: packing is faster and so is the scorer, for a slightly larger upload.
            archive.write(path, layout.artifact_name(model), compress_type=zipfile.ZIP_STORED)
        root = Path(code_dir)
        for path in code_files(root):
            archive.write(path, f"{layout.CODE_DIR}/{path.relative_to(root).as_posix()}")
    temporary.replace(dest)
    return dest


def check_zip(zip_path: str | Path, rules: Rules, *, verify: bool = False) -> Result:
    """The scorer's verdict on a zip; without a ground truth, coverage and accuracy are skipped."""
    tempfiles.remove_stale()
    ctx = make_context(rules, verify=verify, need_truth=False)
    return score_zip(zip_path, ctx)


def pack(output_txt, model_paths, code_dir, dest, rules: Rules, *, verify: bool = False) -> Result:
    artifacts = collect_artifacts(model_paths)
    build_zip(output_txt, artifacts, code_dir, dest)
    return check_zip(dest, rules, verify=verify)
