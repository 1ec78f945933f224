"""Generators and methods compared: models x generators x schemes x methods, on real labelled images.

    python -m benchmarks.generators --out runs/generators [--models resnet18,mobilenet_v2]
        [--generators gaussian,zeroq,gdfq,real-images] [--schemes int8,w6a6,w4a8,w4a4] [--device auto]
        [--methods rtn,bias-correction,adaround,brecq] [--gen-arg zeroq.iterations=200]
        [--method-arg brecq.iterations=500] [--limit 500]

About 1.5 to 2 minutes per model with the defaults on one H100, mostly the generators (zeroq
9-22 s, gdfq 38-49 s). Writes DIR/generators.json (every number, plus device and versions) and
DIR/generators.md (a table), both rewritten after each row so an interrupted run keeps what it
measured. Defaults use
../shared/assets: the real MobileNetV2 checkpoint on imagenet/val (1000 classes) and the ResNet18 and
ShuffleNetV2 stand-ins on imagenette10 (10 classes); `--weights/--data/--classes MODEL=PATH` override.

Cost structure, so that the table measures what it says:
- each image folder is decoded once (uint8, 224 px) and kept on the device for every model and
  configuration; evaluation images/s is therefore the model's throughput, not JPEG decoding;
- each generator runs once per model; its batches are kept and reused for every scheme, so
  "generation" and "calibration" (observers, BatchNorm folding, freezing) are timed apart;
- each scheme is calibrated once per generator; every method starts from a copy of that
  round-to-nearest model, and its own time is "reconstruction" (with its peak GPU memory);
- sizes come from a written artifact, as the kit and the scorer account them.
`real-images` is the reference row: it calibrates on real images drawn from another folder than
the evaluated one (imagenette10 for MobileNetV2, imagenet/val for the stand-ins; `--calib
MODEL=DIR`), skipping any image whose content is also in the evaluated folder.
A generator or a method may be listed with keyword arguments as a variant of its own row:
`zeroq[per_batch_stats=True+clamp_to_pixels=True]`, `brecq[iterations=500]` (so a list of
`brecq[iterations=N]` gives a time-quality curve). `--merge A.json B.json ...` combines runs
on disjoint parts of a folder (same models, same configurations) into one table, checking that
each configuration's quantized model is the same in every part.

Quantize on one machine, evaluate on another: `--skip-eval` writes every row's artifact to
DIR/models/ and measures everything but top-1 (on a GPU whose 64 MiB transfer cannot carry the
images), then `--evaluate DIR` (on any machine that has the images, e.g. this CPU) evaluates those
artifacts and fills in the FP32 and quantized top-1. The reference runtime gives the same
predictions on every device (challenge/quant/exact.py), so the numbers are the GPU's own.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from challenge import artifact, data, evaluate, quant  # noqa: E402
from challenge.plugins import parse_generator_args  # noqa: E402
from challenge.errors import KitError, run_cli  # noqa: E402
from challenge.models import MODEL_NAMES, check_model_name, load_fp32_model  # noqa: E402
from challenge.process import resolve_device, seed_everything  # noqa: E402
from challenge.size import compression_ratio  # noqa: E402
from benchmarks.results_table import merge, write  # noqa: E402

ASSETS = Path(__file__).resolve().parents[1].parent / "shared" / "assets"
# Calibration images for real-images: another folder than the evaluated one (the two share no image).
DEFAULT_CALIBRATION = {"resnet18": "imagenet/val", "mobilenet_v2": "imagenette10", "shufflenet_v2_x1_0": "imagenet/val"}
# model -> (weights, evaluation folder, class list or None for the ILSVRC2012 list), under ASSETS.
DEFAULT_SETUP = {
    "resnet18": ("weights/standins/resnet18-imagenette10.pth", "imagenette10", "imagenette10/wnids.txt"),
    "mobilenet_v2": ("weights/mobilenet_v2-b0353104.pth", "imagenet/val", None),
    "shufflenet_v2_x1_0": ("weights/standins/shufflenet_v2_x1_0-imagenette10.pth", "imagenette10",
                           "imagenette10/wnids.txt"),
}
REFERENCE = "real-images"


def get_args_parser() -> argparse.ArgumentParser:
    import synth

    parser = argparse.ArgumentParser(prog="python -m benchmarks.generators", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="folder for generators.json and generators.md")
    parser.add_argument("--models", default=",".join(MODEL_NAMES))
    parser.add_argument("--generators", default=",".join(synth.list_generators()))
    parser.add_argument("--schemes", default="int8,w6a6,w4a8,w4a4")
    parser.add_argument("--methods", default="rtn", help="comma-separated; NAME or NAME[KEY=VALUE+...]")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    for what in ("weights", "data", "classes", "calib"):
        parser.add_argument(f"--{what}", action="append", default=[], metavar="MODEL=PATH",
                            help=f"override a model's {what} (repeatable)")
    parser.add_argument("--gen-arg", action="append", default=[], metavar="GENERATOR.KEY=VALUE",
                        help="a generator's hyper-parameter (repeatable), e.g. zeroq.iterations=200")
    parser.add_argument("--method-arg", action="append", default=[], metavar="METHOD.KEY=VALUE",
                        help="a method's hyper-parameter (repeatable), e.g. brecq.iterations=500")
    parser.add_argument("--limit", type=int, help="evaluate only the first N images of each folder")
    parser.add_argument("--eval-batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--merge", nargs="+", metavar="JSON", help="combine the JSON of runs on disjoint image parts")
    parser.add_argument("--skip-eval", action="store_true",
                        help="no top-1: write each row's artifact to OUT/models/ for a later --evaluate")
    parser.add_argument("--evaluate", metavar="DIR", help="evaluate the artifacts of a --skip-eval run in DIR and "
                                                          "fill in its top-1 (written to --out)")
    return parser


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise KitError(f"{flag} {item!r} must look like NAME=VALUE")
        pairs[key] = value
    return pairs


def generator_kwargs(items: list[str], flag: str = "--gen-arg") -> dict[str, dict]:
    """'zeroq.iterations=200' -> {'zeroq': {'iterations': 200}} (values as Python literals);
    the same for methods ('brecq.iterations=500', flag --method-arg)."""
    by_name: dict[str, dict] = {}
    for name, value in _pairs(items, flag).items():
        owner, dot, key = name.partition(".")
        if not dot:
            raise KitError(f"{flag} {name!r} must name what it is for: NAME.KEY=VALUE")
        by_name.setdefault(owner, {}).update(parse_generator_args([f"{key}={value}"], flag))
    return by_name


def model_setup(name: str, args) -> tuple[str, Path, str | None, str]:
    weights, folder, classes = DEFAULT_SETUP[check_model_name(name)]
    weights = _pairs(args.weights, "--weights").get(name, str(ASSETS / weights))
    folder = Path(_pairs(args.data, "--data").get(name, ASSETS / folder))
    classes = _pairs(args.classes, "--classes").get(name, classes and str(ASSETS / classes))
    calibration = _pairs(args.calib, "--calib").get(name, str(ASSETS / DEFAULT_CALIBRATION[name]))
    return weights, folder, classes, calibration


def generator_variant(spec: str) -> tuple[str, dict]:
    """'zeroq[per_batch_stats=True+clamp_to_pixels=True]' -> ('zeroq', {...}); 'gdfq' -> ('gdfq', {}).
    Methods are listed the same way: 'brecq[iterations=500]'."""
    name, bracket, rest = spec.partition("[")
    if not bracket:
        return spec, {}
    if not rest.endswith("]"):
        raise KitError(f"variant {spec!r} must look like NAME[KEY=VALUE+KEY=VALUE]")
    return name, parse_generator_args([item for item in rest[:-1].split("+") if item])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def _peak_mib(device: torch.device) -> float:
    """GPU: peak allocated since the last reset. CPU: the process's peak RSS so far (never resets)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def environment(device: torch.device) -> dict:
    import torchvision

    env = {"device": str(device), "python": platform.python_version(), "torch": torch.__version__,
           "torchvision": torchvision.__version__, "platform": platform.platform(),
           "cpu_threads": torch.get_num_threads()}
    if device.type == "cuda":
        env.update(gpu=torch.cuda.get_device_name(device), cuda=torch.version.cuda)
    return env


class DecodedFolders:
    """Each (folder, class list) decoded once into uint8 tensors on the device, then reused."""

    def __init__(self, device: torch.device, limit: int | None):
        self.device, self.limit, self.cache = device, limit, {}

    def get(self, folder: Path, class_list: list[str]) -> tuple[torch.Tensor, list[int]]:
        key = (str(folder), tuple(class_list))
        if key not in self.cache:
            records = data.list_images(folder, class_list, self.limit)
            start = time.perf_counter()
            images, _ = data.decode_all(data.ImageDataset(folder, records))
            print(f"decoded {len(records)} images of {folder} in {time.perf_counter() - start:.1f} s",
                  file=sys.stderr)
            self.cache[key] = (images.to(self.device), [r.label for r in records])
        return self.cache[key]


def generate(name: str, fp32, device: torch.device, kwargs: dict, seed: int) -> tuple[list, float, float]:
    """All calibration batches of one generator (kept for every scheme), seconds, peak MiB."""
    import synth

    _reset_peak(device)
    _sync(device)
    start = time.perf_counter()
    batches = list(synth.get_generator(name)(fp32.model, num_classes=fp32.num_classes,
                                             input_shape=(3, 224, 224), seed=seed, **kwargs))
    _sync(device)
    return batches, time.perf_counter() - start, _peak_mib(device)


def calibrated(fp32, scheme_name: str, batches, device) -> tuple[torch.nn.Module | None, float]:
    """The round-to-nearest model of a scheme (None for fp32) and its calibration seconds."""
    scheme = quant.get_scheme(scheme_name)
    if not scheme.quantizes:
        return None, 0.0
    _sync(device)
    start = time.perf_counter()
    qmodel = quant.prepare(fp32.model, scheme).to(device)
    quant.calibrate(qmodel, batches)
    quant.freeze(qmodel)
    _sync(device)
    return qmodel, time.perf_counter() - start


def optimised(fp32, rtn_model, method: str, kwargs: dict, batches, device) -> tuple[torch.nn.Module, float, float]:
    """A copy of the round-to-nearest model after `method`; its seconds and peak MiB."""
    qmodel = copy.deepcopy(rtn_model) if rtn_model is not None else copy.deepcopy(fp32.model).eval()
    _reset_peak(device)
    _sync(device)
    start = time.perf_counter()
    if rtn_model is not None and method != quant.DEFAULT_METHOD:
        quant.optimise(method, fp32.model, qmodel, batches, kwargs)
    _sync(device)
    return qmodel, time.perf_counter() - start, _peak_mib(device)


def artifact_name(row: dict) -> str:
    """A file name for a row's artifact: letters, digits, '.', '_' and '-' only."""
    text = "-".join((row["model"], row["scheme"], row["generator"], row["method"]))
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text) + ".safetensors"


def save_model(fp32, qmodel, scheme_name: str, path: Path) -> dict:
    """Write the artifact (sizes come from it, as the kit and the scorer account them)."""
    artifact.save_artifact(path, qmodel, arch=fp32.name, num_classes=fp32.num_classes,
                           scheme=scheme_name, generator="benchmark")
    contents = artifact.read_artifact(path)
    return {"compression": compression_ratio(contents.fp32_bytes, contents.quantized_bytes),
            "quantized_bytes": contents.quantized_bytes, "fp32_bytes": contents.fp32_bytes,
            "artifact_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def accuracy(qmodel, images, labels, device, args, label: str) -> dict:
    _reset_peak(device)
    predictions = evaluate.predict_tensor(qmodel, images, device, args.eval_batch_size, label=label)
    return {"top1": evaluate.top1(predictions.classes, labels), "images": len(labels),
            "eval_images_per_second": predictions.images_per_second, "eval_peak_mib": _peak_mib(device),
            "eval_device": str(device), "predicted_classes": predictions.classes}


def evaluate_saved(args) -> int:
    """Top-1 of the artifacts of a --skip-eval run, on this machine (same predictions as anywhere)."""
    source = Path(args.evaluate)
    run = json.loads((source / "generators.json").read_text())
    device = resolve_device(args.device)
    folders, fp32_top1 = DecodedFolders(device, args.limit), {}
    for row in run["rows"]:
        weights, folder, classes, _ = model_setup(row["model"], args)
        if row["model"] not in fp32_top1:
            fp32 = load_fp32_model(row["model"], weights)
            images, labels = folders.get(folder, data.class_list_for(fp32.num_classes, classes))
            fp32_top1[row["model"]] = accuracy(fp32.model.to(device), images, labels, device, args,
                                               f"{row['model']} fp32")["top1"]
        qmodel, contents = artifact.load_artifact(source / "models" / row["artifact"], device=device)
        images, labels = folders.get(folder, data.class_list_for(contents.num_classes, classes))
        row.update(accuracy(qmodel, images, labels, device, args, row["artifact"]), data=str(folder),
                   fp32_top1=fp32_top1[row["model"]])
        row["gap"] = row["top1"] - row["fp32_top1"]
        print(f"{row['artifact']}: top-1 {row['top1']:.2f} (FP32 {row['fp32_top1']:.2f})", file=sys.stderr, flush=True)
        write(Path(args.out), run["environment"], run["rows"])
    return 0


def main(argv=None) -> int:
    import synth

    args = get_args_parser().parse_args(argv)
    if args.merge:
        write(Path(args.out), *merge(args.merge))
        return 0
    if args.evaluate:
        return evaluate_saved(args)
    models = [check_model_name(m) for m in args.models.split(",") if m]
    generators = [g for g in args.generators.split(",") if g]
    schemes = [quant.get_scheme(s).name for s in args.schemes.split(",") if s]
    methods = [m for m in args.methods.split(",") if m]
    for spec in generators:
        synth.get_generator(generator_variant(spec)[0])  # fail on a bad name before any heavy work
    extra = generator_kwargs(args.gen_arg)
    method_extra = generator_kwargs(args.method_arg, "--method-arg")
    for spec in methods:
        name, variant = generator_variant(spec)
        quant.check_method(name, quant.get_scheme("int8"), dict(method_extra.get(name, {}), **variant))
    device = resolve_device(args.device)
    env, rows, folders = environment(device), [], DecodedFolders(device, args.limit)
    for model_name in models:
        weights, folder, classes, calibration = model_setup(model_name, args)
        fp32 = load_fp32_model(model_name, weights)
        fp32.model.to(device)
        if not args.skip_eval:
            images, labels = folders.get(folder, data.class_list_for(fp32.num_classes, classes))
            fp32_top1 = accuracy(fp32.model, images, labels, device, args, f"{model_name} fp32")["top1"]
        for spec in generators:
            generator, variant = generator_variant(spec)
            kwargs = dict(extra.get(generator, {}), **variant)
            if generator == REFERENCE:
                kwargs.setdefault("root", calibration)
                kwargs.setdefault("exclude_dir", str(folder))
            seed_everything(args.seed)
            batches, seconds, peak = generate(generator, fp32, device, kwargs, args.seed)
            for scheme in schemes:
                rtn_model, calibration_seconds = calibrated(fp32, scheme, batches, device)
                for method_spec in methods:
                    method, method_variant = generator_variant(method_spec)
                    method_kwargs = dict(method_extra.get(method, {}), **method_variant)
                    seed_everything(args.seed)
                    qmodel, method_seconds, method_peak = optimised(fp32, rtn_model, method, method_kwargs,
                                                                    batches, device)
                    row = {"model": model_name, "generator": spec, "scheme": scheme, "method": method_spec,
                           "reference": not synth.is_allowed_in_challenge(generator),
                           "calibration_samples": sum(len(b) for b in batches), "generator_kwargs": kwargs,
                           "method_kwargs": method_kwargs, "weights": weights, "data": str(folder),
                           "generation_seconds": seconds, "generation_peak_mib": peak,
                           "calibration_seconds": calibration_seconds, "reconstruction_seconds": method_seconds,
                           "method_peak_mib": method_peak}
                    row["artifact"] = artifact_name(row)
                    models_dir = Path(args.out) / "models"
                    models_dir.mkdir(parents=True, exist_ok=True)
                    row.update(save_model(fp32, qmodel, scheme, models_dir / row["artifact"]))
                    if not args.skip_eval:
                        (models_dir / row["artifact"]).unlink()  # measured here; only --skip-eval keeps them
                        row.update(accuracy(qmodel, images, labels, device, args, scheme), fp32_top1=fp32_top1)
                        row["gap"] = row["top1"] - fp32_top1
                    rows.append(row)
                    write(Path(args.out), env, rows)
                    measured = f"top-1 {row['top1']:.2f} (FP32 {fp32_top1:.2f})" if "top1" in row else "saved"
                    print(f"{model_name} {scheme} {generator} {method_spec}: {measured}, generation {seconds:.1f} s, "
                          f"method {method_seconds:.1f} s", file=sys.stderr, flush=True)
                    del qmodel
            del batches
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
