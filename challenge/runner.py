"""One model, end to end, in stages: set up, generate calibration data, search (with
--target-compression), prepare, calibrate, round, optimise (a method), save, evaluate.

    result = run(plan, generator)          # plan: a plan.ModelPlan; generator: resolved by the entry point
    result.section, result.seconds         # output.txt's section; seconds per stage (timing.py)

Each stage gets only its part of the plan. The entry point resolves the generator (synth/ is
above the kit: challenge/ never imports it) and hands it down.
"""
from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from . import artifact, data, distributed, evaluate, generation, image_cache, output_format, quant, runtimes
from .models import check_model_name, load_fp32_model
from .plan import ModelPlan
from .process import log, resolve_device, seed_everything
from .search import stage as search_stage
from .size import compression_ratio
from .timing import StageClock


@dataclass
class ModelRun:
    """What one model's run gave: its output.txt section, top-1 on the evaluated images, and
    the seconds of each stage in the order they ran (setup, generate, [search], prepare,
    calibrate, round, [optimise], save, [export], images, evaluate) with their total."""

    section: output_format.Section
    top1: float
    seconds: dict[str, float]
    total_seconds: float


def quantize(plan: ModelPlan, fp32, scheme, layer_rules, device, batches, clock: StageClock) -> torch.nn.Module:
    """Prepare, calibrate, round to nearest, optimise: the quantized model. `batches` may be a
    lazy generator (streamed through calibration when the method needs no data)."""
    if not scheme.quantizes:
        with clock.stage("prepare"):
            return quant.quantize_model(fp32.model, scheme, batches, layer_rules).to(device)
    if quant.method_needs_data(plan.method):
        batches = list(batches)  # generated once: calibration and the method both read them
    with clock.stage("prepare"):
        qmodel = quant.prepare(fp32.model, scheme, layer_rules).to(device)
    with clock.stage("calibrate"):
        quant.calibrate(qmodel, batches)
    with clock.stage("round"):
        quant.freeze(qmodel)
    if plan.method != quant.DEFAULT_METHOD:
        with clock.stage("optimise"):
            quant.optimise(plan.method, fp32.model, qmodel, batches, plan.method_kwargs)
    return qmodel


def quantize_and_save(plan: ModelPlan, generator: Callable, fp32, scheme, layer_rules, search, device,
                      path: Path, clock: StageClock) -> torch.nn.Module:
    """Generate, search (with --target-compression), quantize; write the artifact to `path`.
    Only rank 0 does this under torchrun."""
    fp32.model.to(device)
    with clock.stage("generate"):  # a generator that is a plain function works here
        made = generation.calibration_batches(generator, plan.generation, fp32, device)
    batches = clock.iterate("generate", made)
    if search is not None:  # generated once: the search measures on them, calibration reuses them
        space, sweep = search
        batches = list(batches)
        with clock.stage("search"):
            layer_rules = search_stage.searched_layer_rules(
                space, sweep, fp32.model, batches, search_stage.output_path(plan.artifact, plan.model),
                plan.command, generation.facts(plan.generation))
    qmodel = quantize(plan, fp32, scheme, layer_rules, device, batches, clock)
    with clock.stage("save"):
        artifact.save_artifact(path, qmodel, arch=plan.model, num_classes=fp32.num_classes, scheme=scheme.name,
                               generator=plan.generation.spec, method=plan.method, method_args=plan.method_kwargs)
    if plan.export_onnx:
        from .export import export_artifact

        with clock.stage("export"):
            exported = export_artifact(path, plan.export_onnx)
        log(f"{plan.model}: ONNX model ({exported.nodes} nodes) written to {exported.path}")
    return qmodel


def cache_folder(plan: ModelPlan) -> Path | None:
    """The decoded-image cache folder, checked writable now (None with --no-cache)."""
    if plan.no_cache:
        return None
    return image_cache.check_cache_dir(plan.cache_dir or image_cache.default_cache_dir())


def eval_batch_size(plan: ModelPlan, device) -> int:
    """--eval-batch-size, else 256 on a GPU (it is idle between small batches) and 64 on the CPU.
    The exact runtime's predictions are the same at any batch size."""
    return plan.eval_batch_size or (256 if device.type == "cuda" else 64)


def evaluation_batches(plan: ModelPlan, cache_dir, data_root, records, part: range, device, world):
    """uint8 image batches of the records in `part`, in order: mapped from the decoded-image cache
    (which rank 0 fills first when it is cold), or decoded now."""
    pin, size = device.type == "cuda", eval_batch_size(plan, device)
    if cache_dir is None:
        chosen = [records[i] for i in part]
        return data.make_loader(data.ImageDataset(data_root, chosen), size, plan.workers, pin)
    cached = distributed.main_first(world, lambda: image_cache.open_images(cache_dir, data_root, records, plan.workers))
    # Read ahead in a thread: copying a batch out of the map overlaps the model's work on the last.
    return data.read_ahead(cached.batches(size, indices=part, pin_memory=pin))


def run(plan: ModelPlan, generator: Callable, stdout=sys.stdout) -> ModelRun | None:
    """The model's section written to `stdout`; None on ranks other than 0 and for
    --list-layers or --check-processes, which write nothing."""
    clock = StageClock()
    with clock.stage("setup"):
        check_model_name(plan.model)
        scheme = quant.get_scheme(plan.scheme)
        generation.check(generator, plan.generation)  # fail on a bad setting before any heavy work
        if not getattr(generator, "allowed_in_challenge", True):
            log(f"note: generator {plan.generation.spec!r} uses real images: a reference, not allowed in the challenge")
        quant.check_method(plan.method, scheme, plan.method_kwargs)
        layer_rules = quant.read_layer_config(plan.layer_config) if plan.layer_config else None
        seed_everything(plan.seed)
        world = distributed.current()
        device = distributed.local_device(resolve_device(plan.device), world)
        fp32 = load_fp32_model(plan.model, plan.weights, plan.weights_dir)
        search = (search_stage.search_space(plan.search, plan.model, fp32.num_classes, scheme)
                  if plan.search is not None else None)
        if plan.list_layers:
            log("\n".join(quant.quantizable_layer_names(fp32.model)))  # the names a layer config matches
            return None
        if plan.classes and len(data.read_class_list(plan.classes)) != fp32.num_classes:
            log(f"note: --classes lists another number of classes than {plan.model}'s {fp32.num_classes}; "
                "it applies only to checkpoints with that many classes")
        data_root = data.check_data_dir(plan.data)
        records = data.list_images(data_root, data.class_list_for(fp32.num_classes, plan.classes), plan.limit)
        distributed.check_shardable(len(records), plan.check_processes or world.size)
        if plan.check_processes:
            distributed.check_processes(plan.check_processes, plan.device)
        cache_dir = cache_folder(plan)
        if plan.check_processes:  # run.bash's check before it launches torchrun
            return None
    log(f"{plan.model}: {fp32.num_classes} classes from {fp32.weights_source}; {len(records)} images; "
        f"scheme {scheme.name}, generator {plan.generation.spec}, method {plan.method}, device {device}"
        + (f", {world.size} processes" if world.is_distributed else ""))

    # The size is always accounted from a written artifact: what the scorer will see. Under
    # torchrun rank 0 makes it and the others rebuild the same model from its bytes.
    target = plan.artifact if world.is_main else None
    with tempfile.TemporaryDirectory() as scratch:
        path = target or Path(scratch) / f"{plan.model}.safetensors"
        if world.is_main:
            with distributed.single_process_threads(world):
                qmodel = distributed.from_main(
                    world, lambda: quantize_and_save(plan, generator, fp32, scheme, layer_rules, search, device,
                                                     path, clock),
                    share=lambda _: path.read_bytes())
        else:
            with clock.stage("load"):
                path.write_bytes(distributed.from_main(world))
                qmodel, _ = runtimes.load_model(path, runtimes.DEFAULT_RUNTIME, device)
        with clock.stage("save"):  # the size, read back as the scorer reads it
            contents = artifact.read_artifact(path)
        evaluated, where = qmodel, device
        if plan.runtime != runtimes.DEFAULT_RUNTIME:  # from the saved artifact, as a deployment would
            with clock.stage("evaluate"):
                evaluated, _ = runtimes.load_model(path, plan.runtime)
            where = torch.device("cpu")  # ONNX Runtime's CPU provider

    part = distributed.shard(len(records), world)  # everything, in one process
    with distributed.own_errors(world):  # a corrupt image in this rank's part
        with clock.stage("images"):  # the decoded-image cache filled (cold) or mapped
            batches = evaluation_batches(plan, cache_dir, data_root, records, part, where, world)
        with clock.stage("evaluate"):
            predictions = evaluate.predict_batches(evaluated, batches, where, len(part),
                                                   label=f"{plan.model} {scheme.name} ({plan.runtime})")
    with clock.stage("evaluate"):
        classes = distributed.gather_to_main(predictions.classes, world)
    if not world.is_main:
        return None
    accuracy = evaluate.top1(classes, (r.label for r in records))
    compression = compression_ratio(contents.fp32_bytes, contents.quantized_bytes)
    log(f"{plan.model}: top-1 {accuracy:.2f}% on {len(records)} images "
        f"({len(records) / max(predictions.seconds, 1e-9):.1f} images/s, {plan.runtime} runtime); "
        f"size {contents.quantized_bytes} of {contents.fp32_bytes} bytes FP32, compression {compression:.2f}%"
        + (f"; artifact {target}" if target else ""))
    log(f"{plan.model}: seconds: {clock.line()}")
    if search is not None and compression < search[0].target:
        raise RuntimeError(f"the searched config measures {contents.quantized_bytes} bytes, short of the "
                           f"{search[0].target}% target: the search's size accounting disagrees with the artifact's")
    section = output_format.Section(plan.model, plan.generation.spec, scheme.name, contents.quantized_bytes,
                                    contents.fp32_bytes, {r.path: c for r, c in zip(records, classes)})
    output_format.write_section(stdout, section)
    return ModelRun(section, accuracy, dict(clock.seconds), clock.total())
