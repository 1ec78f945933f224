"""Verification: evaluate a submitted artifact with the kit's exact reference runtime (or, with
`[verify] runtime = "onnxruntime"`, with ONNX Runtime on its ONNX export).

With full verification (the default) the scorer ranks the artifact's own predictions, and
output.txt is a cross-check: editing it cannot change a score. The reference runtime gives the
same predictions on every device (challenge/quant/exact.py), so any difference from output.txt
is reported, and more than `max_differences` of them reject the submission.

The images (all, or a sample that is the same for every submission) are decoded once per
process and reused; their paths come from the organizers' folder, never from the submission.
With `[verify] cache_dir` they are read from the kit's decoded-image cache (challenge/image_cache.py)
instead: the folder's images in sorted order, the same file main.py and run.bash fill, mapped
once and shared by all worker processes through the page cache. The first use decodes every
image of the ground truth, even for a sample. On CUDA, when present, the reference runtime runs
there: it gives the same predictions on every device.
Predictions are cached per artifact (by sha256): teams resubmit the same models with another
output.txt far more often than they change the models.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from challenge.errors import KitError

from .config import Verification
from .groundtruth import GroundTruth
from .measure import file_sha256

CACHE_SIZE = 16


@dataclass
class Checked:
    images: int
    predicted: np.ndarray  # the artifact's class per checked image, in the order of Verifier.indices
    disagreements: int
    gained: int = 0  # disagreements where output.txt is right and the artifact wrong
    lost: int = 0  # and the other way round

    def describe(self, model: str) -> str:
        return (f"{model}: output.txt differs from the artifact's predictions on {self.disagreements} of "
                f"{self.images} images (output.txt right on {self.gained} of them, the artifact on {self.lost})")


def sample_indices(count: int, settings: Verification) -> np.ndarray:
    if settings.sample < 0 or settings.sample >= count:
        return np.arange(count)
    rng = np.random.default_rng(settings.seed)
    return np.sort(rng.choice(count, size=settings.sample, replace=False))


def image_paths(truth: GroundTruth, root: Path) -> list[str]:
    """Each ground-truth image's path under `root`; a name-only ground truth is found by a scan."""
    if not truth.by_basename:
        return truth.files
    found: dict[str, str] = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            if name in truth.index:
                found.setdefault(name, Path(dirpath, name).relative_to(root).as_posix())
    return [found.get(name, name) for name in truth.files]


class Verifier:
    """Holds the decoded images and the artifacts' predictions for the life of a process."""

    def __init__(self, truth: GroundTruth, images: str, settings: Verification):
        if not images or not Path(images).is_dir():
            raise KitError(f"verification needs the images folder; set images in the config or pass --images "
                           f"(got {images!r}), or score without it (--no-verify)")
        self.settings = settings
        self.root = Path(images)
        self.indices = sample_indices(len(truth), settings)
        self.truth = truth
        self._decoded = None  # a uint8 tensor, or the cache's CachedImages
        self._positions = None  # with the cache: each checked image's index in it
        self._predictions: OrderedDict[str, np.ndarray] = OrderedDict()

    @property
    def complete(self) -> bool:
        """Every scored image is re-evaluated: the artifact's predictions can rank the submission."""
        return len(self.indices) == len(self.truth)

    def decode(self):
        if self._decoded is None:
            from challenge.data import ImageDataset, ImageRecord, decode_all

            paths = image_paths(self.truth, self.root)
            if self.settings.cache_dir:
                from challenge.image_cache import open_images

                ordered = sorted(set(paths))  # main.py's canonical order: the same cache file
                where = {path: i for i, path in enumerate(ordered)}
                # Decoded in this process (workers=0): scoring workers are daemon processes, which
                # cannot start DataLoader workers of their own.
                self._decoded = open_images(self.settings.cache_dir, self.root, [ImageRecord(p, 0) for p in ordered],
                                            workers=0)
                self._positions = np.asarray([where[paths[i]] for i in self.indices], dtype=np.int64)
            else:
                records = [ImageRecord(paths[i], int(self.truth.labels[i])) for i in self.indices]
                self._decoded, _ = decode_all(ImageDataset(self.root, records), num_workers=0)
        return self._decoded

    def device(self) -> str:
        import torch

        return "cuda" if self.settings.runtime == "reference" and torch.cuda.is_available() else "cpu"

    def _batches(self, device: str):
        images, size = self.decode(), self.settings.batch_size
        if self._positions is not None:
            return images.batches(size, indices=self._positions, pin_memory=device == "cuda")
        return (images[i:i + size] for i in range(0, len(images), size))

    def predictions(self, artifact: Path) -> np.ndarray:
        """The artifact's class for each checked image (the configured runtime; CUDA when present)."""
        key = file_sha256(artifact)
        if key not in self._predictions:
            from challenge.evaluate import predict_batches
            from challenge.runtimes import load_model

            device = self.device()
            model, _ = load_model(artifact, self.settings.runtime, device=device)
            classes = predict_batches(model, self._batches(device), device, len(self.indices),
                                      label=f"verify {artifact.stem}").classes
            self._predictions[key] = np.asarray(classes, dtype=np.int64)
            if len(self._predictions) > CACHE_SIZE:
                self._predictions.popitem(last=False)
        self._predictions.move_to_end(key)
        return self._predictions[key]

    def check(self, artifact: Path, aligned: np.ndarray) -> Checked:
        """The artifact's predictions, and how output.txt (`aligned`, in ground-truth order) differs."""
        predicted = self.predictions(artifact)
        submitted = aligned[self.indices]
        labels = np.asarray(self.truth.labels)[self.indices]
        differ = predicted != submitted
        return Checked(len(self.indices), predicted, int(differ.sum()), int((differ & (submitted == labels)).sum()),
                       int((differ & (predicted == labels)).sum()))

    def verdict(self, model: str, checked: Checked) -> str:
        """Empty when within the allowed differences, else the reason the submission is rejected."""
        if checked.disagreements <= self.settings.max_differences:
            return ""
        if self.settings.runtime != "reference":
            return (f"{checked.describe(model)}, verified with {self.settings.runtime}: more than the "
                    f"{self.settings.max_differences} allowed; submit the output.txt that main.py wrote with this artifact")
        return (f"{checked.describe(model)}; the reference runtime gives the same predictions on every device, "
                f"so more than {self.settings.max_differences} means output.txt was not made by this artifact: "
                "submit the output.txt that main.py wrote with it")
