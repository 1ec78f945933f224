"""The ground truth: a `file,index` CSV (other columns ignored) read once per process.

`file` is the image path relative to the evaluated folder, as output.txt writes it. When no
ground-truth path has a folder (ImageNet's own `ILSVRC2012_val_00000001.JPEG,65` lists), an
output path matches by its file name, so `n01751748/ILSVRC2012_val_00000001.JPEG` is found.

The public/private split is a pure function of the file name and a seed, so it needs no
stored list and every process computes the same one.
"""
from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from challenge.errors import KitError


@dataclass
class GroundTruth:
    files: list[str]  # canonical order: sorted
    labels: np.ndarray  # int64, aligned with files
    index: dict[str, int]  # file -> position
    private: np.ndarray  # bool, aligned with files
    by_basename: bool
    sha256: str

    def __len__(self) -> int:
        return len(self.files)

    def key(self, output_path: str) -> str:
        return output_path.rpartition("/")[2] if self.by_basename else output_path


def private_mask(files: list[str], fraction: float, seed: str) -> np.ndarray:
    if fraction <= 0:
        return np.zeros(len(files), dtype=bool)
    threshold = int(fraction * 2**32)
    return np.array([int.from_bytes(hashlib.sha256(f"{seed}:{f}".encode()).digest()[:4], "big") < threshold
                     for f in files], dtype=bool)


def parse_ground_truth(data: bytes, num_classes: int, *, private_fraction: float = 0.0,
                       split_seed: str = "dfq", name: str = "ground truth") -> GroundTruth:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise KitError(f"{name} is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or "file" not in header or "index" not in header:
        raise KitError(f"{name}: the first line must name the columns 'file' and 'index' (got {header})")
    file_col, index_col = header.index("file"), header.index("index")
    pairs = {}
    for line_no, row in enumerate(reader, start=2):
        if not row:
            continue
        try:
            path, label = row[file_col].strip(), int(row[index_col])
        except (IndexError, ValueError):
            raise KitError(f"{name} line {line_no}: expected '<file>,<class index>', got {','.join(row)[:80]!r}") from None
        if not 0 <= label < num_classes:
            raise KitError(f"{name} line {line_no}: class index {label} is outside [0, {num_classes})")
        if path in pairs:
            raise KitError(f"{name} line {line_no}: {path!r} is listed twice")
        pairs[path] = label
    if not pairs:
        raise KitError(f"{name} lists no images")
    files = sorted(pairs)
    by_basename = not any("/" in f for f in files)
    return GroundTruth(files=files, labels=np.fromiter((pairs[f] for f in files), dtype=np.int64, count=len(files)),
                       index={f: i for i, f in enumerate(files)},
                       private=private_mask(files, private_fraction, split_seed),
                       by_basename=by_basename, sha256=hashlib.sha256(data).hexdigest())


def load_ground_truth(path: str | Path, num_classes: int, *, private_fraction: float = 0.0,
                      split_seed: str = "dfq") -> GroundTruth:
    if not path:
        raise KitError("no ground truth: set ground_truth in the config or pass --ground-truth "
                       "(a CSV with columns file,index)")
    path = Path(path)
    if not path.is_file():
        raise KitError(f"ground-truth file {str(path)!r} not found; set ground_truth in the config "
                       "or pass --ground-truth (a CSV with columns file,index)")
    return parse_ground_truth(path.read_bytes(), num_classes, private_fraction=private_fraction,
                              split_seed=split_seed, name=f"ground truth {path.name}")


def read_image_order(path: str | Path) -> list[str]:
    """A plain list of image paths, one a line (the order the 2021 baseline evaluated them in)."""
    path = Path(path)
    if not path.is_file():
        raise KitError(f"image order file {str(path)!r} not found")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
