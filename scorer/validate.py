"""Cross-checks of a parsed output.txt against the challenge: the part the format reader cannot know.

challenge.output_format.parse has already rejected malformed lines, duplicates within a
section and count mismatches. Here: every required model present and no other, each
ground-truth image exactly once per model, class indices in range. The result is one numpy
array of predictions per model, aligned with the ground truth's order, so scoring is a
vector comparison.
"""
from __future__ import annotations

from collections.abc import KeysView

import numpy as np

from challenge.errors import KitError
from challenge.output_format import Section

from .groundtruth import GroundTruth


class ValidationError(KitError):
    """output.txt is well-formed but does not answer the challenge; the message says what to fix."""


def _line_of(section: Section, path: str) -> int:
    for offset, candidate in enumerate(section.predictions, start=1):
        if candidate == path:
            return section.header_line + offset
    return section.header_line


def check_models(sections: list[Section], required: tuple[str, ...]) -> dict[str, Section]:
    by_model = {s.model: s for s in sections}
    extra = [s for s in sections if s.model not in required]
    if extra:
        raise ValidationError(f"output.txt line {extra[0].header_line}: model {extra[0].model!r} is not part of "
                              f"this challenge; the models are {', '.join(required)}")
    missing = [m for m in required if m not in by_model]
    if missing:
        raise ValidationError(f"output.txt has no section for {', '.join(missing)}; "
                              f"run main.py for each of {', '.join(required)} and concatenate the outputs")
    return by_model


def _keys(section: Section, truth: GroundTruth):
    if not truth.by_basename:
        return section.predictions.keys()
    names = [truth.key(p) for p in section.predictions]
    if len(set(names)) != len(names):
        seen = set()
        for path in section.predictions:
            name = truth.key(path)
            if name in seen:
                raise ValidationError(f"output.txt line {_line_of(section, path)}: image {name!r} appears twice "
                                      f"in section {section.model!r} (under two folders); list each image once")
            seen.add(name)
    return names


def _coverage_error(section: Section, keys, truth: GroundTruth) -> ValidationError:
    given = set(keys)
    unknown = [p for p in section.predictions if truth.key(p) not in truth.index]
    if unknown:
        return ValidationError(
            f"output.txt line {_line_of(section, unknown[0])}: image {unknown[0]!r} is not in the ground truth "
            f"({len(unknown)} such lines in section {section.model!r}); evaluate the challenge's image folder")
    missing = [f for f in truth.files if f not in given]
    return ValidationError(
        f"output.txt section {section.model!r} (line {section.header_line}) lacks {len(missing)} of the "
        f"{len(truth)} images, e.g. {missing[0]!r}; evaluate every image of the challenge folder")


def aligned_predictions(section: Section, truth: GroundTruth, num_classes: int) -> np.ndarray:
    """Predictions of one section as an int64 array in ground-truth order, or ValidationError."""
    keys = _keys(section, truth)
    count = len(section.predictions)
    # The kit writes canonical (sorted) order, so the paths usually equal the ground truth's list.
    in_order = count == len(truth) and not truth.by_basename and list(keys) == truth.files
    if not in_order:
        comparable = keys if isinstance(keys, KeysView) else set(keys)
        if count != len(truth) or truth.index.keys() != comparable:  # a set comparison, in C
            raise _coverage_error(section, keys, truth)
    labels = np.fromiter(section.predictions.values(), dtype=np.int64, count=count)
    if count and int(labels.max()) >= num_classes:
        bad = int(np.argmax(labels >= num_classes))
        path = list(section.predictions)[bad]
        raise ValidationError(f"output.txt line {section.header_line + bad + 1}: class index {int(labels[bad])} "
                              f"for {path!r} is outside [0, {num_classes}); indices count from 0")
    if in_order:
        return labels
    positions = np.fromiter(map(truth.index.__getitem__, keys), dtype=np.int64, count=count)
    aligned = np.empty(count, dtype=np.int64)
    aligned[positions] = labels
    return aligned


def validate(sections: list[Section], truth: GroundTruth, required: tuple[str, ...],
             num_classes: int) -> dict[str, np.ndarray]:
    by_model = check_models(sections, required)
    return {model: aligned_predictions(by_model[model], truth, num_classes) for model in required}
