"""Prediction: run a model over evaluation images and return its top-1 class per image."""
from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass

import torch

from .cuda_graph import Replayed
from .data import make_loader, normalize
from .precision import strict_float32
from .quant.exact import exact_runtime, normalize_exact


# Batches whose classes are read back together: between read-backs a GPU runs batch after batch
# without waiting for Python to queue the next one.
READ_BACK_EVERY = 8


@dataclass
class Predictions:
    classes: list[int]
    seconds: float

    @property
    def images_per_second(self) -> float:
        return len(self.classes) / self.seconds if self.seconds > 0 else float("inf")


def _progress(total: int, label: str):
    from progress.bar import Bar

    return Bar(label, max=total, file=sys.stderr, suffix="%(index)d/%(max)d %(eta)ds")


@torch.inference_mode()
@strict_float32()
def predict_batches(model: torch.nn.Module, batches, device: str | torch.device, total: int,
                    label: str = "evaluate", exact: bool = True) -> Predictions:
    """`batches` yields uint8 NCHW image batches (and optionally labels, ignored).

    Runs under the exact reference runtime (quant/exact.py): a quantized model's predictions
    are the same on every device, so the kit's output.txt and the scorer's re-evaluation agree.
    `exact=False` runs the float32 fake-quantized forward instead (to measure what it changes).
    """
    model.eval()
    classes: list[int] = []
    bar = _progress(total, label)
    start = time.perf_counter()
    pending: list[torch.Tensor] = []
    # On a GPU, batches after the first replay one captured graph of this (cuda_graph.py).
    top_class = Replayed(lambda images: model(normalize_exact(images) if exact else normalize(images)).argmax(dim=1),
                         total)
    with exact_runtime() if exact else contextlib.nullcontext():
        for batch in batches:
            images = batch[0] if isinstance(batch, (tuple, list)) else batch
            pending.append(top_class(images.to(device, non_blocking=True)))
            if len(pending) == READ_BACK_EVERY:  # reading classes back waits for the GPU: seldom
                classes.extend(torch.cat(pending).tolist())
                pending.clear()
            bar.next(len(images))
        if pending:
            classes.extend(torch.cat(pending).tolist())
    seconds = time.perf_counter() - start
    bar.finish()
    return Predictions(classes, seconds)


def predict(model, dataset, device="cpu", batch_size: int = 64, num_workers: int | None = None,
            label: str = "evaluate", exact: bool = True) -> Predictions:
    """Top-1 class of each image of an ImageDataset, decoding with DataLoader workers."""
    loader = make_loader(dataset, batch_size, num_workers, pin_memory=str(device).startswith("cuda"))
    return predict_batches(model, loader, device, len(dataset), label, exact)


def predict_tensor(model, images: torch.Tensor, device="cpu", batch_size: int = 64,
                   label: str = "evaluate", exact: bool = True) -> Predictions:
    """Top-1 class of already-decoded uint8 images (see data.decode_all)."""
    batches = (images[i:i + batch_size] for i in range(0, len(images), batch_size))
    return predict_batches(model, batches, device, len(images), label, exact)


def top1(classes: list[int], labels) -> float:
    labels = list(labels)
    return 100.0 * sum(int(p == t) for p, t in zip(classes, labels)) / max(1, len(labels))
