"""The search, end to end: which layers it may change, their sensitivities, the exact frontier,
and the configuration chosen for a target compression.

    space = plan(arch, num_classes, scheme, target=86.7)        # checks everything, no data yet
    result = search(space, fp32_model, batches)                 # sensitivities + solve
    write_layer_config("mixed.toml", result)                     # report.py

A layer is searched unless the scheme itself sets its weight width apart from the scheme's own
(resolve_layer_specs decides, so a scheme that keeps the first layer at 8 bits is followed) or a
`fix` pattern names it; those keep the width they resolve to and only count in the size.
"""
from __future__ import annotations

import copy
import fnmatch
import math
import time
from dataclasses import dataclass, field

import torch

from ..errors import KitError
from ..quant.fold import fold_batchnorm
from ..models import build_architecture
from ..quant.layer_config import LayerSpec
from ..quant.quantize import layer_specs
from ..quant.schemes import Scheme
from ..precision import strict_float32
from ..size import MAX_BITS, MIN_BITS
from .candidates import DEFAULT_ITERATIONS, CandidateWeights
from .prediction import Prediction, predict
from .proxies import DEFAULT_PROXY, get_proxy
from .sensitivity import Sensitivities, for_measuring, measure
from .sizes import SizeModel, _shapes, size_model
from .solver import Frontier, solve_frontier

DEFAULT_WEIGHT_BITS = (2, 3, 4, 5, 6, 7, 8)
DEFAULT_SAMPLES = 32


@dataclass
class SearchSpace:
    arch: str
    num_classes: int
    scheme: Scheme
    target: float
    specs: dict[str, LayerSpec]  # every layer, as the scheme resolves it
    searched: list[str]  # layers whose weight width is chosen, in module order
    act_searched: list[str]  # layers whose activation width is chosen too
    fixed: dict[str, str]  # layer -> why it keeps its width
    weight_bits: list[int]
    act_bits: list[int]
    proxy: str
    samples: int
    sizes: SizeModel
    proxy_iterations: int = 0  # AdaRound steps per layer and width of a reconstructing proxy (else 0)


@dataclass
class Choice:
    """One point of the frontier: the widths of the searched layers and what they cost."""

    target: float
    weight_bits: dict[str, int]
    act_bits: dict[str, int]
    quantized_bytes: int
    compression: float
    sensitivity: float


@dataclass
class SearchResult:
    space: SearchSpace
    sensitivities: Sensitivities
    frontier: Frontier
    chosen: Choice
    sweep: list[Choice]
    seconds: dict[str, float] = field(default_factory=dict)
    measured: dict[float, float] = field(default_factory=dict)  # target -> top-1 on real images (a report)
    fp32_top1: float | None = None  # on the same images
    prediction: Prediction | None = None  # the chosen widths all at once, on the synthetic samples


def _check_bits(values, what: str) -> list[int]:
    values = sorted(set(int(v) for v in values))
    if not values or any(not MIN_BITS <= v <= MAX_BITS for v in values):
        raise KitError(f"{what} must be widths from {MIN_BITS} to {MAX_BITS}, got {values}")
    return values


def plan(arch: str, num_classes: int, scheme: Scheme, target: float, *, weight_bits=DEFAULT_WEIGHT_BITS,
         act_bits=None, fix=(), proxy: str = DEFAULT_PROXY, samples: int = DEFAULT_SAMPLES,
         proxy_iterations: int | None = None) -> SearchSpace:
    """Everything the search will do, checked on shapes alone (before any data is generated)."""
    if scheme.weight_bits is None:
        raise KitError(f"scheme {scheme.name!r} quantizes no weights, so there are no bit widths to search; "
                       "choose a scheme such as w4a8")
    if not (isinstance(target, (int, float)) and math.isfinite(target)):
        raise KitError(f"the target compression must be a percentage from 0 to below 100, got {target}")
    if int(samples) < 1:
        raise KitError(f"the search needs at least 1 sample, got {samples}")
    iterations = _proxy_iterations(proxy, proxy_iterations)
    weight_bits = _check_bits(weight_bits, "the candidate weight widths")
    act_bits = _check_bits(act_bits, "the candidate activation widths") if act_bits else []
    layers, _ = _shapes(arch, num_classes)
    names = list(layers)
    # On a randomly initialised copy: the edges (which layers read the stem) are found by value.
    # Its initialisation draws from a forked generator, so the seeded generation after it is the same.
    with torch.random.fork_rng(devices=[]):
        specs = layer_specs(fold_batchnorm(build_architecture(arch, num_classes).eval()), scheme)
    if list(specs) != names:
        raise KitError(f"{arch}'s layers differ between its shapes and its model")
    fixed = {}
    for pattern in fix:
        matched = fnmatch.filter(names, pattern)
        if not matched:
            raise KitError(f"--fix pattern {pattern!r} matches no layer of {arch}; "
                           f"layers are named like {', '.join(names[:3])} (see main.py --list-layers)")
        fixed.update({name: "fixed by --fix" for name in matched})
    for name, spec in specs.items():
        if name not in fixed and spec.weight_bits != scheme.weight_bits:
            fixed[name] = "set by the scheme"
    searched = [n for n in names if n not in fixed]
    if not searched:
        raise KitError("every layer is fixed; nothing is left to search")
    # An activation width is chosen only where the scheme quantizes the input at its own width
    # (not where it sets one apart, such as an 8-bit image input).
    act_searched = [n for n in searched if act_bits and scheme.act_bits is not None
                    and specs[n].act_bits == scheme.act_bits]
    sizes = size_model(arch, num_classes, specs, searched)
    space = SearchSpace(arch, num_classes, scheme, float(target), specs, searched, act_searched, fixed,
                        weight_bits, act_bits, proxy, int(samples), sizes, iterations)
    _check_reachable(space)
    return space


def _proxy_iterations(proxy: str, iterations) -> int:
    """The AdaRound steps of a reconstructing proxy (its default if not given); 0 for the others."""
    if not get_proxy(proxy).reconstructs:
        if iterations is not None:
            raise KitError(f"proxy_iterations applies to a proxy that reconstructs (adaround-kl); proxy {proxy!r} "
                           "rounds to nearest: drop it or choose --search-arg proxy=adaround-kl")
        return 0
    if iterations is None:
        return DEFAULT_ITERATIONS
    if not isinstance(iterations, int) or isinstance(iterations, bool) or iterations < 1:
        raise KitError(f"proxy_iterations takes a whole number of at least 1, got {iterations!r}")
    return iterations


def reachable(space: SearchSpace) -> tuple[float, float]:
    """The compressions of the widest and of the narrowest candidate width on every searched
    layer: the only targets for which there is something to choose."""
    widest = space.sizes.compression({n: space.weight_bits[-1] for n in space.searched})
    narrowest = space.sizes.compression({n: space.weight_bits[0] for n in space.searched})
    return widest, narrowest


def _check_reachable(space: SearchSpace) -> None:
    """A target outside what the candidate widths span is refused before any data is made: above
    it nothing fits, below it the widest widths already meet it and minutes of search would only
    say so (MobileNetV2 at 50% under w4a8: every layer at 8 bits)."""
    low, high = reachable(space)
    target, widths = space.target, space.weight_bits
    span = (f"{space.arch} under scheme {space.scheme.name} reaches {low:.2f}% ({widths[-1]}-bit weights) to "
            f"{high:.2f}% ({widths[0]}-bit weights) with the candidate widths {widths}")
    advice = f"choose a target from {math.ceil(low * 100) / 100:.2f} to {math.floor(high * 100) / 100:.2f}"
    if math.ceil(low * 100) > math.floor(high * 100):  # one width, or next to no layer left to change
        advice = "give the search more candidate widths (--search-arg weight_bits=[2,3,4,5,6,7,8]) or fewer fixed layers"
    if not 0 <= target < 100:
        raise KitError(f"the target compression must be a percentage from 0 to below 100, got {target}; "
                       f"{span}: {advice}")
    if space.sizes.budget(target) < space.sizes.total_bytes({n: widths[0] for n in space.searched}):
        raise KitError(f"a target compression of {target}% is beyond what {space.arch} reaches with "
                       f"{widths[0]}-bit weights everywhere the search may change ({high:.2f}%); {span}: "
                       f"{advice}" + (", or fix fewer layers" if "fixed by --fix" in space.fixed.values() else ""))
    if target < low:
        raise KitError(f"a target compression of {target}% is below what {space.arch} already reaches with "
                       f"{widths[-1]}-bit weights everywhere the search may change ({low:.2f}%): there is "
                       f"nothing to choose; {span}: {advice}, or drop --target-compression for a uniform scheme")


def _first_samples(batches, count: int) -> list[torch.Tensor]:
    kept, total = [], 0
    for batch in batches:
        if total >= count:
            break
        kept.append(batch[: count - total])
        total += len(kept[-1])
    return kept


def options(space: SearchSpace, sens: Sensitivities) -> list[list[tuple[int, float]]]:
    """Per searched layer, (bytes, sensitivity) of each weight width; the best activation width
    adds its own sensitivity and no byte (activation parameters do not depend on the width)."""
    result = []
    for name in space.searched:
        act = min(sens.activations[name].values()) if name in sens.activations else 0.0
        result.append([(space.sizes.layer_bytes(name, b), sens.weights[name][b] + act) for b in space.weight_bits])
    return result


def choice_at(space: SearchSpace, sens: Sensitivities, frontier: Frontier, target: float) -> Choice:
    index = frontier.best_within(space.sizes.budget(target) - space.sizes.fixed_bytes)
    if index is None:
        raise KitError(f"no configuration reaches {target}% compression")
    picks = frontier.choices(index)
    bits = {name: space.weight_bits[p] for name, p in zip(space.searched, picks)}
    acts = {name: min(sens.activations[name], key=lambda b: (sens.activations[name][b], -b))
            for name in space.act_searched}
    return Choice(target, bits, acts, space.sizes.total_bytes(bits), space.sizes.compression(bits),
                  float(frontier.costs[index]))


def default_sweep(space: SearchSpace) -> list[float]:
    """Whole percentages from all-widest to all-narrowest, plus the target."""
    low = space.sizes.compression({n: space.weight_bits[-1] for n in space.searched})
    high = space.sizes.compression({n: space.weight_bits[0] for n in space.searched})
    return sorted(set(range(math.ceil(low), math.floor(high) + 1)) | {space.target})


def describe(space: SearchSpace, data: dict | None = None) -> dict:
    """What sensitivities depend on (the model, scheme, proxy and the synthetic `data`): saved
    with them, checked when they are reused."""
    iterations = {"proxy_iterations": space.proxy_iterations} if space.proxy_iterations else {}
    return {"arch": space.arch, "num_classes": space.num_classes, "scheme": space.scheme.name,
            "proxy": space.proxy, "samples": space.samples, **iterations, **(data or {})}


def search(space: SearchSpace, fp32_model: torch.nn.Module, batches, sweep: list[float] | None = None,
           sensitivities: Sensitivities | None = None) -> SearchResult:
    """Sensitivities on the first `space.samples` synthetic samples (unless given, e.g. loaded
    from an earlier run), then the exact frontier, then the chosen widths' prediction."""
    device = next(fp32_model.parameters()).device
    samples = [b.to(device=device, dtype=torch.float32) for b in _first_samples(batches, space.samples)]
    if not samples:
        raise KitError("the generator yielded no batch to measure sensitivities on")
    folded, samples = for_measuring(fold_batchnorm(copy.deepcopy(fp32_model).eval()), samples)
    candidates = CandidateWeights(folded, space.specs)  # shared by the measurement and the prediction
    start = time.perf_counter()
    sens = sensitivities
    if sens is None:
        sens = measure(folded, space.specs, space.searched, samples, weight_bits=space.weight_bits,
                       act_bits=space.act_bits, proxies=(space.proxy,), proxy_iterations=space.proxy_iterations,
                       candidates=candidates)[space.proxy]
    measured = time.perf_counter() - start
    start = time.perf_counter()
    sweep = sorted(set(sweep or default_sweep(space)) | {space.target})
    for value in sweep:
        if not 0 <= value < 100:
            raise KitError(f"sweep point {value} is not a percentage from 0 to below 100")
    frontier = solve_frontier(options(space, sens), space.sizes.budget(min(sweep)) - space.sizes.fixed_bytes)
    chosen = choice_at(space, sens, frontier, space.target)
    solved = time.perf_counter() - start
    rows = [choice_at(space, sens, frontier, t) for t in sweep if space.sizes.budget(t) >= space.sizes.fixed_bytes
            and frontier.best_within(space.sizes.budget(t) - space.sizes.fixed_bytes) is not None]
    start = time.perf_counter()
    bits = {name: spec.weight_bits for name, spec in space.specs.items() if spec.weight_bits is not None}
    bits.update(chosen.weight_bits)
    with strict_float32():
        if space.proxy_iterations:  # the searched layers' weights as the proxy measured them (made if
            # the sensitivities were loaded); layers set apart stay rounded to nearest, as they are measured
            candidates.reconstruct(list(chosen.weight_bits.items()), samples, space.proxy_iterations)
        prediction = predict(folded, candidates, bits, samples)
    seconds = {"sensitivities": measured, "solve": solved, "predict": time.perf_counter() - start}
    return SearchResult(space, sens, frontier, chosen, rows, seconds, prediction=prediction)


def layer_rules(space: SearchSpace, choice: Choice) -> list[dict]:
    """The choice as layer-config rules (one per layer, every quantized layer explicit, so the
    file means the same whatever the scheme's defaults become)."""
    rules = []
    for name, spec in space.specs.items():
        if name in choice.weight_bits:
            rule = {"match": name, "weight_bits": choice.weight_bits[name]}
            if name in choice.act_bits:
                rule["act_bits"] = choice.act_bits[name]
        elif spec.weight_bits is not None:
            rule = {"match": name, "weight_bits": spec.weight_bits}
        else:
            continue  # a layer the scheme keeps in float stays so without a rule
        rules.append(rule)
    return rules
