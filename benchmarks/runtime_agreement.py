"""Do two devices give the same predictions? Evaluate the same quantized artifacts on each, compare.

    python -m benchmarks.runtime_agreement --device cpu  --out runs/agreement-cpu
    python -m benchmarks.runtime_agreement --device cuda --out runs/agreement-h100
    python -m benchmarks.runtime_agreement --compare runs/agreement-cpu runs/agreement-h100
    python -m benchmarks.runtime_agreement --compare runs/agreement-cpu runs/h100-part1 runs/h100-part2

Each run quantizes the three models of the shared assets (benchmarks.generators.DEFAULT_SETUP:
real MobileNetV2 on imagenet/val, the ResNet18 and ShuffleNetV2 stand-ins on imagenette10) on
the CPU, so that both runs hold byte-identical artifacts (their sha256 is recorded and checked),
or takes them from `--artifacts DIR` (<model>.safetensors), then evaluates them on `--device`
and writes OUT/predictions.json (one class per image) and OUT/models/. `--runtime fake` uses
the float32 fake-quantized forward instead of the exact reference runtime: the "before";
`--runtime onnxruntime` exports each artifact to ONNX and runs it with ONNX Runtime (CPU).
`--compare A B` counts, per model, the images whose predicted class differs.

    python -m benchmarks.runtime_agreement --out runs/agreement-cpu
    python -m benchmarks.runtime_agreement --runtime onnxruntime --artifacts runs/agreement-cpu/models \
        --out runs/agreement-ort
    python -m benchmarks.runtime_agreement --compare runs/agreement-cpu runs/agreement-ort
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.generators import ASSETS, DEFAULT_SETUP  # noqa: E402


def _artifact(model: str, weights: Path, classes: str | None, out: Path, given: Path | None) -> Path:
    import torch

    from challenge import artifact, quant
    from challenge.models import load_fp32_model
    from synth import get_generator

    if given is not None:
        return given / f"{model}.safetensors"
    torch.manual_seed(0)
    fp32 = load_fp32_model(model, weights)  # on the CPU: the same artifact on every machine
    batches = get_generator("gaussian")(fp32.model, num_classes=fp32.num_classes, seed=0)
    qmodel = quant.quantize_model(fp32.model, quant.get_scheme("int8"), batches)
    path = out / "models" / f"{model}.safetensors"
    artifact.save_artifact(path, qmodel, arch=model, num_classes=fp32.num_classes, scheme="int8", generator="gaussian")
    return path


def evaluate_all(args) -> dict:
    import torch
    import torchvision

    from challenge import data, evaluate
    from challenge.runtimes import load_model
    from scorer.measure import file_sha256

    out = Path(args.out)
    report = {"device": str(args.device), "runtime": args.runtime, "torch": torch.__version__,
              "torchvision": torchvision.__version__, "python": platform.python_version(), "models": {}}
    if str(args.device).startswith("cuda"):
        report["gpu"] = torch.cuda.get_device_name(0)
    if args.runtime == "onnxruntime":
        import onnxruntime

        report["onnxruntime"] = onnxruntime.__version__
    for model in args.models.split(","):
        weights, folder, classes = DEFAULT_SETUP[model]
        root = ASSETS / folder
        path = _artifact(model, ASSETS / weights, classes, out, Path(args.artifacts) if args.artifacts else None)
        qmodel, contents = load_model(path, "onnxruntime" if args.runtime == "onnxruntime" else "reference",
                                      device=args.device)
        class_file = ASSETS / classes if classes else None
        records = data.list_images(root, data.class_list_for(contents.num_classes, class_file), args.limit)
        predictions = evaluate.predict(qmodel, data.ImageDataset(root, records), args.device, args.batch_size,
                                       args.workers, label=model, exact=args.runtime != "fake")
        report["models"][model] = {
            "artifact_sha256": file_sha256(path), "images": [r.path for r in records],
            "classes": predictions.classes, "top1": evaluate.top1(predictions.classes, (r.label for r in records)),
            "images_per_second": round(predictions.images_per_second, 1)}
        print(f"{model}: {len(records)} images, top-1 {report['models'][model]['top1']:.2f}% on {args.device} "
              f"({args.runtime} runtime)", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    (out / "predictions.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return report


def _load_runs(folders) -> dict:
    """One run, or several runs of the same artifacts on disjoint image parts, as one."""
    runs = [json.loads((Path(p) / "predictions.json").read_text(encoding="utf-8")) for p in folders]
    joined = dict(runs[0], models={})
    for run in runs:
        for model, result in run["models"].items():
            into = joined["models"].setdefault(model, {"artifact_sha256": result["artifact_sha256"],
                                                       "predicted": {}, "correct": 0})
            if into["artifact_sha256"] != result["artifact_sha256"]:
                raise SystemExit(f"error: {model}: the parts evaluated different artifacts; "
                                 "pass --artifacts with one run's models/ folder to every part")
            into["predicted"].update(zip(result["images"], result["classes"]))
            into["correct"] += round(result["top1"] * len(result["images"]) / 100)
    return joined


def compare(first: Path, *others: Path) -> list[str]:
    """Per model, the images whose predicted class differs between run A and run(s) B.

    B may be several runs on disjoint parts of the images (a device that cannot hold them all at
    once); images are matched by path, and every image of A must have been evaluated in B."""
    a, b = _load_runs([first]), _load_runs(others)
    lines = [f"{a['device']} ({a['runtime']}, torch {a['torch']}) vs {b.get('gpu', b['device'])} "
             f"({b['runtime']}, torch {b['torch']})", "",
             "| model | images | differing predictions | first half / second half | agreement | top-1 A | top-1 B |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    total = 0
    for model, x in a["models"].items():
        y = b["models"].get(model)
        if y is None:
            continue
        if x["artifact_sha256"] != y["artifact_sha256"] or set(x["predicted"]) != set(y["predicted"]):
            raise SystemExit(f"error: {model}: the two runs evaluated different artifacts or images; "
                             "pass --artifacts with the first run's models/ folder")
        images = sorted(x["predicted"])  # the halves of the canonical (sorted) image list
        differs = [x["predicted"][image] != y["predicted"][image] for image in images]
        differ, half = sum(differs), len(images) // 2
        total += differ
        count = len(images)
        lines.append(f"| {model} | {count} | {differ} | {sum(differs[:half])} / {sum(differs[half:])} | "
                     f"{100 * (1 - differ / count):.2f}% | {100 * x['correct'] / count:.2f} | "
                     f"{100 * y['correct'] / count:.2f} |")
    lines += ["", f"{total} differing prediction(s) in all"]
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.runtime_agreement", description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", help="folder for predictions.json and models/")
    parser.add_argument("--artifacts", help="folder of <model>.safetensors to evaluate instead of quantizing")
    parser.add_argument("--runtime", choices=["exact", "fake", "onnxruntime"], default="exact")
    parser.add_argument("--models", default=",".join(DEFAULT_SETUP))
    parser.add_argument("--limit", type=int, help="the first N images of each folder only")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=None, help="decoding processes")
    parser.add_argument("--compare", nargs="+", metavar="RUN",
                        help="compare run A's folder with run B's (or with several B parts on disjoint images)")
    args = parser.parse_args(argv)
    if args.compare:
        if len(args.compare) < 2:
            parser.error("--compare needs run A's folder and at least one folder of run B")
        print("\n".join(compare(*args.compare)))
        return 0
    if not args.out:
        parser.error("--out is required to evaluate (or pass --compare A B)")
    evaluate_all(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
