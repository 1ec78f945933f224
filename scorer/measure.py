"""Compression per model, recomputed from the submitted artifact with the kit's size accounting.

The header's sizes are the participant's word: the scorer never uses them, and reports a
disagreement as a note. Reading an artifact validates it fully (integer ranges included), so
results are cached per process by the artifact's sha256: teams resubmit the same models with
a new output.txt far more often than they change the models.
"""
from __future__ import annotations

import functools
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from challenge.errors import KitError
from challenge.output_format import Section

from .config import Rules

CACHE_SIZE = 32
_cache: OrderedDict[str, tuple] = OrderedDict()


@dataclass
class Measured:
    quantized_bytes: int
    fp32_bytes: int
    compression: float
    notes: list[str]


class ArtifactMismatch(KitError):
    """The artifact is valid but is not the model or scheme that output.txt says it is."""


@functools.lru_cache(maxsize=None)
def fp32_bytes_of(model: str, num_classes: int) -> int:
    from challenge.size import fp32_size_bytes_of_arch

    return fp32_size_bytes_of_arch(model, num_classes)


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MiB chunks (uploads can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def artifact_facts(path: Path) -> tuple[str, int, str, int]:
    """(arch, num_classes, scheme, quantized_bytes) of a fully validated artifact."""
    from challenge.artifact import read_artifact

    key = file_sha256(path)
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    try:
        contents = read_artifact(path)
    except KitError as error:
        # The kit names the file by its full path, which here is a temporary folder: name the member.
        message = str(error).replace(f"artifact {str(path)!r}: ", "").replace(str(path), path.name)
        raise type(error)(f"{path.parent.name}/{path.name}: {message}") from None
    facts = (contents.arch, int(contents.num_classes), contents.scheme, int(contents.quantized_bytes))
    _cache[key] = facts
    if len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return facts


def measure(model: str, section: Section, artifact: Path | None, rules: Rules) -> Measured:
    from challenge.size import compression_ratio

    notes: list[str] = []
    fp32 = fp32_bytes_of(model, rules.num_classes)
    if artifact is None:  # only for 2021 submissions when the organizers allow it
        quantized = section.quantized_bytes
        notes.append(f"{model}: compression from the declared size (2021 format, no artifact)")
    else:
        arch, num_classes, scheme, quantized = artifact_facts(artifact)
        name = f"models/{artifact.name}"
        if arch != model:
            raise ArtifactMismatch(f"{name} holds a {arch!r} model, not {model!r}; save each model under its own name")
        if num_classes != rules.num_classes:
            raise ArtifactMismatch(f"{name} has {num_classes} classes but this challenge has {rules.num_classes}")
        if section.scheme != "legacy2021" and section.scheme != scheme:
            raise ArtifactMismatch(f"output.txt line {section.header_line}: header says scheme={section.scheme} "
                                   f"but {name} was saved with scheme {scheme!r}; submit the matching pair")
        if section.quantized_bytes != quantized:
            notes.append(f"{model}: header says quantized_bytes={section.quantized_bytes}, the artifact measures "
                         f"{quantized}; the scorer uses {quantized}")
    if section.fp32_bytes and section.fp32_bytes != fp32:
        notes.append(f"{model}: header says fp32_bytes={section.fp32_bytes}, the scorer uses {fp32}")
    return Measured(quantized, fp32, compression_ratio(fp32, quantized), notes)
