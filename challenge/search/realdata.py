"""Top-1 of a few frontier points on labelled real images: a report on the choice, never an
input to it (the search itself sees synthetic batches only).

Each point is quantized as main.py would quantize it with that layer config (same calibration
batches, any method), and evaluated under the exact reference runtime the scorer uses.
"""
from __future__ import annotations

import sys

from .. import data, evaluate, quant
from .pipeline import SearchResult, layer_rules


def pick_points(targets: list[float], chosen: float, count: int) -> list[float]:
    """`count` sweep targets spread evenly over the sweep, the chosen one always among them."""
    if count <= 0:
        return []
    if count >= len(targets):
        return list(targets)
    step = (len(targets) - 1) / max(1, count - 1)
    picked = {targets[round(i * step)] for i in range(count)}
    if chosen not in picked:
        nearest = min(picked, key=lambda t: abs(t - chosen))
        picked = (picked - {nearest}) | {chosen}
    return sorted(picked)


def measure_points(result: SearchResult, fp32_model, batches, images, labels, points: list[float], *,
                   device, method: str = quant.DEFAULT_METHOD, method_kwargs: dict | None = None,
                   batch_size: int = 64) -> tuple[dict[float, float], float]:
    """{target: top-1 %} for the sweep rows at `points`, and the FP32 top-1 on the same images."""
    space = result.space
    rows = {row.target: row for row in result.sweep}
    fp32 = evaluate.predict_tensor(fp32_model, images, device, batch_size, label=f"{space.arch} fp32")
    fp32_top1 = evaluate.top1(fp32.classes, labels.tolist())
    measured = {}
    for target in points:
        if target not in rows:
            continue
        row = rows[target]
        qmodel = quant.quantize_model(fp32_model, space.scheme, batches, layer_rules(space, row), method,
                                      method_kwargs).to(device)
        predictions = evaluate.predict_tensor(qmodel, images, device, batch_size,
                                              label=f"{space.arch} {row.compression:.2f}%")
        measured[target] = evaluate.top1(predictions.classes, labels.tolist())
        print(f"{space.arch}: {row.compression:.2f}% compression -> top-1 {measured[target]:.2f}% on "
              f"{len(labels)} real images (FP32 {fp32_top1:.2f}%)", file=sys.stderr, flush=True)
    return measured, fp32_top1


def load_images(root, classes_file, num_classes: int, limit: int | None, workers: int | None):
    """Decoded uint8 images and labels of an ImageFolder tree, once for every point."""
    root = data.check_data_dir(root)
    records = data.list_images(root, data.class_list_for(num_classes, classes_file), limit)
    return data.decode_all(data.ImageDataset(root, records), workers)
