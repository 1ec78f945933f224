"""Evaluation images: an ImageFolder tree read in canonical order with the standard transform.

- `DIR/<wnid>/<image>`; a class index is the position of the folder's wnid in the model's class
  list, so a folder holding only some classes still gets the right indices.
- Canonical order: sorted relative paths (posix). `limit` keeps the first N of that order.
- Transform: Resize 256, CenterCrop 224, kept as uint8; `normalize` (ImageNet mean/std) runs on
  the batch's device, so a GPU does the float work and images can be decoded once and reused.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torchvision import transforms

from .errors import KitError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_WNIDS_FILE = Path(__file__).with_name("imagenet_wnids.txt")


@dataclass(frozen=True)
class ImageRecord:
    path: str  # relative to the data folder, '/'-separated
    label: int


def read_class_list(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise KitError(f"class list {str(path)!r} does not exist; pass a file of wnids, one per line, with --classes")
    wnids = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(set(wnids)) != len(wnids):
        raise KitError(f"class list {str(path)!r} repeats a wnid; each class must appear once")
    return wnids


def class_list_for(num_classes: int, classes_file: str | Path | None = None) -> list[str]:
    """The model's classes: `classes_file` if it has that many, else the shipped ILSVRC2012 list."""
    if classes_file is not None:
        wnids = read_class_list(classes_file)
        if len(wnids) == num_classes:
            return wnids
    if num_classes == 1000:
        return read_class_list(IMAGENET_WNIDS_FILE)
    given = f"--classes {classes_file} has {len(wnids)}" if classes_file is not None else "no --classes was given"
    raise KitError(f"the checkpoint has {num_classes} classes but {given}; "
                   f"pass --classes FILE listing its {num_classes} wnids in class-index order")


def check_data_dir(root: str | Path | None) -> Path:
    if root is None:
        raise KitError("no data folder: pass --data DIR or set IMAGENET_VAL to the ImageNet validation folder")
    root = Path(root)
    if not root.is_dir():
        raise KitError(f"data folder {str(root)!r} does not exist; pass --data DIR (an ImageFolder tree DIR/<wnid>/<image>)")
    return root


def list_images(root: str | Path, class_list: list[str], limit: int | None = None) -> list[ImageRecord]:
    root = check_data_dir(root)
    index_of = {wnid: i for i, wnid in enumerate(class_list)}
    records = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if folder.name not in index_of:
            raise KitError(f"class folder {folder.name!r} in {str(root)!r} is not in the model's class list; "
                           "remove it or pass --classes with the right list")
        label, top = index_of[folder.name], str(folder)
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            # Strings, not Path objects: 50,000 files are listed once per model.
            relative_dir = folder.name + dirpath[len(top):].replace(os.sep, "/")
            for file_name in filenames:
                if file_name.lower().endswith(IMAGE_EXTENSIONS) and not file_name.startswith("."):
                    records.append(ImageRecord(f"{relative_dir}/{file_name}", label))
    if not records:
        raise KitError(f"no images in {str(root)!r}; expected DIR/<wnid>/<image>.JPEG")
    records.sort(key=lambda r: r.path)
    return records[:limit] if limit is not None else records


EVAL_TRANSFORM = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.PILToTensor()])


def decode_image(path: str | Path, transform=EVAL_TRANSFORM) -> torch.Tensor:
    try:
        with Image.open(path) as image:
            return transform(image.convert("RGB"))
    except Exception as error:
        raise KitError(f"cannot read image {str(path)!r} ({type(error).__name__}); replace or remove the file") from None


class ImageDataset(torch.utils.data.Dataset):
    """(uint8 3x224x224 tensor, class index) for each record, in the records' order."""

    def __init__(self, root: str | Path, records: list[ImageRecord]):
        self.root = Path(root)
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int):
        record = self.records[index]
        return decode_image(self.root / record.path), record.label


def normalize(batch: torch.Tensor) -> torch.Tensor:
    """uint8 NCHW -> ImageNet-normalized float32, on the batch's device."""
    mean = torch.tensor(IMAGENET_MEAN, device=batch.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=batch.device).view(1, 3, 1, 1)
    return (batch.float() / 255.0 - mean) / std


def default_workers() -> int:
    """One decoding process per core this process may use, shared among the processes torchrun
    starts on the host (up to 32): decoding is CPU-bound, and while they decode, the main
    process only waits for batches."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        local_processes = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    except ValueError:
        local_processes = 1
    return max(1, min(32, cores // local_processes))


def make_loader(dataset, batch_size: int = 64, num_workers: int | None = None, pin_memory: bool = False):
    workers = default_workers() if num_workers is None else num_workers
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers,
                                       pin_memory=pin_memory, persistent_workers=False)


def decode_all(dataset: ImageDataset, num_workers: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Every image of the dataset as one uint8 tensor (N,3,224,224) plus labels: decode once, reuse."""
    images, labels = [], []
    for batch, batch_labels in make_loader(dataset, batch_size=64, num_workers=num_workers):
        images.append(batch)
        labels.append(batch_labels)
    return torch.cat(images), torch.cat(labels)


def read_ahead(batches, depth: int = 2):
    """The items of `batches`, produced by a thread up to `depth` ahead of the consumer (an
    exception in the thread is raised in the consumer, where it would have been)."""
    import queue
    import threading

    slots: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def offer(entry) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False  # the consumer has gone

    def produce():
        try:
            for item in batches:
                if not offer((item, None)):
                    return
            offer((done, None))
        except BaseException as error:  # handed to the consumer
            offer((done, error))

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while True:
            item, error = slots.get()
            if item is done:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
