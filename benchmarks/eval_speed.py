"""Evaluation throughput of quantized models against FP32, in one process, on decoded images.

    python -m benchmarks.eval_speed --model resnet18 --weights W [--data DIR --classes FILE]
        [--schemes int8,challenge2021] [--images 256] [--rounds 3] [--device cpu] [--with-fake]
    python -m benchmarks.eval_speed --schemes int8 --with-fake --onnxruntime --batch-size 32 \\
        --images 128 --rounds 5 --out benchmarks/results/cpu-onnxruntime

Without --model, the three models of the shared assets (benchmarks.generators.DEFAULT_SETUP).
Decoding is done once and left out, so the figure is the model's own speed. Configurations are
timed in interleaved rounds (fp32, int8, fp32, int8, ...) and the median is reported, so that a
machine's drift hits all of them alike. Quantized models run under the exact reference runtime,
as the kit and the scorer evaluate them; `--with-fake` also times each with the float32
fake-quantized forward (the runtime before issue #11); `--onnxruntime` also times each, and the
FP32 model, exported to ONNX (challenge/export) and run by ONNX Runtime's CPU provider, and
records how long each export took and the operators of the graph ONNX Runtime optimized (how
many nodes run integer). `--anchor` (with --onnxruntime) also times ONNX Runtime's own static
quantizer on the FP32 export, calibrated on the same Gaussian images (benchmarks/ort_static.py).
`--out PREFIX` writes PREFIX.md and PREFIX.json.

    python -m benchmarks.eval_speed --schemes int8 --onnxruntime --anchor --batch-size 32 --images 128 \
        --rounds 5 --out benchmarks/results/cpu-onnxruntime-integer
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.generators import DEFAULT_SETUP  # noqa: E402
from challenge import artifact, data, evaluate, quant  # noqa: E402
from challenge.models import load_fp32_model  # noqa: E402
from challenge.process import resolve_device, seed_everything  # noqa: E402
from synth import get_generator  # noqa: E402

ASSETS = Path(__file__).resolve().parents[1].parent / "shared" / "assets"


def _onnxruntime(qmodel, arch, num_classes, scheme, scratch: Path) -> tuple[torch.nn.Module, float, bytes]:
    """The model through its artifact, exported and loaded in ONNX Runtime; the export's seconds; the file."""
    from challenge.export import export_artifact
    from challenge.export.runtime import OnnxRuntimeModel

    path = scratch / f"{arch}-{scheme}.safetensors"
    artifact.save_artifact(path, qmodel, arch=arch, num_classes=num_classes, scheme=scheme, generator="gaussian")
    exported = export_artifact(path, path.with_suffix(".onnx"))
    data = exported.path.read_bytes()
    return OnnxRuntimeModel(data), exported.seconds, data


def _calibration(fp32):
    """The kit's Gaussian calibration images (the same for the kit's schemes and the anchor)."""
    return list(get_generator("gaussian")(fp32.model, num_classes=fp32.num_classes, num_samples=32))


def _kernels_of(onnx_bytes: bytes) -> str:
    """How many of the model's integer layers ONNX Runtime runs on its exact uint8 x uint8 kernels
    on this CPU (those with 8-bit weights, where VNNI is missing: challenge/export/cpu.py)."""
    from challenge.export.runtime import exact_kernel_layers

    exact, layers = exact_kernel_layers(onnx_bytes)
    return f"{exact} of {layers} on the exact uint8 x uint8 kernels"


def configurations(args, arch, fp32, device, scratch: Path) -> tuple[dict, dict, dict]:
    """name -> (model, exact) to time, name -> export seconds, name -> ONNX Runtime's operator counts
    (with the integer kernels it runs, under "kernels")."""
    from challenge.export.runtime import fused_operators

    models, exports, operators = {"fp32": (fp32.model, True)}, {}, {}
    if args.onnxruntime:
        model, _, fp32_onnx = _onnxruntime(fp32.model, arch, fp32.num_classes, "fp32", scratch)
        models["fp32 (onnxruntime)"] = model, True
    for name in args.schemes.split(","):
        qmodel = quant.quantize_model(fp32.model, quant.get_scheme(name), _calibration(fp32)).to(device)
        models[name] = (qmodel, True)
        if args.with_fake:
            models[f"{name} (fake)"] = (qmodel, False)
        if args.onnxruntime:
            model, exports[name], onnx_bytes = _onnxruntime(qmodel, arch, fp32.num_classes, name, scratch)
            models[f"{name} (onnxruntime)"] = (model, True)
            operators[f"{name} (onnxruntime)"] = dict(fused_operators(onnx_bytes), kernels=_kernels_of(onnx_bytes))
    if args.onnxruntime and args.anchor:
        from benchmarks.ort_static import SessionModel, quantize_static

        start = time.perf_counter()
        anchor = quantize_static(fp32_onnx, _calibration(fp32))
        exports["ort quantize_static"] = time.perf_counter() - start
        models["ort quantize_static"] = (SessionModel(anchor), True)
        operators["ort quantize_static"] = dict(fused_operators(anchor), kernels=_kernels_of(anchor))
    return models, exports, operators


def measure(args, arch, weights, folder, classes, device) -> dict:
    fp32 = load_fp32_model(arch, weights)
    fp32.model.to(device)
    records = data.list_images(folder, data.class_list_for(fp32.num_classes, classes), args.images)
    images, _ = data.decode_all(data.ImageDataset(folder, records))
    with tempfile.TemporaryDirectory() as scratch:
        models, exports, operators = configurations(args, arch, fp32, device, Path(scratch))
        rates = {name: [] for name in models}
        for _ in range(args.rounds):
            for name, (model, exact) in models.items():
                rates[name].append(evaluate.predict_tensor(model, images, device, args.batch_size,
                                                           exact=exact).images_per_second)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print(f"{arch} on {device} ({torch.get_num_threads()} threads), {len(images)} images, batch {args.batch_size}, "
          f"median of {args.rounds} interleaved rounds:")
    for name, rate in medians.items():
        print(f"  {name:22s} {rate:7.1f} images/s   ratio to fp32 {rate / medians['fp32']:.2f}")
    for name, counts in operators.items():
        print(f"  {name}: ONNX Runtime runs " + ", ".join(f"{op} {n}" for op, n in sorted(counts.items())))
    return {"images": len(images), "rates": rates, "median": medians, "export_seconds": exports,
            "operators": operators}


def _kernels(report: dict) -> str:
    if "onnxruntime_exact_u8u8" not in report:
        return ""
    return (" This CPU lacks VNNI: the integer layers with 8-bit weights run ONNX Runtime's exact uint8 x uint8"
            " kernels, those of 7 bits or fewer its uint8 x int8 ones (exact for them; the count is listed with"
            " each model's operators)." if report["onnxruntime_exact_u8u8"] else " ONNX Runtime's integer kernels: uint8 x int8.")


def markdown(report: dict) -> str:
    names = list(next(iter(report["models"].values()))["median"])
    lines = [f"# Evaluation speed on {report['cpu_threads']} CPU threads", "",
             f"`{report['command']}`", "",
             f"torch {report['torch']}, onnxruntime {report.get('onnxruntime', '-')}, python {report['python']}; "
             f"batch {report['batch_size']}, decoded images, median images/s of {report['rounds']} interleaved "
             "rounds (each round times every configuration once). The machine is shared: other processes may "
             "have been running, which moves all figures but hits every configuration of a round alike "
             f"(1-minute load average at the start {report.get('load_average_start', ['?'])[0]}, at the end "
             f"{report.get('load_average_end', ['?'])[0]})." + _kernels(report), "",
             "| model | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for model, result in report["models"].items():
        lines.append(f"| {model} | " + " | ".join(f"{result['median'][n]:.1f}" for n in names) + " |")
    lines += ["", "Ratios of each configuration to another (medians):", ""]
    ort = [n for n in names if (n.endswith("(onnxruntime)") and not n.startswith("fp32")) or n == "ort quantize_static"]
    for model, result in report["models"].items():
        m = result["median"]
        for name in ort:
            scheme = name.split(" ")[0] if name.endswith("(onnxruntime)") else name
            others = (scheme, f"{scheme} (fake)", "fp32 (onnxruntime)", "ort quantize_static")
            parts = [f"{name} / fp32 = {m[name] / m['fp32']:.2f}"]
            parts += [f"/ {s} = {m[name] / m[s]:.2f}" for s in others if s in m and s != name]
            export = result["export_seconds"].get(scheme)
            lines.append(f"- {model}: " + " ".join(parts) + (f"; export {export:.1f} s" if export else ""))
    if any(result.get("operators") for result in report["models"].values()):
        lines += ["", "Operators of the graph ONNX Runtime optimized and runs (`SessionOptions.optimized_model_filepath`):", ""]
        for model, result in report["models"].items():
            for name, counts in result.get("operators", {}).items():
                lines.append(f"- {model}, {name}: " + ", ".join(f"{op} {n}" for op, n in sorted(counts.items())))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.eval_speed", description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="one model (with --weights); default: the three of the shared assets")
    parser.add_argument("--weights")
    parser.add_argument("--data", default=str(ASSETS / "imagenette10"))
    parser.add_argument("--classes", default=str(ASSETS / "imagenette10" / "wnids.txt"))
    parser.add_argument("--schemes", default="int8,challenge2021")
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--with-fake", action="store_true", help="also time the fake-quantized forward")
    parser.add_argument("--onnxruntime", action="store_true", help="also time the ONNX export under ONNX Runtime")
    parser.add_argument("--anchor", action="store_true",
                        help="with --onnxruntime: also time ONNX Runtime's own static quantizer's model")
    parser.add_argument("--out", help="write OUT.md and OUT.json")
    args = parser.parse_args(argv)
    if args.model and not args.weights:
        parser.error("--model needs --weights")
    seed_everything(0)
    device = resolve_device(args.device)
    if args.model:
        setups = {args.model: (Path(args.weights), Path(args.data), args.classes)}
    else:
        setups = {m: (ASSETS / w, ASSETS / f, ASSETS / c if c else None) for m, (w, f, c) in DEFAULT_SETUP.items()}
    report = {"command": "python -m benchmarks.eval_speed " + " ".join(argv if argv is not None else sys.argv[1:]),
              "device": str(device), "cpu_threads": torch.get_num_threads(), "torch": torch.__version__,
              "python": platform.python_version(), "batch_size": args.batch_size, "rounds": args.rounds,
              "date": time.strftime("%Y-%m-%d %H:%M"), "models": {}}
    if args.onnxruntime:
        import onnxruntime

        from challenge.export.cpu import u8s8_saturates

        report["onnxruntime"] = onnxruntime.__version__
        # Whether this CPU lacks VNNI (then 8-bit weights run the exact uint8 x uint8 kernels).
        report["onnxruntime_exact_u8u8"] = u8s8_saturates()
    report["load_average_start"] = os.getloadavg()  # other processes on the machine, for the record
    for arch, (weights, folder, classes) in setups.items():
        report["models"][arch] = measure(args, arch, weights, folder, classes, device)
    report["load_average_end"] = os.getloadavg()
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        out.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
