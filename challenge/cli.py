"""Command-line options of main.py (and, through it, run.bash): one parser, importable and tested,
and the plans it makes (plan.py), one per model: the only place that reads the options. It does
not load torch (nor do the modules it imports at the top), so that main.py answers --help and a
mistake in the options at once, not after seconds of imports.

    plans = model_plans(parse_args(argv))
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from .errors import KitError
from .names import DEFAULT_METHOD, MODEL_NAMES, check_model_name
from .plan import GenerationPlan, ModelPlan, SearchPlan
from .plugins import parse_generator_args
from .runtimes import DEFAULT_RUNTIME, list_runtimes


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="main.py",
        allow_abbrev=False,  # run.bash refuses --model and --save-model; '--mod' must not slip past
        description="Quantize a torchvision model (or several, in turn) without real data, evaluate it, "
                    "and write its output.txt section to stdout (progress and logs go to stderr).")
    parser.add_argument("--model", required=True,
                        help=f"one of {', '.join(MODEL_NAMES)}; or several, comma-separated, run in turn in "
                             "this one process (as run.bash does: the interpreter and the GPU start once)")
    parser.add_argument("--data", default=os.environ.get("IMAGENET_VAL"),
                        help="ImageFolder tree DIR/<wnid>/<image> to evaluate (default: $IMAGENET_VAL)")
    parser.add_argument("--weights", help="local FP32 state_dict (.pth/.pt/.safetensors); default: torchvision's download")
    parser.add_argument("--weights-dir", help="folder holding <model>.pth, torchvision's file name, or <model>-*.pth")
    parser.add_argument("--classes", help="wnid list (one per line) for checkpoints with that many classes; "
                                          "1000-class checkpoints default to the ILSVRC2012 list")
    parser.add_argument("--generator", default="gaussian", help="registered name or path/to/file.py:function")
    parser.add_argument("--gen-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="generator hyper-parameter (repeatable), e.g. --gen-arg iterations=500")
    parser.add_argument("--scheme", default="int8", help="quantization scheme (see README); default int8")
    parser.add_argument("--layer-config", help="TOML file of per-layer bit overrides")
    parser.add_argument("--method", help="optimisation after calibration: rtn (default), bias-correction, gptq, adaround, "
                                         "brecq, or path/to/file.py:function")
    parser.add_argument("--method-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="method hyper-parameter (repeatable), e.g. --method-arg iterations=500")
    parser.add_argument("--target-compression", type=float, metavar="PCT",
                        help="choose per-layer weight widths for at least PCT%% compression (challenge.search) "
                             "and use them; the layer config is saved beside the artifact")
    parser.add_argument("--search-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="search setting (repeatable): samples, weight_bits, act_bits, fix, proxy, sweep")
    parser.add_argument("--num-samples", type=int, help="calibration samples (default: the generator's)")
    parser.add_argument("--batch-size", type=int, help="calibration batch size (default: the generator's)")
    parser.add_argument("--eval-batch-size", type=int,
                        help="images per evaluation batch (default: 256 on a GPU, 64 on the CPU; predictions "
                             "do not depend on it)")
    parser.add_argument("--workers", type=int, help="image decoding processes (default: one per core, up to 32)")
    parser.add_argument("--cache-dir", help="decoded-image cache folder (default: $DFQ_CACHE_DIR, else "
                                            "$XDG_CACHE_HOME/dfq-kit, else ~/.cache/dfq-kit); 150,528 bytes per image")
    parser.add_argument("--no-cache", action="store_true", help="decode the images with PIL on every run, store nothing")
    parser.add_argument("--reuse-synthetic", action="store_true",
                        help="keep the synthetic calibration images in the cache folder and reuse them when the same "
                             "generator, arguments, seed, weights and device ask again (the same images, read back "
                             "in seconds; 588 MiB per 1,024 images)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-model", help="write the quantized model artifact (safetensors) to this path")
    parser.add_argument("--save-dir", help="write the artifact to DIR/<model>.safetensors (used by run.bash)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N images in canonical order")
    parser.add_argument("--runtime", default=DEFAULT_RUNTIME, choices=list_runtimes(),
                        help="evaluate with the kit's exact reference runtime (default) or with ONNX Runtime's "
                             "integer kernels on the CPU (the model exported to ONNX)")
    parser.add_argument("--export-onnx", metavar="PATH", help="also write the quantized model as an ONNX QDQ graph")
    parser.add_argument("--check-processes", type=int, metavar="N",
                        help="check the options, weights, images and cache folder for N torchrun processes, then "
                             "exit (run.bash --nproc-per-node N does this before it launches torchrun)")
    parser.add_argument("--list-layers", action="store_true", help="print the quantizable layer names to stderr and exit")
    return parser


def parse_args(argv=None) -> argparse.Namespace:
    args = get_args_parser().parse_args(argv)
    for name in ("num_samples", "batch_size", "eval_batch_size", "limit", "check_processes"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise KitError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.no_cache and args.cache_dir:
        raise KitError("give --cache-dir DIR or --no-cache, not both")
    if args.no_cache and args.reuse_synthetic:
        raise KitError("--reuse-synthetic keeps the images in the cache folder, which --no-cache turns off; "
                       "give one of them")
    if args.workers is not None and args.workers < 0:
        raise KitError(f"--workers must be 0 or more, got {args.workers}")
    if args.save_model and args.save_dir:
        raise KitError("give --save-model or --save-dir, not both")
    if args.export_onnx or args.runtime == "onnxruntime":
        from .export import check_output_path, require_packages

        require_packages()  # before minutes of calibration, not after
        if args.export_onnx:
            check_output_path(args.export_onnx)
    if any(c in args.generator for c in "\t\n="):
        raise KitError(f"--generator {args.generator!r}: the name goes into output.txt, so it cannot hold '=', "
                       "a tab or a newline; rename the file")
    args.generator_kwargs = parse_generator_args(args.gen_arg)
    if args.method is None and args.method_arg:
        raise KitError("--method-arg needs --method NAME")
    if args.method is not None and any(c in args.method for c in "\t\n"):
        raise KitError(f"--method {args.method!r} cannot hold a tab or a newline; rename the file")
    args.method_kwargs = parse_generator_args(args.method_arg, "--method-arg")
    if args.target_compression is None and args.search_arg:
        raise KitError("--search-arg needs --target-compression PCT")
    if args.target_compression is not None and args.layer_config:
        raise KitError("give --layer-config or --target-compression, not both: the search writes the layer config")
    args.search_kwargs = parse_generator_args(args.search_arg, "--search-arg")
    return args


def model_plans(args: argparse.Namespace, argv=None) -> list[ModelPlan]:
    """One plan per --model name, in the order given; every name is checked first, so a typo in
    the last does not cost the first model's run. `argv` (default sys.argv[1:]) is recorded as the
    command in the search's report."""
    names = [name.strip() for name in args.model.split(",")]
    for name in names:
        check_model_name(name)
    if len(set(names)) != len(names):
        raise KitError(f"--model {args.model} names a model twice; output.txt holds one section per model")
    if len(names) > 1:
        for option, value in (("--save-model", args.save_model), ("--export-onnx", args.export_onnx),
                              ("--weights", args.weights)):
            if value:
                raise KitError(f"{option} names one file but --model names {len(names)} models; "
                               "use --weights-dir DIR and --save-dir DIR (and python -m challenge.export "
                               "for ONNX)")
    reuse_in = None
    if args.reuse_synthetic:
        from .image_cache import synthetic_reuse_folder  # loads torch: only when asked

        reuse_in = synthetic_reuse_folder(args.reuse_synthetic, args.cache_dir)
    generation = GenerationPlan(args.generator, args.generator_kwargs, args.num_samples, args.batch_size, args.seed,
                                reuse_in)
    search = SearchPlan(args.target_compression, args.search_kwargs) if args.target_compression is not None else None
    command = "python main.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    return [ModelPlan(
        model=name, data=args.data, weights=args.weights, weights_dir=args.weights_dir, classes=args.classes,
        scheme=args.scheme, generation=generation, method=args.method or DEFAULT_METHOD,
        method_kwargs=args.method_kwargs, layer_config=args.layer_config, search=search, device=args.device,
        seed=args.seed, eval_batch_size=args.eval_batch_size, workers=args.workers, limit=args.limit,
        cache_dir=args.cache_dir, no_cache=args.no_cache, runtime=args.runtime,
        artifact=(Path(args.save_model) if args.save_model else
                  Path(args.save_dir) / f"{name}.safetensors" if args.save_dir else None),
        export_onnx=args.export_onnx, check_processes=args.check_processes, list_layers=args.list_layers,
        command=command) for name in names]
