"""The 2021 baseline's output format, recognised so that old submissions can still be scored.

    In (MB): 11.17
    65
    970
    ...
    In (MB): 3.52
    ...

One block per model in a fixed order, each `In (MB): <size>` then one bare class index per
line. There are no image paths, so the labels mean something only together with the list of
images in the order they were evaluated ([legacy2021] image_order in the config). Blocks are
turned into ordinary sections and go through the same checks as the current format.
"""
from __future__ import annotations

from challenge.output_format import Section

from .config import Legacy2021
from .groundtruth import read_image_order
from .validate import ValidationError

MARKER = "In (MB):"


def is_legacy(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf").startswith(MARKER.encode())


def parse_legacy(data: bytes, settings: Legacy2021, *, image_order: list[str] | None = None) -> list[Section]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("output.txt (2021 format) is not UTF-8 text") from None
    if image_order is None:
        if not settings.image_order:
            raise ValidationError(
                "output.txt is in the 2021 format ('In (MB):' lines, then bare labels), which has no image paths; "
                "to score it the organizers must set [legacy2021] image_order to a file listing the evaluated "
                "images in order, or re-run the current kit, whose output names each image")
        image_order = read_image_order(settings.image_order)
    blocks: list[tuple[int, float, list[int]]] = []
    for line_no, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith(MARKER):
            try:
                size_mb = float(line[len(MARKER):])
            except ValueError:
                raise ValidationError(f"output.txt line {line_no}: size {line[len(MARKER):].strip()!r} is not a number") from None
            blocks.append((line_no, size_mb, []))
        elif not line.isdigit():
            raise ValidationError(f"output.txt line {line_no}: expected a class index or 'In (MB): <size>', got {line[:40]!r}")
        elif not blocks:
            raise ValidationError(f"output.txt line {line_no}: a label before the first '{MARKER}' line")
        else:
            blocks[-1][2].append(int(line))
    if len(blocks) != len(settings.model_order):
        raise ValidationError(f"output.txt (2021 format) has {len(blocks)} 'In (MB):' blocks; expected one per model, "
                              f"in the order {', '.join(settings.model_order)}")
    sections = []
    for model, (line_no, size_mb, labels) in zip(settings.model_order, blocks):
        if len(labels) != len(image_order):
            raise ValidationError(f"output.txt line {line_no}: the {model} block has {len(labels)} labels but the image "
                                  f"order lists {len(image_order)} images")
        sections.append(Section(model=model, generator="legacy2021", scheme="legacy2021",
                                quantized_bytes=round(size_mb * settings.bytes_per_mb), fp32_bytes=0,
                                predictions=dict(zip(image_order, labels)), header_line=line_no,
                                declared_images=len(labels)))
    return sections
