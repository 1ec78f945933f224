"""Which activation observer suits which calibration data, and how fast ZeroQ can run.

    python -m benchmarks.calibration_study --weights W --data DIR [--classes FILE] --out FILE.json

A study, not a benchmark: for one model it generates each generator's batches once, then
quantizes with every (scheme, activation observer) pair and evaluates on decoded images; it
also times ZeroQ's distillation under cuDNN settings and memory formats.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from challenge import data, evaluate, quant  # noqa: E402
from challenge.models import load_fp32_model  # noqa: E402
from benchmarks.generators import generator_kwargs  # noqa: E402
from challenge.process import resolve_device, seed_everything  # noqa: E402


def time_zeroq(model, device, samples=64, iterations=100):
    """Seconds for ZeroQ's default 500 steps (extrapolated), eager and graphed, and whether the
    two give the same images."""
    from synth.zeroq import distill

    noise = torch.randn(samples, 3, 224, 224, device=device)
    timings = {}
    outputs = {}
    seed_everything(0)  # deterministic cuDNN: otherwise two eager runs differ already
    repeat, _ = distill(model, noise, iterations=20, cuda_graph=False)
    for graphed in (False, True):
        outputs[graphed], _ = distill(model, noise, iterations=20, cuda_graph=graphed)  # also warms up
        torch.cuda.synchronize()
        start = time.perf_counter()
        distill(model, noise, iterations=iterations, cuda_graph=graphed)
        torch.cuda.synchronize()
        timings[f"cuda_graph={graphed}"] = (time.perf_counter() - start) / iterations * 500
    timings["max_abs_difference_graph_vs_eager"] = float((outputs[True] - outputs[False]).abs().max())
    timings["max_abs_difference_eager_vs_eager"] = float((repeat - outputs[False]).abs().max())
    return timings


def main(argv=None):
    import synth

    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="mobilenet_v2")
    parser.add_argument("--weights", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--classes")
    parser.add_argument("--out", required=True)
    parser.add_argument("--generators", default="gaussian,zeroq,gdfq")
    parser.add_argument("--schemes", default="int8,w6a6,w4a8")
    parser.add_argument("--observers", default="mse,percentile,minmax")
    parser.add_argument("--gen-arg", action="append", default=[], help="GEN.KEY=VALUE (Python literal)")
    parser.add_argument("--timing", action="store_true")
    parser.add_argument("--profile", action="store_true", help="print ZeroQ's top GPU kernels and exit")
    args = parser.parse_args(argv)
    device = resolve_device("auto")
    fp32 = load_fp32_model(args.model, args.weights)
    fp32.model.to(device)
    results = {"timing": {}, "rows": []}
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        from synth.zeroq import distill

        noise = torch.randn(64, 3, 224, 224, device=device)
        distill(fp32.model, noise, iterations=3)
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            distill(fp32.model, noise, iterations=10)
            torch.cuda.synchronize()
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=25, max_name_column_width=60))
        return
    if args.timing:
        results["timing"] = time_zeroq(fp32.model, device)
        print(results["timing"], file=sys.stderr)
    records = data.list_images(args.data, data.class_list_for(fp32.num_classes, args.classes))
    images, labels = data.decode_all(data.ImageDataset(args.data, records))
    images, labels = images.to(device), labels.tolist()
    fp32_top1 = evaluate.top1(evaluate.predict_tensor(fp32.model, images, device, 128).classes, labels)
    extra = generator_kwargs(args.gen_arg)
    for generator in args.generators.split(","):
        name, _, variant = generator.partition("@")  # e.g. zeroq@256 = 256 samples
        kwargs = dict(extra.get(name, {}))
        if variant:
            kwargs["num_samples"] = int(variant)
        seed_everything(0)
        start = time.perf_counter()
        batches = list(synth.get_generator(name)(fp32.model, num_classes=fp32.num_classes,
                                                 input_shape=(3, 224, 224), seed=0, **kwargs))
        seconds = time.perf_counter() - start
        for scheme_name in args.schemes.split(","):
            for observer in args.observers.split(","):
                scheme = dataclasses.replace(quant.get_scheme(scheme_name), act_observer=observer)
                qmodel = quant.quantize_model(fp32.model, scheme, batches).to(device)
                top1 = evaluate.top1(evaluate.predict_tensor(qmodel, images, device, 128).classes, labels)
                row = dict(generator=generator, scheme=scheme_name, observer=observer, top1=top1,
                           fp32=fp32_top1, generation_s=seconds)
                results["rows"].append(row)
                print(row, file=sys.stderr)
                Path(args.out).write_text(json.dumps(results, indent=1))
    for row in results["rows"]:
        print(f"{row['generator']:14s} {row['scheme']:6s} {row['observer']:10s} {row['top1']:.2f} (fp32 {row['fp32']:.2f})")
    print(json.dumps(results["timing"], indent=1))


if __name__ == "__main__":
    main()
