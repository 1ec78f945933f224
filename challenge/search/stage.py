"""The search as a stage of main.py (--target-compression): checked with the other settings,
run on the generated batches, its layer config written beside the artifact and then used.

    space, sweep = search_space(plan.search, arch, num_classes, scheme)    # before any data
    rules = searched_layer_rules(space, sweep, fp32_model, batches, out, command, facts)
"""
from __future__ import annotations

import inspect
from pathlib import Path

from ..errors import KitError
from ..process import log
from ..quant.layer_config import read_layer_config
from .pipeline import SearchSpace, describe, plan, search
from .report import prediction_summary, write_all


def _number_list(value, key: str) -> list:
    """A --search-arg list of numbers; a lone number is a list of one (`weight_bits=4`)."""
    values = [value] if isinstance(value, (int, float)) else value
    if not isinstance(values, (list, tuple, range)) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise KitError(f"--search-arg {key}= takes a list of numbers, e.g. {key}=[4,6,8]; got {value!r}")
    return list(values)


def search_space(settings, arch: str, num_classes: int, scheme) -> tuple[SearchSpace, list | None]:
    """The search's plan and its sweep (None: the default), from a plan.SearchPlan; checked
    before any data is generated."""
    kwargs = dict(settings.kwargs)
    sweep = kwargs.pop("sweep", None)
    if isinstance(kwargs.get("fix"), str):
        kwargs["fix"] = [kwargs["fix"]]
    for key in ("weight_bits", "act_bits"):
        if key in kwargs:
            kwargs[key] = _number_list(kwargs[key], key)
    if sweep is not None:
        sweep = _number_list(sweep, "sweep")
        if not all(0 <= v < 100 for v in sweep):
            raise KitError(f"--search-arg sweep= points must be percentages from 0 to below 100; got {sweep!r}")
    for key in ("samples", "proxy_iterations"):
        if key in kwargs and (not isinstance(kwargs[key], int) or isinstance(kwargs[key], bool)):
            raise KitError(f"--search-arg {key}= takes a whole number; got {kwargs[key]!r}")
    try:
        inspect.signature(plan).bind(None, None, None, None, **kwargs)
    except TypeError:
        raise KitError(f"--search-arg takes samples, weight_bits, act_bits, fix, proxy, proxy_iterations or sweep; got "
                       f"{', '.join(sorted(settings.kwargs))}") from None
    return plan(arch, num_classes, scheme, settings.target, **kwargs), sweep


def output_path(artifact: Path | None, arch: str) -> Path:
    """Beside the artifact (models/resnet18.safetensors -> models/resnet18.layers.toml), else
    <model>.layers.toml in the current folder."""
    return artifact.with_name(f"{artifact.stem}.layers.toml") if artifact else Path(f"{arch}.layers.toml")


def searched_layer_rules(space: SearchSpace, sweep: list | None, fp32_model, batches, out: Path, command: str,
                         facts: dict) -> list[dict]:
    """Search, write the layer config and its frontier to `out`, and return the rules read back
    from that file: the run uses exactly the file it leaves behind."""
    result = search(space, fp32_model, batches, list(sweep) if sweep else None)
    paths = write_all(out, result, command, describe(space, facts))
    log(f"{space.arch}: searched widths for >= {space.target}%: {prediction_summary(result)} "
        f"({result.seconds['sensitivities']:.1f} s sensitivities, {result.seconds['solve']:.3f} s solve, "
        f"{result.seconds['predict']:.1f} s prediction); wrote {', '.join(map(str, paths))}")
    return read_layer_config(paths[0])
