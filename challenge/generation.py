"""The generate stage: a generator (resolved by the entry point, which reaches synth/; the kit
never imports it) and its GenerationPlan give the calibration batches.

    check(generator, plan.generation)                        # at once: names, types, sizes
    batches = calibration_batches(generator, plan.generation, fp32, device)   # lazy
"""
from __future__ import annotations

import inspect
from typing import Callable, Iterator

import torch

from . import synthetic_cache
from .errors import KitError
from .plan import GenerationPlan
from .plugins import check_argument_types

INPUT_SHAPE = (3, 224, 224)


def _default(generator: Callable, name: str):
    try:
        parameter = inspect.signature(generator).parameters.get(name)
    except (TypeError, ValueError):
        return None
    return None if parameter is None or parameter.default is inspect.Parameter.empty else parameter.default


def check(generator: Callable, plan: GenerationPlan) -> None:
    """Refuse, before any heavy work, an argument the generator does not take or whose value
    does not fit the type of its default, and a batch size set larger than the samples."""
    kwargs = plan.arguments()
    try:
        inspect.signature(generator).bind(None, num_classes=1, input_shape=INPUT_SHAPE, seed=plan.seed, **kwargs)
    except TypeError as error:  # a wrong --gen-arg name
        raise KitError(f"generator {plan.spec!r} rejected its arguments: {error}") from None
    except ValueError:  # a callable without a signature: it says so itself when called
        return
    check_argument_types(generator, plan.kwargs, "--gen-arg", f"generator {plan.spec!r}")
    samples = kwargs.get("num_samples", _default(generator, "num_samples"))
    batch = kwargs.get("batch_size")  # only one that was asked for: a generator's default is its business
    if isinstance(samples, int) and isinstance(batch, int) and batch > samples:
        asked = "--batch-size" if plan.batch_size is not None else "--gen-arg batch_size="
        source = "--num-samples" if plan.num_samples is not None else (
            "--gen-arg num_samples=" if "num_samples" in plan.kwargs else f"generator {plan.spec!r}'s default")
        raise KitError(f"a generator batch of {batch} ({asked}) is larger than the {samples} calibration "
                       f"samples ({source}); give a batch size of at most {samples}, or more samples")


def calibration_batches(generator: Callable, plan: GenerationPlan, fp32, device: torch.device) -> Iterator:
    """The generator's batches for `fp32` (a models.FP32Model) on `device`; a generator function
    runs as they are read. With `plan.reuse_in`, images kept by an earlier run that asked the same
    are read back instead, and new ones are kept (synthetic_cache.py)."""
    def make():
        try:
            return generator(fp32.model.to(device), num_classes=fp32.num_classes, input_shape=INPUT_SHAPE,
                             seed=plan.seed, **plan.arguments())
        except TypeError as error:  # a wrong --gen-arg name that check() could not see (no signature)
            raise KitError(f"generator {plan.spec!r} rejected its arguments: {error}") from None

    if plan.reuse_in is None:
        return make()
    description = synthetic_cache.describe(generator, plan.spec, plan.arguments(), plan.seed, fp32.name,
                                           fp32.model, device)
    return synthetic_cache.reuse_or_make(synthetic_cache.path_for(plan.reuse_in, description), description,
                                         make, device)


def facts(plan: GenerationPlan) -> dict:
    """The synthetic data, described (saved with a search's sensitivities, checked on reuse)."""
    return {"generator": plan.spec, "gen_args": repr(sorted(plan.kwargs.items())),
            "num_samples": plan.num_samples, "batch_size": plan.batch_size, "seed": plan.seed}
