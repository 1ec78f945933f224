"""The layout of a submission zip, in one place for `pack`, `check` and the scorer.

    output.txt                      predictions, challenge.output_format (or the 2021 format)
    models/<model>.safetensors      one quantized-model artifact per model (challenge.artifact)
    code/...                        the code that made them: stored for the organizers, never run

Pickle-based files (.pth, .pt, .pkl, ...) are refused outright in the model slot and at the top:
unpickling runs code of the file's choosing, and the scorer reads safetensors only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from challenge.errors import KitError

OUTPUT_NAME = "output.txt"
MODELS_DIR = "models"
CODE_DIR = "code"
ARTIFACT_SUFFIX = ".safetensors"
PICKLE_SUFFIXES = (".pth", ".pt", ".pkl", ".pickle", ".ckpt", ".bin", ".joblib", ".npy", ".npz", ".tar", ".h5")
HARMLESS_TOP = ("readme", "license", "notes")  # a note at the top level is fine; it is ignored


class LayoutError(KitError):
    """The zip's files are not where the scorer looks for them."""


def artifact_name(model: str) -> str:
    return f"{MODELS_DIR}/{model}{ARTIFACT_SUFFIX}"


@dataclass
class Layout:
    root: Path
    output: Path
    artifacts: dict[str, Path]  # model -> artifact file
    code_files: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def _refuse_pickle(name: str) -> None:
    if name.lower().endswith(PICKLE_SUFFIXES):
        raise LayoutError(f"{name!r} is a pickle-style file; only safetensors artifacts are accepted "
                          f"({artifact_name('<model>')}, saved by main.py --save-model), and pickle files are never loaded")


def inspect(root: Path, files: list[str], models: tuple[str, ...], *, need_artifacts: bool = True) -> Layout:
    """Check the extracted files against the layout; `files` are relative posix paths."""
    if OUTPUT_NAME not in files:
        near = [f for f in files if PurePosixPath(f).name == OUTPUT_NAME]
        hint = f" (found {near[0]!r}: put it at the top of the zip)" if near else ""
        raise LayoutError(f"the zip has no {OUTPUT_NAME} at its top level{hint}")
    artifacts, code, ignored = {}, [], []
    for name in files:
        parts = PurePosixPath(name).parts
        if name == OUTPUT_NAME:
            continue
        if parts[0] == CODE_DIR:
            code.append(name)
            continue
        _refuse_pickle(name)
        if parts[0] == MODELS_DIR:
            stem = PurePosixPath(name).name.removesuffix(ARTIFACT_SUFFIX)
            if len(parts) != 2 or not name.endswith(ARTIFACT_SUFFIX) or stem not in models:
                raise LayoutError(f"{name!r} is not a model artifact of this challenge; {MODELS_DIR}/ holds only "
                                  f"{', '.join(artifact_name(m) for m in models)}")
            artifacts[stem] = root / name
        elif len(parts) == 1 and parts[0].lower().startswith(HARMLESS_TOP):
            ignored.append(name)
        else:
            raise LayoutError(f"unexpected file {name!r}; the zip holds {OUTPUT_NAME}, {MODELS_DIR}/ and {CODE_DIR}/ only")
    missing = [m for m in models if m not in artifacts]
    if need_artifacts and missing:
        raise LayoutError(f"the zip lacks {', '.join(artifact_name(m) for m in missing)}; the scorer measures "
                          "compression from these artifacts (main.py --save-model writes them)")
    return Layout(root, root / OUTPUT_NAME, artifacts, sorted(code), ignored)
