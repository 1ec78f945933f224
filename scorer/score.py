"""Score one submission zip: extract safely, validate, measure, verify, compute accuracy.

A plain function of (zip, context) returning a Result, so it runs the same in a worker
process, inline, or under `check`. Everything a participant can get wrong ends as an
invalid Result with one line saying what; nothing raised here stops the other submissions.
"""
from __future__ import annotations

import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from challenge import output_format
from challenge.errors import KitError, one_line

from . import layout as layout_mod
from . import limits, tempfiles, zipsafe
from .config import Rules
from .groundtruth import GroundTruth, load_ground_truth
from .legacy2021 import is_legacy, parse_legacy
from .measure import measure
from .result import INVALID, SCORED, ModelResult, Result
from .validate import aligned_predictions, check_models
from .verify import Verifier


@dataclass
class Context:
    """What a scoring process keeps between submissions: rules, ground truth, decoded sample."""

    rules: Rules
    truth: GroundTruth | None  # None: `check` without ground truth, coverage cannot be checked
    verifier: Verifier | None = None


def make_context(rules: Rules, *, verify: bool, need_truth: bool = True) -> Context:
    truth = None
    if need_truth or rules.ground_truth:
        truth = load_ground_truth(rules.ground_truth, rules.num_classes,
                                  private_fraction=rules.private_fraction, split_seed=rules.split_seed)
    verifier = None
    if verify and rules.verify.sample != 0 and truth is not None:
        verifier = Verifier(truth, rules.images, rules.verify)
    return Context(rules, truth, verifier)


def _percent(hits: np.ndarray) -> float | None:
    return float(100.0 * hits.mean()) if hits.size else None


def _read_sections(data: bytes, rules: Rules, legacy: bool):
    if legacy:
        return parse_legacy(data, rules.legacy2021)
    return output_format.parse(data, max_lines=rules.zip.max_output_lines)


def score_extracted(extracted: zipsafe.Extracted, ctx: Context) -> Result:
    rules, truth = ctx.rules, ctx.truth
    has_output = layout_mod.OUTPUT_NAME in extracted.files
    data = (extracted.root / layout_mod.OUTPUT_NAME).read_bytes() if has_output else b""
    legacy = is_legacy(data)
    layout = layout_mod.inspect(extracted.root, extracted.files, rules.models,
                                need_artifacts=not (legacy and rules.legacy2021.trust_declared_size))
    sections = _read_sections(data, rules, legacy)
    by_model = check_models(sections, rules.models)
    aligned = {m: aligned_predictions(by_model[m], truth, rules.num_classes) for m in rules.models} if truth else {}
    notes = [f"2021 format: image order from {Path(rules.legacy2021.image_order).name}"] if legacy else []
    if truth is None:
        notes.append("no ground truth given: image coverage and accuracy not checked (pass --ground-truth)")
    if layout.ignored:
        notes.append(f"ignored: {', '.join(layout.ignored)}")
    models = []
    for model in rules.models:
        measured = measure(model, by_model[model], layout.artifacts.get(model), rules)
        notes += measured.notes
        if truth is None:
            models.append(ModelResult(model, float("nan"), float("nan"), None, measured.compression,
                                      measured.quantized_bytes, measured.fp32_bytes, by_model[model].quantized_bytes))
            continue
        ranked, verified, disagreements = aligned[model], 0, 0
        if ctx.verifier is not None and model in layout.artifacts:
            checked = ctx.verifier.check(layout.artifacts[model], aligned[model])
            verified, disagreements = checked.images, checked.disagreements
            if checked.disagreements:
                notes.append(checked.describe(model))
            reason = ctx.verifier.verdict(model, checked)
            if reason:
                return Result(INVALID, error=reason, notes=notes, models=models)
            if ctx.verifier.complete:  # the score comes from the artifact; output.txt was a cross-check
                ranked = checked.predicted
        elif ctx.verifier is None:
            notes.append(f"{model}: accuracy from output.txt, not checked against the artifact")
        if ctx.verifier is not None and not ctx.verifier.complete:
            notes.append(f"{model}: accuracy from output.txt, {verified} of {len(truth)} images checked against "
                         "the artifact")
        hits = ranked == truth.labels
        models.append(ModelResult(model, _percent(hits), _percent(hits[~truth.private]),
                                  _percent(hits[truth.private]), measured.compression, measured.quantized_bytes,
                                  measured.fp32_bytes, by_model[model].quantized_bytes, verified, disagreements))
    return Result(SCORED, notes=notes, models=models)


def score_zip(zip_path: str | Path, ctx: Context) -> Result:
    """Never raises for a participant's mistake or a hostile file: those become invalid Results."""
    start = time.perf_counter()
    try:
        if not Path(zip_path).is_file():
            raise KitError(f"{Path(zip_path).name} is no longer in the inbox; it cannot be scored")
        with tempfile.TemporaryDirectory(prefix=tempfiles.prefix()) as folder:
            extracted = zipsafe.extract(zip_path, folder, ctx.rules.zip)
            result = score_extracted(extracted, ctx)
    except KitError as error:
        result = Result.invalid(one_line(error))
    except Exception as error:  # a hostile file may break a library in ways we cannot list
        if limits.is_allocation_failure(error):  # MemoryError, or torch's allocator refusing
            result = Result.invalid(limits.memory_reason(ctx.rules.limits))
        else:
            print(f"scorer: {zip_path}: unexpected {type(error).__name__}\n{traceback.format_exc()}", file=sys.stderr)
            result = Result.invalid(f"the submission could not be read ({type(error).__name__}: "
                                    f"{one_line(error)[:200]})")
    result.seconds = time.perf_counter() - start
    return result


# Worker-process state: set once when a worker starts, so the ground truth and the decoded
# verification images are loaded once per process, not once per submission.
_worker_context: Context | None = None


def init_worker(rules: Rules, verify: bool, threads: int = 1) -> None:
    global _worker_context
    import torch

    torch.set_num_threads(threads)
    _worker_context = make_context(rules, verify=verify)


def warm_up(ctx: Context) -> None:
    """Load, before any submission, what scoring one loads on first use (libraries, the size of
    each FP32 architecture, the verification images), so that no submission pays for it in
    time or memory, and the limits measure the submission alone."""
    import safetensors.torch  # noqa: F401

    import challenge.artifact  # noqa: F401
    from challenge.quant import exact  # noqa: F401

    from .measure import fp32_bytes_of

    for model in ctx.rules.models:
        fp32_bytes_of(model, ctx.rules.num_classes)
    if ctx.verifier is not None:
        ctx.verifier.decode()
        if ctx.verifier.device() == "cuda":  # CUDA's start-up reserves address space: before the limits
            import torch

            torch.zeros(1, device="cuda")


def worker_context() -> Context | None:
    return _worker_context


def score_in_worker(zip_path: str) -> Result:
    return score_zip(zip_path, _worker_context)
