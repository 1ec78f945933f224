"""Builders for test submissions: zips with chosen members, output.txt bytes, small ground truths."""
from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

MODELS = ("resnet18", "mobilenet_v2", "shufflenet_v2_x1_0")


def image_names(count: int, classes: int = 10) -> list[str]:
    return [f"n{c:08d}/img_{i:05d}.JPEG" for i in range(count) for c in [i % classes]]


def ground_truth_csv(path: Path, files: list[str], labels: list[int]) -> Path:
    path.write_text("file,index\n" + "".join(f"{f},{l}\n" for f, l in zip(files, labels)), encoding="utf-8")
    return path


def output_text(files, labels_by_model: dict[str, list[int]], *, quantized_bytes=None, fp32_bytes=None,
                scheme="int8", generator="gaussian") -> bytes:
    lines = []
    for model, labels in labels_by_model.items():
        q = (quantized_bytes or {}).get(model, 1)
        f = (fp32_bytes or {}).get(model, 4)
        lines.append(f"#dfq-output v1\tmodel={model}\tgenerator={generator}\tscheme={scheme}\t"
                     f"quantized_bytes={q}\tfp32_bytes={f}\tnum_images={len(labels)}")
        lines += [f"{p}\t{l}" for p, l in zip(files, labels)]
    return ("\n".join(lines) + "\n").encode()


def make_zip(path: Path, members: dict[str, bytes], *, modes: dict[str, int] | None = None,
             compression=zipfile.ZIP_DEFLATED, stored=()) -> Path:
    """Members by name; `modes` sets Unix mode bits (e.g. symlinks) the way hostile zips do; the
    members named in `stored` are stored as they are, the others compressed with `compression`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if name in stored else compression
            info.create_system = 3
            info.external_attr = ((modes or {}).get(name, stat.S_IFREG | 0o644)) << 16
            archive.writestr(info, data)
    return path


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()
