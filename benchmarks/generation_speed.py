"""Generator speed, and artifacts from the generated images for a quality check elsewhere.

    python -m benchmarks.generation_speed --out DIR [--models mobilenet_v2,...] [--generators genie,zeroq,gdfq]
        [--precisions auto,fp32] [--gen-arg genie.iterations=50] [--schemes int8,w4a8] [--save-models mobilenet_v2]
        [--code OLD_CHECKOUT] [--weights-dir W]

For each model and generator (and each `precision`, where the generator takes one) the images
are generated at the generator's defaults (or the --gen-arg values), timed from the first call
to the last image on the device, and written as one row of DIR/generation_speed.json and .md:
seconds, images, steps a batch, seconds a step. With --save-models, each model of that list is
also calibrated (round to nearest) on those images for every --schemes entry and saved to
DIR/models/, for `python -m benchmarks.evaluate_artifacts` on a machine that has the images.
`--code DIR` runs another checkout's generators (e.g. the code before a change, unpacked with
`git archive COMMIT | tar -x -C DIR`): the before/after of a speed change, same machine, same
script; `precision` is then not passed (the old code has none).
"""
from __future__ import annotations

import argparse
import inspect
import json
import platform
import sys
import time
from pathlib import Path


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generation_speed", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--models", default="mobilenet_v2")
    parser.add_argument("--generators", default="genie,zeroq,gdfq")
    parser.add_argument("--precisions", default="auto", help="values of the generators' `precision` argument")
    parser.add_argument("--gen-arg", action="append", default=[], metavar="GENERATOR.KEY=VALUE")
    parser.add_argument("--schemes", default="int8,w4a8")
    parser.add_argument("--save-models", default="", help="models whose round-to-nearest artifacts are saved")
    parser.add_argument("--weights-dir", help="folder of checkpoints (as main.py); default: torchvision's download")
    parser.add_argument("--code", help="another checkout whose generators to time")
    parser.add_argument("--label", default="", help="a name for this run's rows (e.g. before, after)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv=None) -> int:
    args = get_args_parser().parse_args(argv)
    root = Path(args.code).resolve() if args.code else Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    import torch

    import synth
    from challenge import artifact, quant
    from challenge.cli import parse_generator_args
    from challenge.models import load_fp32_model

    device = torch.device(args.device)
    per_generator: dict[str, dict] = {}
    for pair in args.gen_arg:  # GENERATOR.KEY=VALUE
        generator, _, rest = pair.partition(".")
        per_generator.setdefault(generator, {}).update(parse_generator_args([rest]))
    out = Path(args.out)
    (out / "models").mkdir(parents=True, exist_ok=True)
    rows, saved = [], set(filter(None, args.save_models.split(",")))

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for model_name in args.models.split(","):
        weights_dir = Path(args.weights_dir) if args.weights_dir else None
        fp32 = load_fp32_model(model_name, None, weights_dir)
        fp32.model.to(device)
        for generator_name in args.generators.split(","):
            generator = synth.get_generator(generator_name)
            params = inspect.signature(generator).parameters
            precisions = args.precisions.split(",") if "precision" in params else ["-"]
            for precision in precisions:
                kwargs = dict(per_generator.get(generator_name, {}))
                if precision != "-":
                    kwargs["precision"] = precision
                torch.manual_seed(args.seed)
                sync()
                started = time.perf_counter()
                batches = list(generator(fp32.model, num_classes=fp32.num_classes, input_shape=(3, 224, 224),
                                         seed=args.seed, **kwargs))
                sync()
                seconds = time.perf_counter() - started
                steps = kwargs.get("iterations", params["iterations"].default if "iterations" in params else None)
                row = {"label": args.label, "model": model_name, "generator": generator_name,
                       "precision": precision, "gen_args": {k: v for k, v in kwargs.items() if k != "precision"},
                       "images": sum(len(b) for b in batches), "batches": len(batches), "steps": steps,
                       "seconds": round(seconds, 2),
                       "peak_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 1) if device.type == "cuda" else None}
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
                if model_name in saved:
                    for scheme_name in args.schemes.split(","):
                        scheme = quant.get_scheme(scheme_name)
                        qmodel = quant.prepare(fp32.model, scheme).to(device)
                        quant.calibrate(qmodel, batches)
                        quant.freeze(qmodel)
                        path = out / "models" / f"{model_name}-{generator_name}-{precision}-{scheme_name}{args.label and '-' + args.label}.safetensors"
                        artifact.save_artifact(path, qmodel, arch=model_name, num_classes=fp32.num_classes,
                                               scheme=scheme.name, generator=generator_name, method="rtn", method_args={})
                del batches
        _write(out, args, rows, device)
    return 0


def _write(out: Path, args, rows, device) -> None:
    import torch

    facts = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor(),
             "torch": torch.__version__, "command": "python -m benchmarks.generation_speed " + " ".join(sys.argv[1:])}
    name = f"generation_speed{args.label and '-' + args.label}"
    (out / f"{name}.json").write_text(json.dumps({"facts": facts, "rows": rows}, indent=1))
    lines = [f"{facts['device']}, torch {facts['torch']}: `{facts['command']}`", "",
             "| run | model | generator | precision | images | steps a batch | seconds | s a step | peak GiB |",
             "|---|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        per_step = r["seconds"] / (r["steps"] * r["batches"]) if r["steps"] else None
        lines.append(f"| {r['label']} | {r['model']} | {r['generator']} | {r['precision']} | {r['images']} | {r['steps']} | "
                     f"{r['seconds']:.1f} | {per_step and f'{per_step:.4f}'} | {r['peak_gib']} |")
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
