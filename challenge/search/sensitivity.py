"""Sensitivity of the output to one layer at a time, at each candidate bit width (ZeroQ's
measure), on synthetic batches only.

For each batch: one FP32 forward for the reference output, then one walk over the network
(walk.py) that stops before each layer; there, for every candidate width, the layer's output is
recomputed with its weights quantized as the scheme quantizes them (its observer, per channel or
per tensor; for a reconstructing proxy, re-rounded by a short AdaRound first: candidates.py), or
its input quantized at that activation width, and the rest of the network runs from there. The
prefix is never recomputed. Everything else stays in FP32.

Activation candidates need each layer's input range first: one calibration pass with the
scheme's observers (the same as the kit's calibration), whose statistics give a scale and zero
point for every width (`calculate_qparams(qmin, qmax)`).
"""
from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..errors import KitError
from ..precision import strict_float32
from ..quant.layer_config import LayerSpec
from ..quant.modules import activation_range
from ..quant.observers import observer_factory
from .candidates import DEFAULT_ITERATIONS, CandidateWeights
from .proxies import get_proxy
from .walk import GraphWalk


@dataclass
class Sensitivities:
    """Mean proxy distance per sample: weights[layer][bits], activations[layer][bits]."""

    proxy: str
    samples: int
    weights: dict[str, dict[int, float]] = field(default_factory=dict)
    activations: dict[str, dict[int, float]] = field(default_factory=dict)


def save_sensitivities(path, sens: Sensitivities, about: dict) -> None:
    """JSON, so that another target or sweep is a re-solve (under a second), not a re-measure."""
    table = {"about": about, "proxy": sens.proxy, "samples": sens.samples,
             "weights": {n: {str(b): v for b, v in per.items()} for n, per in sens.weights.items()},
             "activations": {n: {str(b): v for b, v in per.items()} for n, per in sens.activations.items()}}
    Path(path).write_text(json.dumps(table, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def load_sensitivities(path, about: dict, layers: list[str], weight_bits: list[int], act_layers: list[str],
                       act_bits: list[int]) -> Sensitivities:
    """Sensitivities saved by an earlier search of the same model, scheme, proxy and candidates."""
    try:
        table = json.loads(Path(path).read_text(encoding="utf-8"))
        sens = Sensitivities(table["proxy"], int(table["samples"]),
                             {n: {int(b): float(v) for b, v in per.items()} for n, per in table["weights"].items()},
                             {n: {int(b): float(v) for b, v in per.items()} for n, per in table["activations"].items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise KitError(f"cannot read sensitivities {str(path)!r} ({type(error).__name__}); "
                       "pass a .sensitivities.json written by the search") from None
    differs = [k for k, v in about.items() if table["about"].get(k) != v]
    if differs or any(set(sens.weights.get(n, {})) != set(weight_bits) for n in layers) \
            or any(set(sens.activations.get(n, {})) != set(act_bits) for n in act_layers):
        raise KitError(f"sensitivities {str(path)!r} were measured for another search "
                       f"({', '.join(differs) or 'layers or candidate widths'} differ); measure them again")
    return sens


@contextlib.contextmanager
def _flush_denormals():
    # Synthetic images drive some FP32 activations into subnormal floats, which x86 CPUs compute
    # tens of times slower (measured: 10x on MobileNetV2). Both sides of every comparison run
    # under the same setting, and values below 1e-38 do not change a divergence.
    # (torch has no getter for this flag; the kit never sets it elsewhere, so it goes back off.)
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


@contextlib.contextmanager
def _swapped_weight(layer: nn.Module, weight: torch.Tensor):
    original = layer.weight.data
    layer.weight.data = weight
    try:
        yield
    finally:
        layer.weight.data = original


def _calibrate(walk: GraphWalk, specs: dict[str, LayerSpec], layers: list[str], batches) -> dict[str, nn.Module]:
    """The scheme's activation observer for each layer's input, fed the FP32 activations."""
    observers = {name: observer_factory(specs[name].act_observer)() for name in layers}
    handles = [walk.module.get_submodule(name).register_forward_pre_hook(
        lambda _, args, name=name: observers[name](args[0])) for name in layers]
    try:
        for batch in batches:
            walk.module(batch)
    finally:
        for handle in handles:
            handle.remove()
    return observers


def for_measuring(folded: nn.Module, batches: list[torch.Tensor]) -> tuple[nn.Module, list[torch.Tensor]]:
    """The model and batches in the layout that measures fastest on their device."""
    if next(folded.parameters()).device.type == "cpu":
        # oneDNN's convolutions run 1.5-1.8x faster on channels-last tensors (measured on
        # ResNet18 and MobileNetV2, 2 cores); the values are the same up to float rounding.
        folded = folded.to(memory_format=torch.channels_last)
        batches = [b.contiguous(memory_format=torch.channels_last) for b in batches]
    return folded, batches


def reconstructs(proxies: tuple[str, ...]) -> bool:
    """Whether these proxies (measured together) read reconstructed candidate weights."""
    kinds = {get_proxy(proxy).reconstructs for proxy in proxies}
    if len(kinds) > 1:
        raise KitError(f"proxies {', '.join(proxies)} cannot be measured together: some reconstruct the "
                       "weights first and some do not; measure them separately")
    return kinds.pop()


@torch.no_grad()
def measure(folded: nn.Module, specs: dict[str, LayerSpec], layers: list[str], batches: list[torch.Tensor], *,
            weight_bits: list[int], act_bits: list[int] | None = None, proxies: tuple[str, ...] = ("kl",),
            proxy_iterations: int | None = None, candidates: CandidateWeights | None = None) -> dict[str, Sensitivities]:
    """`folded`: the BatchNorm-folded FP32 model on its device; `layers`: those to measure.
    Several proxies cost one measurement: they read the same perturbed outputs. A reconstructing
    proxy first runs `proxy_iterations` AdaRound steps per layer and width (candidates.py).
    `candidates`: the caller's, made on `folded` as for_measuring returns it (to reuse them)."""
    distances = {proxy: get_proxy(proxy).distance for proxy in proxies}
    folded, batches = for_measuring(folded, batches)
    walk = GraphWalk(folded.eval())
    candidates = candidates or CandidateWeights(folded, specs)
    act_layers = [name for name in layers if act_bits and specs[name].act_bits is not None]
    samples = sum(len(b) for b in batches)
    results = {proxy: Sensitivities(proxy, samples, {n: {b: 0.0 for b in weight_bits} for n in layers},
                                    {n: {b: 0.0 for b in act_bits} for n in act_layers}) for proxy in proxies}

    def add(table: str, name: str, bits: int, reference, output):
        for proxy, distance in distances.items():
            getattr(results[proxy], table)[name][bits] += float(distance(reference, output).sum())

    from progress.bar import Bar

    with _flush_denormals(), strict_float32():
        qparams = {}
        if act_layers:
            observers = _calibrate(walk, specs, act_layers, batches)
            qparams = {name: {b: (*observers[name].calculate_qparams(*activation_range(b, specs[name].reduce_range)),
                                  *activation_range(b, specs[name].reduce_range)) for b in act_bits}
                       for name in act_layers}
            del observers
        if reconstructs(tuple(proxies)):
            candidates.reconstruct([(n, b) for n in layers for b in weight_bits], batches,
                                   proxy_iterations or DEFAULT_ITERATIONS)
        references = [walk.module(batch) for batch in batches]  # the FP32 outputs
        bar = Bar("sensitivity", max=len(batches) * len(layers), file=sys.stderr, suffix="%(index)d/%(max)d %(eta)ds")
        for batch, reference in zip(batches, references):
            for name, layer_input, resume in walk.cuts(batch, layers):
                layer = walk.module.get_submodule(name)
                for bits in weight_bits:
                    with _swapped_weight(layer, candidates.weight(name, bits)):
                        output = layer(layer_input)
                    add("weights", name, bits, reference, resume(output))
                for bits, (scale, zero_point, qmin, qmax) in qparams.get(name, {}).items():
                    fake = torch.fake_quantize_per_tensor_affine(layer_input, scale, zero_point, qmin, qmax)
                    add("activations", name, bits, reference, resume(layer(fake)))
                bar.next()
        bar.finish()
    for result in results.values():
        for table in (result.weights, result.activations):
            for per_bits in table.values():
                for bits in per_bits:
                    per_bits[bits] /= samples
    return results
