"""Decoded-image cache: the evaluation transform's uint8 3x224x224 images, decoded once, memory-mapped.

Decoding JPEGs with PIL is nearly all the time of an evaluation, and run.bash's three models, later
runs and the scorer's verification all decode the same images. So the first of them writes every
image to one file and the others map it.

File `images-<key>.u8` under the cache folder:
  header   HEADER_BYTES: MAGIC, then a JSON object (format, key, count, shape, root), space-padded
  images   count x 3 x 224 x 224 uint8, in the order of the paths the key was computed over
  trailer  TRAILER: written last, so a file cut short never passes as complete
The key is a sha256 of the format version, the transform (its repr and PIL's version: another
resampler is another image), the folder and, for each image in order, its relative path, size
and mtime_ns. A changed, added or removed file is a new key: never served stale.

A file is written to a temporary name in the same folder and os.replace'd, so a reader never sees
half a file; two runs building the same key write the same bytes and the last rename wins
harmlessly. A file that fails the checks (size, header, trailer) is reported in one note and rebuilt.
Pixels are not checksummed: hashing 7.5 GB on every run would cost what the cache saves.

Decoding stays PIL's (data.EVAL_TRANSFORM), in DataLoader workers, one per core: on an H200
machine's 16 cores, 50,000 ImageNet-sized JPEGs are decoded and stored in about 20 s. nvJPEG
(torchvision's decode_jpeg on CUDA) was measured and moves top-1 by more than the 0.05 points
the issue allows (challenge/nvjpeg.py says by how much), so it is not used.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import PIL
import torch

from .data import EVAL_TRANSFORM, ImageDataset, ImageRecord, make_loader
from .errors import KitError

FORMAT_VERSION = 1
MAGIC = b"DFQ-IMAGE-CACHE\n"
HEADER_BYTES = 4096
TRAILER = b"\nDFQ-CACHE-DONE\n"
SHAPE = (3, 224, 224)
IMAGE_BYTES = int(np.prod(SHAPE))


def log(message: str) -> None:
    from .distributed import current

    if current().is_main:  # under torchrun, one copy of each line
        print(message, file=sys.stderr, flush=True)


def default_cache_dir() -> Path:
    if os.environ.get("DFQ_CACHE_DIR"):
        return Path(os.environ["DFQ_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dfq-kit"


def check_cache_dir(folder: str | Path) -> Path:
    """Create the folder and prove it writable now, before minutes of calibration, not after."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise KitError(f"cache folder {str(folder)!r} is not writable ({error.strerror or type(error).__name__}); "
                       "pass --cache-dir DIR or --no-cache") from None
    return folder


def synthetic_reuse_folder(reuse_synthetic: bool, cache_dir: str | None) -> Path | None:
    """Where --reuse-synthetic keeps the images (checked writable now), or None without it."""
    return check_cache_dir(cache_dir or default_cache_dir()) if reuse_synthetic else None


def transform_description() -> str:
    return f"{EVAL_TRANSFORM!r} PIL {PIL.__version__}"


def cache_key(root: Path, paths: list[str]) -> str:
    digest = hashlib.sha256(f"dfq-image-cache {FORMAT_VERSION}\n{transform_description()}\n"
                            f"{Path(root).resolve()}\n".encode())
    for path in paths:
        try:
            stat = os.stat(root / path)
        except OSError:
            raise KitError(f"cannot read image {str(root / path)!r}; replace or remove the file") from None
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _header(key: str, count: int, root: Path) -> bytes:
    meta = json.dumps({"format": FORMAT_VERSION, "key": key, "count": count, "shape": list(SHAPE),
                       "root": str(Path(root).resolve())}, sort_keys=True).encode()
    if len(MAGIC) + len(meta) + 1 > HEADER_BYTES:
        raise RuntimeError("image cache header too long")  # a bug: the header holds no per-image data
    return (MAGIC + meta + b"\n").ljust(HEADER_BYTES, b" ")


def file_size(count: int) -> int:
    return HEADER_BYTES + count * IMAGE_BYTES + len(TRAILER)


def problem(path: Path, key: str, count: int) -> str:
    """Why the file at `path` cannot be used ('' when it is complete and is the key's)."""
    size = path.stat().st_size
    if size != file_size(count):
        return f"{size} bytes instead of {file_size(count)} (cut short while writing?)"
    with open(path, "rb") as file:
        head = file.read(HEADER_BYTES)
        file.seek(size - len(TRAILER))
        tail = file.read()
    if not head.startswith(MAGIC):
        return "not an image cache file (bad header)"
    try:
        meta = json.loads(head[len(MAGIC):].decode())
    except ValueError:
        return "unreadable header"
    if meta.get("format") != FORMAT_VERSION or meta.get("key") != key or meta.get("count") != count \
            or meta.get("shape") != list(SHAPE):
        return "header of another cache entry"
    if tail != TRAILER:
        return "no completion marker"
    return ""


def remove_abandoned(path: Path) -> None:
    """Temporary files of `path` left by killed runs of this host (their process is gone)."""
    for temporary in path.parent.glob(f"{path.name}.{socket.gethostname()}.*.tmp"):
        pid = temporary.name.rsplit(".", 2)[-2]
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            temporary.unlink(missing_ok=True)
        except (ValueError, PermissionError):
            pass  # not ours to judge, or alive under another user


def _write(path: Path, key: str, root: Path, records: list[ImageRecord], workers: int | None) -> None:
    from progress.bar import Bar

    temporary = path.with_name(f"{path.name}.{socket.gethostname()}.{os.getpid()}.tmp")
    bar = Bar("decode", max=len(records), file=sys.stderr, suffix="%(index)d/%(max)d %(eta)ds")
    try:
        with open(temporary, "wb") as file:
            file.write(_header(key, len(records), root))
            for batch, _ in make_loader(ImageDataset(root, records), batch_size=64, num_workers=workers):
                file.write(batch.contiguous().numpy().tobytes())
                bar.next(len(batch))
            file.write(TRAILER)
            file.flush()
            os.fsync(file.fileno())  # complete on disk before the name says so
        os.replace(temporary, path)
    except OSError as error:
        raise KitError(f"cannot write the image cache {str(temporary)!r} ({error.strerror}); "
                       "free some space, pass another --cache-dir DIR or --no-cache") from None
    finally:
        bar.finish()
        temporary.unlink(missing_ok=True)


@dataclass
class CachedImages:
    images: np.ndarray  # read-only memmap, (count, 3, 224, 224) uint8
    path: Path
    hit: bool

    def __len__(self) -> int:
        return len(self.images)

    def batches(self, batch_size: int, indices=None, pin_memory: bool = False):
        """uint8 NCHW tensors of the images at `indices` (default: all, in order), `batch_size` at a time."""
        order = np.arange(len(self.images)) if indices is None else np.asarray(indices)
        for start in range(0, len(order), batch_size):
            chosen = order[start:start + batch_size]
            # A copy, once: the map is read-only, and a batch is small next to the file. A run of
            # consecutive images is read as a slice (sequential reads, then copied); any other
            # selection is a fancy index, which already copies.
            if bool(np.all(np.diff(chosen) == 1)):
                array = np.array(self.images[chosen[0]:chosen[-1] + 1])
            else:
                array = self.images[chosen]
            batch = torch.from_numpy(array)
            yield batch.pin_memory() if pin_memory else batch


def open_images(cache_dir: str | Path, root: str | Path, records: list[ImageRecord],
                workers: int | None = None) -> CachedImages:
    """The records' decoded images, from the cache when it holds them, else decoded now and stored."""
    root, folder = Path(root), check_cache_dir(cache_dir)
    key = cache_key(root, [r.path for r in records])
    path = folder / f"images-{key}.u8"
    start = time.perf_counter()
    hit = path.exists()
    if hit:
        reason = problem(path, key, len(records))
        if reason:
            log(f"note: image cache {path} is unusable ({reason}); rebuilding it")
            hit = False
    if not hit:
        remove_abandoned(path)
        _write(path, key, root, records, workers)
    images = np.memmap(path, dtype=np.uint8, mode="r", offset=HEADER_BYTES, shape=(len(records), *SHAPE))
    log(f"image cache {'hit' if hit else 'miss (decoded and stored)'}: {path} ({path.stat().st_size} bytes, "
        f"{len(records)} images, {time.perf_counter() - start:.1f} s)")
    return CachedImages(images, path, hit)
