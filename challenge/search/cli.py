"""`python -m challenge.search`: per-layer bit widths for a target compression, from synthetic data.

    python -m challenge.search --model mobilenet_v2 --weights W.pth --generator zeroq --scheme w4a8 \
        --target-compression 86.72 --out mixed.toml [--eval-data DIR [--classes FILE]]

Writes mixed.toml (for main.py --layer-config), mixed.frontier.md and mixed.frontier.png.
Progress and logs go to stderr; a mistake is one line `error: ...` and exit code 2.
`main(argv, get_generator)` is handed the generator lookup by its entry point (__main__.py):
the kit's modules do not import synth/.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from typing import Callable

from .. import generation
from ..errors import KitError
from ..image_cache import synthetic_reuse_folder
from ..models import MODEL_NAMES, check_model_name, load_fp32_model
from ..plan import GenerationPlan
from ..plugins import parse_generator_args
from ..process import log, resolve_device, seed_everything
from .pipeline import DEFAULT_SAMPLES, DEFAULT_WEIGHT_BITS, plan, search
from .proxies import DEFAULT_PROXY, list_proxies


def _numbers(text: str, option: str, kind=float) -> list:
    try:
        return [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise KitError(f"{option} {text!r} must be comma-separated numbers, e.g. {option} 2,3,4,8") from None


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m challenge.search", allow_abbrev=False,
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help=f"one of {', '.join(MODEL_NAMES)}")
    parser.add_argument("--weights", help="local FP32 state_dict; default: torchvision's download")
    parser.add_argument("--weights-dir", help="folder holding the model's checkpoint (as main.py)")
    parser.add_argument("--generator", default="gaussian", help="registered name or path/to/file.py:function")
    parser.add_argument("--gen-arg", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--num-samples", type=int, help="samples the generator makes (default: the generator's)")
    parser.add_argument("--batch-size", type=int, help="generator batch size (default: the generator's)")
    parser.add_argument("--scheme", default="w4a8", help="the scheme whose quantizers the widths are chosen for")
    parser.add_argument("--target-compression", type=float, required=True, metavar="PCT",
                        help="compression %% the chosen config must reach, as the scorer counts it")
    parser.add_argument("--out", required=True, help="the layer config to write (TOML); the frontier goes beside it")
    parser.add_argument("--weight-bits", default=",".join(map(str, DEFAULT_WEIGHT_BITS)), help="candidate widths")
    parser.add_argument("--act-bits", default="", help="candidate activation widths (default: the scheme's)")
    parser.add_argument("--fix", action="append", default=[], metavar="PATTERN",
                        help="layers (shell pattern) that keep the scheme's widths (repeatable)")
    parser.add_argument("--proxy", default=DEFAULT_PROXY, help=f"sensitivity measure: {', '.join(list_proxies())}")
    parser.add_argument("--proxy-iterations", type=int,
                        help="AdaRound steps per layer and width of a reconstructing proxy (adaround-kl)")
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES, help="synthetic samples for sensitivities")
    parser.add_argument("--sensitivities-from", metavar="JSON",
                        help="reuse the .sensitivities.json of an earlier search (same model, scheme, data)")
    parser.add_argument("--sweep", help="compressions %% for the frontier table (default: every whole percent)")
    parser.add_argument("--eval-data", help="labelled ImageFolder tree: measure top-1 of a few frontier points")
    parser.add_argument("--classes", help="wnid list for checkpoints with that many classes (as main.py)")
    parser.add_argument("--eval-points", type=int, default=5, help="how many frontier points to measure")
    parser.add_argument("--eval-at", help="measure these targets %% instead (added to the sweep)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N images")
    parser.add_argument("--method", default="rtn", help="method for the measured points (as main.py --method)")
    parser.add_argument("--method-arg", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, help="image decoding processes")
    parser.add_argument("--eval-batch-size", type=int, default=64)
    parser.add_argument("--reuse-synthetic", action="store_true",
                        help="keep the synthetic images and read them back when asked the same again (as main.py)")
    parser.add_argument("--cache-dir", help="where --reuse-synthetic keeps them (as main.py's --cache-dir)")
    return parser


def main(argv, get_generator: Callable) -> int:
    """`get_generator(spec)`: the generator of a registered name or path/to/file.py:function."""
    from .. import quant
    from .pipeline import describe
    from .realdata import load_images, measure_points, pick_points
    from .report import prediction_summary, write_all
    from .sensitivity import load_sensitivities

    args = get_args_parser().parse_args(argv)
    args.generator_kwargs = parse_generator_args(args.gen_arg)
    args.method_kwargs = parse_generator_args(args.method_arg, "--method-arg")
    for name in ("num_samples", "batch_size", "limit", "samples", "eval_batch_size"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise KitError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    check_model_name(args.model)
    scheme = quant.get_scheme(args.scheme)
    if args.cache_dir and not args.reuse_synthetic:
        raise KitError("--cache-dir is where --reuse-synthetic keeps the synthetic images; give both, or neither")
    reuse_in = synthetic_reuse_folder(args.reuse_synthetic, args.cache_dir)
    gen_plan = GenerationPlan(args.generator, args.generator_kwargs, args.num_samples, args.batch_size, args.seed,
                              reuse_in)
    generator = get_generator(args.generator)
    generation.check(generator, gen_plan)
    if args.eval_data:
        quant.check_method(args.method, scheme, args.method_kwargs)
    sweep = _numbers(args.sweep, "--sweep") if args.sweep else None
    eval_at = _numbers(args.eval_at, "--eval-at") if args.eval_at else None
    if sweep is not None or eval_at:
        sweep = sorted(set(sweep or []) | set(eval_at or []))
    seed_everything(args.seed)
    device = resolve_device(args.device)
    fp32 = load_fp32_model(args.model, args.weights, args.weights_dir)
    space = plan(args.model, fp32.num_classes, scheme, args.target_compression,
                 weight_bits=_numbers(args.weight_bits, "--weight-bits", int),
                 act_bits=_numbers(args.act_bits, "--act-bits", int), fix=args.fix, proxy=args.proxy,
                 samples=args.samples, proxy_iterations=args.proxy_iterations)
    about = describe(space, generation.facts(gen_plan))
    known = None
    if args.sensitivities_from:
        known = load_sensitivities(args.sensitivities_from, about, space.searched, space.weight_bits,
                                   space.act_searched, space.act_bits)
    images = labels = None
    if args.eval_data:  # decoded before the search, so a bad folder fails before the long part
        images, labels = load_images(args.eval_data, args.classes, fp32.num_classes, args.limit, args.workers)
    log(f"{args.model}: searching {len(space.searched)} layers x widths {space.weight_bits} for "
        f">= {space.target}% compression; scheme {scheme.name}, generator {args.generator}, device {device}")
    fp32.model.to(device)
    batches = generation.calibration_batches(generator, gen_plan, fp32, device)
    if images is not None or known is not None:
        batches = list(batches)  # the measured points calibrate on them all, as main.py does
    result = search(space, fp32.model, batches, sweep, known)
    command = "python -m challenge.search " + shlex.join(sys.argv[1:] if argv is None else argv)
    paths = write_all(args.out, result, command, about)  # written now: measuring real images takes a while
    chosen = result.chosen
    log(f"{args.model}: chose {chosen.quantized_bytes} bytes: {prediction_summary(result)}; sensitivities "
        f"{result.seconds['sensitivities']:.1f} s, solve {result.seconds['solve']:.3f} s, prediction "
        f"{result.seconds['predict']:.1f} s; wrote {', '.join(map(str, paths))}")
    if images is not None:
        points = eval_at or pick_points([r.target for r in result.sweep], space.target, args.eval_points)
        result.measured, result.fp32_top1 = measure_points(
            result, fp32.model, batches, images, labels, points, device=device, method=args.method,
            method_kwargs=args.method_kwargs, batch_size=args.eval_batch_size)
        write_all(args.out, result, command, about)
        log(f"{args.model}: measured top-1 of {len(result.measured)} points on {len(labels)} real images "
            f"(FP32 {result.fp32_top1:.2f}%), added to {paths[1]} and {paths[2]}")
    return 0
