"""Top-1 of saved artifacts on labelled images, with the FP32 model's on the same images.

    python -m benchmarks.evaluate_artifacts A.safetensors [B.safetensors ...] [--data DIR] [--classes FILE]
        [--limit N] [--device cpu]

For artifacts made on a GPU machine that could not carry the images (main.py --save-model there,
evaluation here). Each image folder is decoded once; by default the model's folder and class list
in ../shared/assets (benchmarks.generators.DEFAULT_SETUP). The reference runtime gives the same
predictions on every device, so the figures are those of the machine that made the artifact.
Prints one Markdown row per artifact: file, arch, scheme, method, compression, images, FP32 and
quantized top-1, gap, and the quantized top-1 on each half of the images (even and odd positions
in the canonical order): settings tuned to one half of the shared images should be checked on
the other.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from challenge import evaluate  # noqa: E402
from challenge.artifact import load_artifact  # noqa: E402
from challenge.errors import run_cli  # noqa: E402
from challenge.models import load_fp32_model  # noqa: E402
from challenge.search.realdata import load_images  # noqa: E402
from challenge.size import compression_ratio  # noqa: E402
from benchmarks.generators import ASSETS, DEFAULT_SETUP  # noqa: E402


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.evaluate_artifacts", description=__doc__.split("\n")[0])
    parser.add_argument("artifacts", nargs="+")
    parser.add_argument("--data", help="ImageFolder tree (default: the model's folder in ../shared/assets)")
    parser.add_argument("--classes", help="wnid list for the checkpoint's classes (default: as --data's model)")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--device", default="cpu")
    return parser


def main(argv=None) -> int:
    args = get_args_parser().parse_args(argv)
    decoded, fp32_top1 = {}, {}
    print("| artifact | model | scheme | method | compression % | images | FP32 top-1 | top-1 | gap | half A | half B |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for path in args.artifacts:
        qmodel, contents = load_artifact(path, args.device)
        weights, folder, classes = DEFAULT_SETUP[contents.arch]
        folder = Path(args.data) if args.data else ASSETS / folder
        classes = args.classes or (classes and str(ASSETS / classes))
        key = (str(folder), classes, contents.num_classes)
        if key not in decoded:
            decoded[key] = load_images(folder, classes, contents.num_classes, args.limit, None)
        images, labels = decoded[key]
        if (contents.arch, key) not in fp32_top1:
            fp32 = load_fp32_model(contents.arch, ASSETS / weights).model
            fp32_top1[contents.arch, key] = evaluate.top1(
                evaluate.predict_tensor(fp32, images, args.device, 64, label="fp32").classes, labels.tolist())
        classes_out = evaluate.predict_tensor(qmodel, images, args.device, 64, label=path).classes
        top1 = evaluate.top1(classes_out, labels.tolist())
        halves = [evaluate.top1(classes_out[start::2], labels.tolist()[start::2]) for start in (0, 1)]
        method = contents.metadata.get("method", "rtn")
        reference = fp32_top1[contents.arch, key]
        print(f"| {path} | {contents.arch} | {contents.scheme} | {method} | "
              f"{compression_ratio(contents.fp32_bytes, contents.quantized_bytes):.2f} | {len(labels)} | "
              f"{reference:.2f} | {top1:.2f} | {top1 - reference:+.2f} | {halves[0]:.2f} | {halves[1]:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
