"""One model, end to end: load, generate calibration data, quantize, evaluate, size, report."""
from __future__ import annotations

import inspect
import random
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from . import artifact, data, distributed, evaluate, image_cache, output_format, quant, runtimes
from .errors import KitError
from .models import check_model_name, load_fp32_model
from .size import compression_ratio


def log(message: str) -> None:
    if distributed.current().is_main:  # under torchrun, one copy of each line
        print(message, file=sys.stderr, flush=True)


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise KitError("--device cuda was asked for but no CUDA GPU is available; use --device cpu or auto")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # Same command, same output.txt: no autotuned kernel choice between runs.
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def calibration_batches(args, fp32, device):
    import synth

    generator = synth.get_generator(args.generator)
    if not synth.is_allowed_in_challenge(args.generator):
        log(f"note: generator {args.generator!r} uses real images: a reference, not allowed in the challenge")
    kwargs = dict(args.generator_kwargs)
    if args.num_samples is not None:
        kwargs["num_samples"] = args.num_samples
    if args.batch_size is not None:
        kwargs["batch_size"] = args.batch_size
    try:
        return generator(fp32.model.to(device), num_classes=fp32.num_classes, input_shape=(3, 224, 224),
                         seed=args.seed, **kwargs)
    except TypeError as error:  # a wrong --gen-arg name
        raise KitError(f"generator {args.generator!r} rejected its arguments: {error}") from None


def quantize(args, fp32, scheme, layer_rules, method: str, device, batches=None) -> torch.nn.Module:
    """Generate (unless `batches` are given), prepare, calibrate, freeze (round to nearest),
    optimise: the quantized model."""
    if batches is None:
        batches = calibration_batches(args, fp32, device)
    if not scheme.quantizes:
        return quant.quantize_model(fp32.model, scheme, batches, layer_rules).to(device)
    start = time.perf_counter()
    if quant.method_needs_data(method):
        batches = list(batches)  # generated once: calibration and the method both read them
        log(f"{args.model}: generated {sum(len(b) for b in batches)} calibration images in "
            f"{time.perf_counter() - start:.1f} s")
    qmodel = quant.prepare(fp32.model, scheme, layer_rules).to(device)
    quant.calibrate(qmodel, batches)
    quant.freeze(qmodel)
    if method != quant.DEFAULT_METHOD:
        start = time.perf_counter()
        quant.optimise(method, fp32.model, qmodel, batches, args.method_kwargs)
        log(f"{args.model}: method {method} took {time.perf_counter() - start:.1f} s")
    return qmodel


def artifact_path(args) -> Path | None:
    if args.save_model:
        return Path(args.save_model)
    if args.save_dir:
        return Path(args.save_dir) / f"{args.model}.safetensors"
    return None


def _number_list(value, key: str) -> list:
    """A --search-arg list of numbers; a lone number is a list of one (`weight_bits=4`)."""
    values = [value] if isinstance(value, (int, float)) else value
    if not isinstance(values, (list, tuple, range)) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise KitError(f"--search-arg {key}= takes a list of numbers, e.g. {key}=[4,6,8]; got {value!r}")
    return list(values)


def search_space(args, fp32, scheme):
    """The search's plan (challenge/search), checked before any data is generated."""
    from . import search

    kwargs = dict(args.search_kwargs)
    sweep = kwargs.pop("sweep", None)
    if isinstance(kwargs.get("fix"), str):
        kwargs["fix"] = [kwargs["fix"]]
    for key in ("weight_bits", "act_bits"):
        if key in kwargs:
            kwargs[key] = _number_list(kwargs[key], key)
    if sweep is not None:
        args.search_kwargs["sweep"] = sweep = _number_list(sweep, "sweep")
        if not all(0 <= v < 100 for v in sweep):
            raise KitError(f"--search-arg sweep= points must be percentages from 0 to below 100; got {sweep!r}")
    if "samples" in kwargs and (not isinstance(kwargs["samples"], int) or isinstance(kwargs["samples"], bool)):
        raise KitError(f"--search-arg samples= takes a whole number; got {kwargs['samples']!r}")
    try:
        inspect.signature(search.plan).bind(None, None, None, None, **kwargs)
    except TypeError:
        raise KitError(f"--search-arg takes samples, weight_bits, act_bits, fix, proxy or sweep; got "
                       f"{', '.join(sorted(args.search_kwargs))}") from None
    return search.plan(args.model, fp32.num_classes, scheme, args.target_compression, **kwargs)


def search_output_path(args) -> Path:
    """Beside the artifact (models/resnet18.safetensors -> models/resnet18.layers.toml), else
    <model>.layers.toml in the current folder."""
    target = artifact_path(args)
    return (target.with_name(f"{target.stem}.layers.toml") if target else Path(f"{args.model}.layers.toml"))


def searched_layer_rules(args, space, fp32, batches) -> list[dict]:
    from .search import search
    from .search.cli import generation_facts
    from .search.pipeline import describe
    from .search.report import write_all

    sweep = args.search_kwargs.get("sweep")
    result = search(space, fp32.model, batches, list(sweep) if sweep else None)
    paths = write_all(search_output_path(args), result, "python main.py " + shlex.join(sys.argv[1:]),
                      describe(space, generation_facts(args)))
    log(f"{args.model}: searched widths for >= {space.target}%: predicted {result.chosen.compression:.2f}% "
        f"({result.seconds['sensitivities']:.1f} s sensitivities, {result.seconds['solve']:.3f} s solve); "
        f"wrote {', '.join(map(str, paths))}")
    return quant.read_layer_config(paths[0])  # the run uses exactly the file it leaves behind


def cache_folder(args) -> Path | None:
    """The decoded-image cache folder, checked writable now (None with --no-cache)."""
    if args.no_cache:
        return None
    return image_cache.check_cache_dir(args.cache_dir or image_cache.default_cache_dir())


def eval_batch_size(args, device) -> int:
    """--eval-batch-size, else 256 on a GPU (it is idle between small batches) and 64 on the CPU.
    The exact runtime's predictions are the same at any batch size."""
    return args.eval_batch_size or (256 if device.type == "cuda" else 64)


def evaluation_batches(args, cache_dir, data_root, records, part: range, device, world):
    """uint8 image batches of the records in `part`, in order: mapped from the decoded-image cache
    (which rank 0 fills first when it is cold), or decoded now."""
    pin, size = device.type == "cuda", eval_batch_size(args, device)
    if cache_dir is None:
        chosen = [records[i] for i in part]
        return data.make_loader(data.ImageDataset(data_root, chosen), size, args.workers, pin)
    cached = distributed.main_first(world, lambda: image_cache.open_images(cache_dir, data_root, records, args.workers))
    # Read ahead in a thread: copying a batch out of the map overlaps the model's work on the last.
    return data.read_ahead(cached.batches(size, indices=part, pin_memory=pin))


def quantize_and_save(args, fp32, scheme, layer_rules, method, space, device, path: Path) -> torch.nn.Module:
    """Generate, search (with --target-compression), quantize; write the artifact to `path`.
    Only rank 0 does this under torchrun."""
    fp32.model.to(device)
    batches = None
    if space is not None:  # generated once: the search measures on them, calibration reuses them
        batches = list(calibration_batches(args, fp32, device))
        layer_rules = searched_layer_rules(args, space, fp32, batches)
    qmodel = quantize(args, fp32, scheme, layer_rules, method, device, batches)
    artifact.save_artifact(path, qmodel, arch=args.model, num_classes=fp32.num_classes,
                           scheme=scheme.name, generator=args.generator, method=method,
                           method_args=args.method_kwargs)
    if args.export_onnx:
        from .export import export_artifact

        exported = export_artifact(path, args.export_onnx)
        log(f"{args.model}: ONNX model ({exported.nodes} nodes) written to {exported.path}")
    return qmodel


def run(args, stdout=sys.stdout) -> output_format.Section:
    started = time.perf_counter()
    check_model_name(args.model)
    scheme = quant.get_scheme(args.scheme)
    import synth

    synth.get_generator(args.generator)  # fail on a bad name before any heavy work
    method = args.method or quant.DEFAULT_METHOD
    quant.check_method(method, scheme, args.method_kwargs)
    layer_rules = quant.read_layer_config(args.layer_config) if args.layer_config else None
    seed_everything(args.seed)
    world = distributed.current()
    device = distributed.local_device(resolve_device(args.device), world)
    fp32 = load_fp32_model(args.model, args.weights, args.weights_dir)
    space = search_space(args, fp32, scheme) if args.target_compression is not None else None
    if args.list_layers:
        log("\n".join(quant.quantizable_layer_names(quant.prepare(fp32.model, scheme))))
        return None
    if args.classes and len(data.read_class_list(args.classes)) != fp32.num_classes:
        log(f"note: --classes lists another number of classes than {args.model}'s {fp32.num_classes}; "
            "it applies only to checkpoints with that many classes")
    data_root = data.check_data_dir(args.data)
    records = data.list_images(data_root, data.class_list_for(fp32.num_classes, args.classes), args.limit)
    distributed.check_shardable(len(records), args.check_processes or world.size)
    if args.check_processes:
        distributed.check_processes(args.check_processes, args.device)
    cache_dir = cache_folder(args)
    if args.check_processes:  # run.bash's check before it launches torchrun
        return None
    log(f"{args.model}: {fp32.num_classes} classes from {fp32.weights_source}; {len(records)} images; "
        f"scheme {scheme.name}, generator {args.generator}, method {method}, device {device}"
        + (f", {world.size} processes" if world.is_distributed else ""))

    # The size is always accounted from a written artifact: what the scorer will see. Under
    # torchrun rank 0 makes it and the others rebuild the same model from its bytes.
    target = artifact_path(args) if world.is_main else None
    quantizing = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        path = target or Path(scratch) / f"{args.model}.safetensors"
        if world.is_main:
            with distributed.single_process_threads(world):
                qmodel = distributed.from_main(
                    world, lambda: quantize_and_save(args, fp32, scheme, layer_rules, method, space, device, path),
                    share=lambda _: path.read_bytes())
        else:
            path.write_bytes(distributed.from_main(world))
            qmodel, _ = runtimes.load_model(path, runtimes.DEFAULT_RUNTIME, device)
        contents = artifact.read_artifact(path)
        evaluated, where = qmodel, device
        if args.runtime != runtimes.DEFAULT_RUNTIME:  # from the saved artifact, as a deployment would
            evaluated, _ = runtimes.load_model(path, args.runtime)
            where = torch.device("cpu")  # ONNX Runtime's CPU provider

    evaluating = time.perf_counter()
    part = distributed.shard(len(records), world)  # everything, in one process
    with distributed.own_errors(world):  # a corrupt image in this rank's part
        batches = evaluation_batches(args, cache_dir, data_root, records, part, where, world)
        predictions = evaluate.predict_batches(evaluated, batches, where, len(part),
                                               label=f"{args.model} {scheme.name} ({args.runtime})")
    classes = distributed.gather_to_main(predictions.classes, world)
    if not world.is_main:
        return None
    accuracy = evaluate.top1(classes, (r.label for r in records))
    log(f"{args.model}: top-1 {accuracy:.2f}% on {len(records)} images "
        f"({len(records) / max(predictions.seconds, 1e-9):.1f} images/s, {args.runtime} runtime); "
        f"size {contents.quantized_bytes} of {contents.fp32_bytes} bytes FP32, compression "
        f"{compression_ratio(contents.fp32_bytes, contents.quantized_bytes):.2f}%"
        + (f"; artifact {target}" if target else "")
        + f"; seconds: setup {quantizing - started:.1f}, quantize {evaluating - quantizing:.1f}, "
          f"evaluate {time.perf_counter() - evaluating:.1f}")
    if space is not None and compression_ratio(contents.fp32_bytes, contents.quantized_bytes) < space.target:
        raise RuntimeError(f"the searched config measures {contents.quantized_bytes} bytes, short of the "
                           f"{space.target}% target: the search's size accounting disagrees with the artifact's")
    section = output_format.Section(args.model, args.generator, scheme.name, contents.quantized_bytes,
                                    contents.fp32_bytes, {r.path: c for r, c in zip(records, classes)})
    output_format.write_section(stdout, section)
    return section
