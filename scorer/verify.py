"""Verification: rebuild a submitted artifact with the kit's runtime and check output.txt against it.

A sample of the ground-truth images (the same for every submission, so figures compare) is
decoded once per process and reused. Image paths come from the organizers' folder, never from
the submission, so output.txt cannot point the scorer at another file.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from challenge.errors import KitError

from .config import Verification
from .groundtruth import GroundTruth


@dataclass
class Checked:
    images: int
    disagreements: int
    gained: int = 0  # disagreements where output.txt is right and the reference wrong
    lost: int = 0  # and the other way round

    @property
    def bias_sigmas(self) -> float:
        """How far the disagreements lean towards output.txt being right, in standard deviations."""
        tried = self.gained + self.lost
        return (self.gained - self.lost) / math.sqrt(tried) if tried else 0.0

    @property
    def percent(self) -> float:
        return 100.0 * self.disagreements / max(1, self.images)


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
    """Holds the decoded sample for the life of a worker process."""

    def __init__(self, truth: GroundTruth, images: str, settings: Verification):
        if not images or not Path(images).is_dir():
            raise KitError(f"verification needs the images folder; set images in the config (got {images!r})")
        self.settings = settings
        self.root = Path(images)
        self.indices = sample_indices(len(truth), settings)
        self.truth = truth
        self._decoded = None

    def _images(self):
        if self._decoded is None:
            from challenge.data import ImageDataset, ImageRecord, decode_all

            paths = image_paths(self.truth, self.root)
            records = [ImageRecord(paths[i], int(self.truth.labels[i])) for i in self.indices]
            self._decoded, _ = decode_all(ImageDataset(self.root, records), num_workers=0)
        return self._decoded

    def check(self, artifact: Path, aligned: np.ndarray) -> Checked:
        """Re-run the artifact on the sample; count predictions that differ from output.txt."""
        from challenge.artifact import load_artifact
        from challenge.evaluate import predict_tensor

        model, _ = load_artifact(artifact, device="cpu")
        predicted = np.asarray(predict_tensor(model, self._images(), batch_size=self.settings.batch_size,
                                              label=f"verify {artifact.stem}").classes)
        submitted = aligned[self.indices]
        labels = np.asarray(self.truth.labels)[self.indices]
        differ = predicted != submitted
        return Checked(len(self.indices), int(differ.sum()), int((differ & (submitted == labels)).sum()),
                       int((differ & (predicted == labels)).sum()))

    def verdict(self, model: str, checked: Checked) -> str:
        """Empty when within tolerance, else the reason the submission is invalid."""
        if checked.bias_sigmas > self.settings.bias_sigmas:
            return (f"{model}: where output.txt and its artifact disagree, output.txt is right {checked.gained} "
                    f"times and the artifact {checked.lost} times ({checked.bias_sigmas:.1f} standard "
                    "deviations); submit the output.txt made by the submitted artifact")
        if checked.percent <= self.settings.tolerance:
            return ""
        return (f"{model}: {checked.disagreements} of {checked.images} re-evaluated predictions "
                f"({checked.percent:.1f}%) differ from output.txt, more than the {self.settings.tolerance}% "
                "tolerance; submit the output.txt made by the submitted artifact")
