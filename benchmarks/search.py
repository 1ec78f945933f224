"""Which sensitivity proxy chooses better: searched configs measured on real labelled images.

    python -m benchmarks.search --model mobilenet_v2 --out runs/search [--proxies kl,mse]
        [--targets 80,86.72] [--widths 2-8,3-8] [--frontier 80,84,86.72,88,90] [--generator gaussian]
        [--gen-arg K=V] [--num-samples N] [--samples 32] [--limit N] [--device auto]

Every proxy reads the same perturbed outputs, so one measurement serves them all; each proxy then
chooses a config for every target, and each config is calibrated (once for all, as
challenge/search/realdata.py) and evaluated under the exact runtime. Reference rows: the uniform
scheme, and for MobileNetV2 the hand-written config of the README (depthwise layers at 8 bits).
`--widths` lists candidate sets (a set's sensitivities are a subset of the measured 2-8). With
`--frontier`, the first proxy's frontier (TOML, table, PNG, as challenge.search writes them) gets
the top-1 of those points. The generated batches are kept in DIR/batches.pt and reused by a rerun
with the same DIR (ZeroQ on 2 CPU cores takes most of the time). Writes DIR/search.json and
DIR/search.md. Weights and images default to ../shared/assets as in benchmarks/generators.py.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from challenge import evaluate, quant  # noqa: E402
from challenge.plugins import parse_generator_args  # noqa: E402
from challenge.errors import run_cli  # noqa: E402
from challenge.models import load_fp32_model  # noqa: E402
from challenge.quant.fold import fold_batchnorm  # noqa: E402
from challenge.generation import calibration_batches  # noqa: E402
from challenge.plan import GenerationPlan  # noqa: E402
from challenge.process import log, resolve_device, seed_everything  # noqa: E402
from challenge.search import layer_rules, plan, search  # noqa: E402
from challenge.search.pipeline import _first_samples, default_sweep, describe  # noqa: E402
from challenge.search.realdata import calibrated, load_images, with_rules  # noqa: E402
from challenge.search.report import write_all  # noqa: E402
from challenge.search.sensitivity import measure  # noqa: E402
from benchmarks.generators import ASSETS, DEFAULT_SETUP  # noqa: E402
import synth  # noqa: E402

# The README's hand-written MobileNetV2 config: the depthwise layers at 8 bits under w4a8.
HAND_CONFIGS = {"mobilenet_v2": [{"match": "features.1.conv.0.0", "weight_bits": 8},
                                 {"match": "features.*.conv.1.0", "weight_bits": 8}]}


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.search", description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--scheme", default="w4a8")
    parser.add_argument("--proxies", default="kl,mse")
    parser.add_argument("--targets", default="80,86.72")
    parser.add_argument("--widths", default="2-8", help="candidate width sets, e.g. 2-8,3-8")
    parser.add_argument("--frontier", help="targets %% whose top-1 is added to the first proxy's frontier files")
    parser.add_argument("--generator", default="gaussian")
    parser.add_argument("--gen-arg", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--num-samples", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--samples", type=int, default=32, help="synthetic samples for the sensitivities")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--seed", type=int, default=0)
    return parser


def table(rows: list[dict], fp32_top1: float, header: str) -> str:
    lines = [header, "", f"FP32 top-1 on these images: {fp32_top1:.2f}%", "",
             "| config | proxy | target % | compression % | top-1 % | gap | predicted sensitivity |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['config']} | {r.get('proxy', '')} | {r.get('target', '')} | {r['compression']:.2f} | "
                     f"{r['top1']:.2f} | {r['top1'] - fp32_top1:+.2f} | {r.get('sensitivity', float('nan')):.4g} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = get_args_parser().parse_args(argv)
    args.generator_kwargs = parse_generator_args(args.gen_arg)
    seed_everything(args.seed)
    device = resolve_device(args.device)
    weights, folder, classes = DEFAULT_SETUP[args.model]
    fp32 = load_fp32_model(args.model, ASSETS / weights)
    scheme = quant.get_scheme(args.scheme)
    proxies = args.proxies.split(",")
    targets = [float(t) for t in args.targets.split(",")]
    spaces = {p: plan(args.model, fp32.num_classes, scheme, targets[0], proxy=p, samples=args.samples) for p in proxies}
    images, labels = load_images(ASSETS / folder, ASSETS / classes if classes else None, fp32.num_classes,
                                 args.limit, None)
    fp32.model.to(device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    cache = out / "batches.pt"
    if cache.is_file():
        batches = [b.to(device) for b in torch.load(cache, weights_only=True)]
    else:
        plan = GenerationPlan(args.generator, args.generator_kwargs, args.num_samples, args.batch_size, args.seed)
        batches = list(calibration_batches(synth.get_generator(args.generator), plan, fp32, device))
        torch.save([b.cpu() for b in batches], cache)
    generation = time.perf_counter() - start
    space = spaces[proxies[0]]
    start = time.perf_counter()
    samples = [b.to(device) for b in _first_samples(batches, args.samples)]
    measured = measure(fold_batchnorm(copy.deepcopy(fp32.model).eval()), space.specs, space.searched, samples,
                       weight_bits=space.weight_bits, proxies=tuple(proxies))
    seconds = time.perf_counter() - start
    base = calibrated(fp32.model, scheme, batches)

    seen: dict[str, float] = {}

    def top1(rules) -> float:
        key = json.dumps(rules, sort_keys=True)  # the same config chosen twice is evaluated once
        if key not in seen:
            qmodel = with_rules(base, fp32.model, scheme, rules, batches)
            seen[key] = evaluate.top1(evaluate.predict_tensor(qmodel, images, device, 64).classes, labels.tolist())
        return seen[key]

    fp32_top1 = evaluate.top1(evaluate.predict_tensor(fp32.model, images, device, 64).classes, labels.tolist())
    uniform = {n: scheme.weight_bits for n in space.searched}
    rows = [{"config": f"uniform {scheme.name}", "compression": space.sizes.compression(uniform), "top1": top1([])}]
    if args.model in HAND_CONFIGS and scheme.name == "w4a8":
        specs = quant.layer_config.resolve_layer_specs(list(space.specs), scheme, HAND_CONFIGS[args.model])
        hand = {n: specs[n].weight_bits for n in space.searched}
        rows.append({"config": "README hand config", "compression": space.sizes.compression(hand),
                     "top1": top1(HAND_CONFIGS[args.model])})
        targets = sorted(set(targets) | {round(space.sizes.compression(hand), 2)})
    for widths in args.widths.split(","):
        low, _, high = widths.partition("-")
        for proxy in proxies:
            for target in targets:
                target_space = plan(args.model, fp32.num_classes, scheme, target, proxy=proxy, samples=args.samples,
                                    weight_bits=range(int(low), int(high or low) + 1))
                result = search(target_space, fp32.model, batches, [target], measured[proxy])
                rows.append({"config": f"searched, widths {widths}", "proxy": proxy, "target": target,
                             "compression": result.chosen.compression, "sensitivity": result.chosen.sensitivity,
                             "top1": top1(layer_rules(target_space, result.chosen)),
                             "weight_bits": result.chosen.weight_bits})
                log(f"{proxy}, widths {widths}, at {target}%: top-1 {rows[-1]['top1']:.2f}%")
    if args.frontier:
        points = [float(t) for t in args.frontier.split(",")]
        target_space = plan(args.model, fp32.num_classes, scheme, targets[-1], proxy=proxies[0], samples=args.samples)
        result = search(target_space, fp32.model, batches, sorted(set(default_sweep(target_space)) | set(points)),
                        measured[proxies[0]])
        result.seconds["sensitivities"] = seconds
        result.fp32_top1 = fp32_top1
        rows_at = {r.target: r for r in result.sweep}
        result.measured = {t: top1(layer_rules(target_space, rows_at[t])) for t in points if t in rows_at}
        write_all(out / f"{args.model}.toml", result, "python -m benchmarks.search " + " ".join(sys.argv[1:]),
                  describe(target_space, {"generator": args.generator, "gen_args": repr(sorted(args.generator_kwargs.items()))}))
    header = (f"{args.model}, scheme {scheme.name}, rtn; sensitivities on {args.samples} samples of "
              f"{args.generator} ({seconds:.1f} s for {len(proxies)} proxies, generation {generation:.1f} s); "
              f"calibration on all {sum(len(b) for b in batches)} generated samples; {len(labels)} images, {device}")
    (out / "search.json").write_text(json.dumps({"header": header, "fp32_top1": fp32_top1, "rows": rows,
                                                 "args": vars(args)}, indent=1, default=str) + "\n")
    (out / "search.md").write_text(table(rows, fp32_top1, header))
    log(table(rows, fp32_top1, header))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
