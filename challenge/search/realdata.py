"""Top-1 of a few frontier points on labelled real images: a report on the choice, never an
input to it (the search itself sees synthetic batches only).

Each point is the model main.py would make with that layer config (same calibration batches,
any method), evaluated under the exact reference runtime the scorer uses. Calibration runs once
for all points: it observes activations with the weights still in FP32, so its statistics do
not depend on the weight widths; each point copies the calibrated model, sets its widths and
freezes (the tests check this equals quantize_model with the layer config).
"""
from __future__ import annotations

import copy
import sys

from .. import data, evaluate, quant
from ..quant.fold import fold_batchnorm
from ..quant.quantize import layer_specs
from ..quant.modules import activation_range
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


def calibrated(fp32_model, scheme, batches):
    """The scheme's prepared model, calibrated once on `batches` (observers still holding statistics)."""
    model = quant.prepare(fp32_model, scheme).to(next(fp32_model.parameters()).device)
    quant.calibrate(model, batches)
    return model


def with_rules(calibrated_model, fp32_model, scheme, rules, batches, method: str = quant.DEFAULT_METHOD,
               method_kwargs: dict | None = None):
    """A frozen (and optimised) copy of `calibrated_model` with the widths of `rules`."""
    model = copy.deepcopy(calibrated_model)
    layers = quant.quant_layers(model)
    specs = layer_specs(fold_batchnorm(copy.deepcopy(fp32_model).eval()), scheme, rules)
    for name, layer in layers.items():
        spec = specs[name]
        if (spec.act_bits is None) != (layer.input_quant is None):
            raise ValueError(f"{name}: a layer config that adds or removes an input quantizer needs its own calibration")
        layer.spec = spec
        if layer.input_quant is not None:
            layer.input_quant.bits = spec.act_bits
            layer.input_quant.qmin, layer.input_quant.qmax = activation_range(spec.act_bits, spec.reduce_range)
    quant.freeze(model)
    return quant.optimise(method, fp32_model, model, batches, method_kwargs)


def measure_points(result: SearchResult, fp32_model, batches, images, labels, points: list[float], *,
                   device, method: str = quant.DEFAULT_METHOD, method_kwargs: dict | None = None,
                   batch_size: int = 64) -> tuple[dict[float, float], float]:
    """{target: top-1 %} for the sweep rows at `points`, and the FP32 top-1 on the same images."""
    space = result.space
    rows = {row.target: row for row in result.sweep}
    fp32 = evaluate.predict_tensor(fp32_model, images, device, batch_size, label=f"{space.arch} fp32")
    fp32_top1 = evaluate.top1(fp32.classes, labels.tolist())
    base = calibrated(fp32_model, space.scheme, batches)
    measured = {}
    for target in points:
        if target not in rows:
            continue
        row = rows[target]
        qmodel = with_rules(base, fp32_model, space.scheme, layer_rules(space, row), batches, method, method_kwargs)
        predictions = evaluate.predict_tensor(qmodel, images, device, batch_size,
                                              label=f"{space.arch} at {row.compression:.2f} pct")
        measured[target] = evaluate.top1(predictions.classes, labels.tolist())
        print(f"{space.arch}: {row.compression:.2f}% compression -> top-1 {measured[target]:.2f}% on "
              f"{len(labels)} real images (FP32 {fp32_top1:.2f}%)", file=sys.stderr, flush=True)
    return measured, fp32_top1


def load_images(root, classes_file, num_classes: int, limit: int | None, workers: int | None):
    """Decoded uint8 images and labels of an ImageFolder tree, once for every point."""
    root = data.check_data_dir(root)
    records = data.list_images(root, data.class_list_for(num_classes, classes_file), limit)
    return data.decode_all(data.ImageDataset(root, records), workers)
