"""Per-layer overrides of the scheme, from a small TOML file:

    [[layer]]
    match = "features.1*"     # shell-style pattern on layer names (see `--list-layers`)
    weight_bits = 4           # 2..8
    act_bits = 8              # 2..8

    [[layer]]
    match = "classifier.1"
    quantize = false          # keep this layer in float

Rules apply in file order; a later match overrides an earlier one. A pattern that matches no
layer is an error, since it is almost always a typo.
"""
from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import KitError
from ..size import MAX_BITS, MIN_BITS
from .schemes import Scheme

ALLOWED_KEYS = {"match", "weight_bits", "act_bits", "quantize"}


@dataclass(frozen=True)
class LayerSpec:
    """What happens to one conv/linear layer: None bits means left in float."""

    weight_bits: int | None
    act_bits: int | None
    per_channel: bool
    weight_observer: str
    act_observer: str
    reduce_range: bool

    def to_json(self) -> dict:
        return {"weight_bits": self.weight_bits, "act_bits": self.act_bits, "per_channel": self.per_channel,
                "reduce_range": self.reduce_range}


def default_spec(scheme: Scheme) -> LayerSpec:
    return LayerSpec(scheme.weight_bits, scheme.act_bits, scheme.per_channel, scheme.weight_observer,
                     scheme.act_observer, scheme.reduce_range)


def read_layer_config(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise KitError(f"layer config {str(path)!r} does not exist; pass a TOML file with --layer-config")
    try:
        rules = tomllib.loads(path.read_text(encoding="utf-8")).get("layer", [])
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise KitError(f"layer config {str(path)!r} is not valid TOML ({error})") from None
    if not isinstance(rules, list):
        raise KitError(f"layer config {str(path)!r}: use [[layer]] tables")
    for number, rule in enumerate(rules, start=1):
        where = f"layer config {str(path)!r}, rule {number}"
        if not isinstance(rule, dict):
            raise KitError(f"{where}: each rule must be a [[layer]] table")
        unknown = set(rule) - ALLOWED_KEYS
        if unknown:
            raise KitError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; use {', '.join(sorted(ALLOWED_KEYS))}")
        if not isinstance(rule.get("match"), str):
            raise KitError(f"{where}: needs match = \"<layer name pattern>\"")
        for key in ("weight_bits", "act_bits"):
            if key in rule and (not isinstance(rule[key], int) or not MIN_BITS <= rule[key] <= MAX_BITS):
                raise KitError(f"{where}: {key} must be an integer from {MIN_BITS} to {MAX_BITS}")
        if "quantize" in rule and not isinstance(rule["quantize"], bool):
            raise KitError(f"{where}: quantize must be true or false")
    return rules


def resolve_layer_specs(layer_names: list[str], scheme: Scheme, rules: list[dict] | None = None,
                        stem_readers: list[str] = ()) -> dict[str, LayerSpec]:
    """Each layer's spec: the scheme's, its edges (Scheme.edge_bits), then the rules in order.

    `stem_readers`: the layers that read the first layer's output (quantize.stem_readers)."""
    specs = {name: default_spec(scheme) for name in layer_names}
    if scheme.edge_bits is not None and layer_names:
        # In module order the first layer is the stem conv (it reads the image) and the last one
        # the classifier, in all three architectures.
        first, last = layer_names[0], layer_names[-1]
        edge = scheme.edge_bits
        specs[first] = replace(specs[first], weight_bits=max(edge, specs[first].weight_bits),
                               act_bits=max(edge, specs[first].act_bits))
        for name in (*stem_readers, last):
            specs[name] = replace(specs[name], act_bits=max(edge, specs[name].act_bits))
    for rule in rules or []:
        matched = fnmatch.filter(layer_names, rule["match"])
        if not matched:
            raise KitError(f"layer config pattern {rule['match']!r} matches no layer; "
                           f"layers are named like {', '.join(layer_names[:3])}")
        for name in matched:
            spec = specs[name]
            if rule.get("quantize") is False:
                spec = replace(spec, weight_bits=None, act_bits=None)
            if "weight_bits" in rule:
                spec = replace(spec, weight_bits=rule["weight_bits"])
            if "act_bits" in rule:
                spec = replace(spec, act_bits=rule["act_bits"])
            specs[name] = spec
    return specs
