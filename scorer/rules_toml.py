"""Rules back to TOML, the form config.load_rules reads: how a bundle carries the organizer's rules.

Written out in full (every key, defaults included), so the scoring program on a compute worker
applies exactly the rules the organizer's config gives here, whatever defaults it ships with.
"""
from __future__ import annotations

import dataclasses
import json

from .config import _SECTIONS, Rules


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def _lines(instance, skip=()) -> list[str]:
    return [f"{f.name} = {_value(getattr(instance, f.name))}" for f in dataclasses.fields(instance)
            if f.name not in skip and getattr(instance, f.name) is not None]


def dumps(rules: Rules) -> str:
    """TOML text that load_rules turns back into `rules` (paths as given: make them relative first)."""
    lines = ["# Written by `python -m scorer bundle`: the rules the scoring program applies.", "[rules]"]
    lines += _lines(rules, skip=set(_SECTIONS))
    for table in _SECTIONS:
        lines += ["", f"[{table}]", *_lines(getattr(rules, table))]
    return "\n".join(lines) + "\n"
