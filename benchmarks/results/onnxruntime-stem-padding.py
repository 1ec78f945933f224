"""The image padded to 4 channels before the integer stem (issue 23, fourteenth session; tried, not
kept: onnxruntime-integer.md): ONNX Runtime speed of the kit's int8 export with and without it,
interleaved, and whether the two agree exactly.

    python benchmarks/results/onnxruntime-stem-padding.py [--batch-size 32] [--images 128] [--rounds 5]

For each model of the shared assets: the int8 artifact calibrated on the kit's 32 Gaussian images
(as benchmarks/eval_speed.py makes it), exported by the kit, and a copy of that graph in which the
stem reads the image's integers padded with a fourth channel (a uint8 `Pad` at the zero point; the
stem's weights padded with zeros, so every integer sum is the same). Both run by ONNX Runtime on the
same decoded images, with the FP32 export beside them, in interleaved rounds (medians). Prints a
Markdown table with the largest logit difference between the two int8 graphs (0: the same sums).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.eval_speed import _calibration, _onnxruntime  # noqa: E402
from benchmarks.generators import ASSETS, DEFAULT_SETUP  # noqa: E402
from challenge import data, evaluate, quant  # noqa: E402
from challenge.export.runtime import OnnxRuntimeModel  # noqa: E402
from challenge.models import load_fp32_model  # noqa: E402
from challenge.quant.exact import normalize_exact  # noqa: E402


def padded_stem(model_bytes: bytes) -> bytes:
    """The graph with the first Conv's input padded to 4 channels (zero point) and its weights with zeros."""
    proto = onnx.load_from_string(model_bytes)
    nodes = list(proto.graph.node)
    producer = {output: node for node in nodes for output in node.output}
    stem = next(node for node in nodes if node.op_type == "Conv")
    dq = producer[stem.input[0]]
    weight_dq = producer[stem.input[1]]
    weights = next(t for t in proto.graph.initializer if t.name == weight_dq.input[0])
    values = numpy_helper.to_array(weights)
    assert values.shape[1] == 3, "the stem reads the image's 3 channels"
    weights.CopyFrom(numpy_helper.from_array(np.pad(values, [(0, 0), (0, 1), (0, 0), (0, 0)]), weights.name))
    proto.graph.initializer.append(numpy_helper.from_array(np.array([0, 0, 0, 0, 0, 1, 0, 0], np.int64), "stem.pads"))
    pad = helper.make_node("Pad", [dq.input[0], "stem.pads", dq.input[2]], ["stem.padded"], name="stem/Pad")
    padded_dq = helper.make_node("DequantizeLinear", ["stem.padded", dq.input[1], dq.input[2]], ["stem.padded.dq"],
                                 name="stem/DequantizeLinear")
    stem.input[0] = "stem.padded.dq"
    position = nodes.index(stem)
    proto.graph.node.insert(position, padded_dq)
    proto.graph.node.insert(position, pad)
    if not any(dq.output[0] in node.input for node in proto.graph.node):  # read by the stem alone
        proto.graph.node.remove(dq)
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"batch {args.batch_size}, {args.images} images, {torch.get_num_threads()} threads, "
          f"median images/s of {args.rounds} interleaved rounds\n")
    print("| model | ONNX Runtime FP32 | INT8 export | INT8, image padded to 4 channels | padded / not | "
          "INT8 / ORT FP32 | padded / ORT FP32 | largest logit difference |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for arch, (weights, folder, classes) in DEFAULT_SETUP.items():
        fp32 = load_fp32_model(arch, ASSETS / weights)
        wnids = data.class_list_for(fp32.num_classes, classes and str(ASSETS / classes))
        records = data.list_images(ASSETS / folder, wnids, args.images)
        images, _ = data.decode_all(data.ImageDataset(ASSETS / folder, records))
        qmodel = quant.quantize_model(fp32.model, quant.get_scheme("int8"), _calibration(fp32))
        with tempfile.TemporaryDirectory() as scratch:
            models = {"fp32": _onnxruntime(fp32.model, arch, fp32.num_classes, "fp32", Path(scratch))[0]}
            int8, _, int8_bytes = _onnxruntime(qmodel, arch, fp32.num_classes, "int8", Path(scratch))
        models["int8"], models["int8 padded"] = int8, OnnxRuntimeModel(padded_stem(int8_bytes))
        rates = {name: [] for name in models}
        for _ in range(args.rounds):
            for name, model in models.items():
                rates[name].append(evaluate.predict_tensor(model, images, "cpu", args.batch_size).images_per_second)
        m = {name: statistics.median(values) for name, values in rates.items()}
        with torch.no_grad():
            x = normalize_exact(images[:16])
            difference = float((models["int8"](x) - models["int8 padded"](x)).abs().max())
        print(f"| {arch} | {m['fp32']:.1f} | {m['int8']:.1f} | {m['int8 padded']:.1f} | "
              f"{m['int8 padded'] / m['int8']:.2f} | {m['int8'] / m['fp32']:.2f} | {m['int8 padded'] / m['fp32']:.2f} | "
              f"{difference:g} |", flush=True)


if __name__ == "__main__":
    main()
