"""The output.txt format: one definition, used by the kit (writer) and the scorer (reader).

Version 1. A file is one or more sections, one per model, each self-describing:

    #dfq-output v1<TAB>model=resnet18<TAB>generator=gaussian<TAB>scheme=int8<TAB>quantized_bytes=11696528<TAB>fp32_bytes=46827520<TAB>num_images=1670
    n01440764/ILSVRC2012_val_00003014.JPEG<TAB>0
    ...

- The header starts with `#dfq-output v1` and carries exactly the keys in HEADER_KEYS.
- Then `num_images` lines `<relative path><TAB><predicted class index>`, paths relative to
  the evaluated folder with `/` separators, in canonical order (sorted paths).
- UTF-8 without BOM, `\n` line ends, no blank lines, nothing else. Because every section
  carries its own header, the output of several `main.py` runs concatenates into a valid file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, TextIO

from .errors import KitError

MAGIC = "#dfq-output"
VERSION = "v1"
HEADER_KEYS = ("model", "generator", "scheme", "quantized_bytes", "fp32_bytes", "num_images")
INT_KEYS = ("quantized_bytes", "fp32_bytes", "num_images")
# A run of well-formed prediction lines; checked in one pass, then split without further checks.
_NUMBER = re.compile("0|[1-9][0-9]{0,17}")  # ASCII digits only: str.isdigit() takes '²' and '١'
_PREDICTIONS = re.compile(r"(?:[^\t\n#][^\t\n]*\t(?:0|[1-9][0-9]{0,8})\n)*")


@dataclass
class Section:
    """One model's predictions. `predictions` maps relative path -> class index, in file order."""

    model: str
    generator: str
    scheme: str
    quantized_bytes: int
    fp32_bytes: int
    predictions: dict[str, int] = field(default_factory=dict)
    header_line: int = 0  # 1-based line of the header in the file it was read from
    declared_images: int = -1  # num_images from the header, when read from a file

    @property
    def num_images(self) -> int:
        return len(self.predictions)


def format_header(section: Section) -> str:
    values = {
        "model": section.model,
        "generator": section.generator,
        "scheme": section.scheme,
        "quantized_bytes": section.quantized_bytes,
        "fp32_bytes": section.fp32_bytes,
        "num_images": section.num_images,
    }
    for key in ("model", "generator", "scheme"):
        if not values[key] or any(c in values[key] for c in "\t\n\r="):
            raise KitError(f"output header value {key}={values[key]!r} must be non-empty with no tab, newline or '='")
    return "\t".join([f"{MAGIC} {VERSION}"] + [f"{k}={values[k]}" for k in HEADER_KEYS])


def write_section(stream: TextIO, section: Section) -> None:
    """Write one section; the caller's stream is stdout for main.py."""
    lines = [format_header(section)]
    for path, label in section.predictions.items():
        if "\t" in path or "\n" in path or "\\" in path:
            raise KitError(f"image path {path!r} cannot be written to output.txt (tab, newline or backslash)")
        lines.append(f"{path}\t{int(label)}")
    stream.write("\n".join(lines) + "\n")
    stream.flush()


class FormatError(KitError):
    """output.txt does not follow the format; the message names the line."""


def _fail(line_no: int, what: str, fix: str) -> None:
    raise FormatError(f"output.txt line {line_no}: {what}; {fix}")


def _parse_header(text: str, line_no: int) -> Section:
    fields = text.split("\t")
    magic = fields[0]
    if magic != f"{MAGIC} {VERSION}":
        if magic.startswith(MAGIC):
            _fail(line_no, f"unsupported format version {magic[len(MAGIC):].strip()!r}", f"this scorer reads {VERSION}")
        _fail(line_no, "expected a section header", f"start each model's section with '{MAGIC} {VERSION}'")
    values: dict[str, str] = {}
    for item in fields[1:]:
        key, sep, value = item.partition("=")
        if not sep:
            _fail(line_no, f"header field {item!r} is not key=value", "separate fields by tabs, as key=value")
        if key not in HEADER_KEYS:
            _fail(line_no, f"unknown header key {key!r}", f"use exactly {', '.join(HEADER_KEYS)}")
        if key in values:
            _fail(line_no, f"header key {key!r} given twice", "give each key once")
        values[key] = value
    missing = [k for k in HEADER_KEYS if k not in values]
    if missing:
        _fail(line_no, f"header lacks {', '.join(missing)}", f"give all of {', '.join(HEADER_KEYS)}")
    for key in INT_KEYS:
        if not _NUMBER.fullmatch(values[key]):
            _fail(line_no, f"header {key}={values[key]!r} is not a non-negative integer", "write a plain integer")
    for key in ("model", "generator", "scheme"):
        if not values[key]:
            _fail(line_no, f"header {key} is empty", "name the " + key)
    section = Section(values["model"], values["generator"], values["scheme"],
                      int(values["quantized_bytes"]), int(values["fp32_bytes"]), header_line=line_no)
    section.declared_images = int(values["num_images"])  # checked when the section closes
    return section


def _close(section: Section | None, line_no: int) -> None:
    if section is not None and section.num_images != section.declared_images:
        _fail(line_no, f"section {section.model!r} (header line {section.header_line}) declares "
              f"{section.declared_images} images but has {section.num_images} lines",
              "make num_images match the prediction lines")


def parse(data: bytes, max_lines: int | None = None) -> list[Section]:
    """Strictly parse output.txt bytes into sections. Raises FormatError naming the line."""
    if data.startswith(b"\xef\xbb\xbf"):
        raise FormatError("output.txt line 1: starts with a UTF-8 byte-order mark; save it as UTF-8 without BOM")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line_no = data[: error.start].count(b"\n") + 1
        raise FormatError(f"output.txt line {line_no}: not valid UTF-8; write the file as UTF-8") from None
    if not text:
        raise FormatError("output.txt is empty; it must hold one section per model")
    if "\r" in text:
        line_no = text[: text.index("\r")].count("\n") + 1
        _fail(line_no, "has a carriage return (Windows CRLF line ends?)", "use \\n line ends only")
    if not text.endswith("\n"):
        _fail(text.count("\n") + 1, "the file does not end with a newline", "end the last line with \\n")
    line_count = text.count("\n")
    if max_lines is not None and line_count > max_lines:
        raise FormatError(f"output.txt has {line_count} lines, more than the {max_lines} allowed")
    sections: list[Section] = []
    position, line_no = 0, 1
    while position < len(text):
        if text[position] != "#":
            _fail(line_no, "prediction before any section header", f"start with a '{MAGIC} {VERSION}' header")
        end = text.index("\n", position)
        section = _parse_header(text[position:end], line_no)
        if any(s.model == section.model for s in sections):
            _fail(line_no, f"a second section for model {section.model!r}", "give each model one section")
        sections.append(section)
        body_start = end + 1
        body_end = _PREDICTIONS.match(text, body_start).end()
        fields = text[body_start:body_end].replace("\t", "\n").split("\n")[:-1]  # path, label, path, label, ...
        section.predictions = dict(zip(fields[0::2], map(int, fields[1::2])))
        count = len(fields) // 2
        if len(section.predictions) != count:  # a path repeated
            _find_error(text[body_start:body_end].split("\n")[:-1], line_no + 1, section)
        line_no += 1 + count
        position = body_end
        if position < len(text) and text[position] != "#":
            _find_error([text[position:text.index("\n", position)]], line_no, section)
        _close(section, line_no)
    return sections


def _find_error(lines: list[str], first_line_no: int, section: Section) -> None:
    """The slow path, taken only for a bad file: name the first offending line."""
    seen: set[str] = set()
    for line_no, line in enumerate(lines, start=first_line_no):
        if not line:
            _fail(line_no, "blank line", "remove blank lines")
        path, sep, label = line.partition("\t")
        if not sep or "\t" in label:
            _fail(line_no, f"expected '<path><TAB><class index>', got {line[:80]!r}", "write one path and one index per line")
        if not label.isdigit() or (len(label) > 1 and label[0] == "0") or len(label) > 9:
            _fail(line_no, f"class index {label[:20]!r} is not a non-negative integer", "write the predicted class index")
        if path in seen:
            _fail(line_no, f"image {path!r} appears twice in section {section.model!r}", "list each image once")
        seen.add(path)
    _fail(first_line_no, "malformed prediction line", "write '<path><TAB><class index>' lines")


def read(path) -> list[Section]:
    with open(path, "rb") as handle:
        return parse(handle.read())


def sections_by_model(sections: Iterable[Section]) -> dict[str, Section]:
    return {s.model: s for s in sections}
