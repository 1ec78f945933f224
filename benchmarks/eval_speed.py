"""Evaluation throughput of quantized models against FP32, in one process, on decoded images.

    python -m benchmarks.eval_speed --model resnet18 --weights W [--data DIR --classes FILE]
        [--schemes int8,challenge2021] [--images 256] [--rounds 3] [--device cpu] [--with-fake]

Decoding is done once and left out, so the figure is the model's own speed. Schemes are timed
in interleaved rounds (fp32, int8, fp32, int8, ...) and the median is reported, so that a
machine's drift hits all of them alike. Quantized models run under the exact reference runtime,
as the kit and the scorer evaluate them; `--with-fake` also times each with the float32
fake-quantized forward (the runtime before issue #11).
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from challenge import data, evaluate, quant  # noqa: E402
from challenge.models import load_fp32_model  # noqa: E402
from challenge.runner import resolve_device, seed_everything  # noqa: E402
from synth import get_generator  # noqa: E402

ASSETS = Path(__file__).resolve().parents[1].parent / "shared" / "assets"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.eval_speed", description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--data", default=str(ASSETS / "imagenette10"))
    parser.add_argument("--classes", default=str(ASSETS / "imagenette10" / "wnids.txt"))
    parser.add_argument("--schemes", default="int8,challenge2021")
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--with-fake", action="store_true", help="also time the fake-quantized forward")
    args = parser.parse_args(argv)
    seed_everything(0)
    device = resolve_device(args.device)
    fp32 = load_fp32_model(args.model, args.weights)
    fp32.model.to(device)
    records = data.list_images(args.data, data.class_list_for(fp32.num_classes, args.classes), args.images)
    images, _ = data.decode_all(data.ImageDataset(args.data, records))
    models = {"fp32": (fp32.model, True)}
    for name in args.schemes.split(","):
        batches = get_generator("gaussian")(fp32.model, num_classes=fp32.num_classes, num_samples=32)
        models[name] = (quant.quantize_model(fp32.model, quant.get_scheme(name), batches).to(device), True)
        if args.with_fake:
            models[f"{name} (fake)"] = (models[name][0], False)
    rates = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, (model, exact) in models.items():
            rates[name].append(evaluate.predict_tensor(model, images, device, args.batch_size,
                                                       exact=exact).images_per_second)
    fp32_rate = statistics.median(rates["fp32"])
    print(f"{args.model} on {device} ({torch.get_num_threads()} threads), {len(images)} images, "
          f"median of {args.rounds} interleaved rounds:")
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"  {name:14s} {rate:7.1f} images/s   ratio to fp32 {rate / fp32_rate:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
