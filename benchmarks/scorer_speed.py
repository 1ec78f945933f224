"""Scorer throughput: 200 synthetic submissions of 3 x 50,000 lines, scored without verification.

    python benchmarks/scorer_speed.py [--count 200] [--images 50000] [--workers 2] [--deflate-models] [--keep DIR]

Each submission has its own output.txt (random labels) and the same three real artifacts
(random weights, int8, saved by the kit), stored as a participant's zip would hold them.
Times `scorer run` end to end (inbox scan with hashing, extraction, parsing, validation,
artifact checks, database writes) and prints submissions per second. Target: >= 5/s on 2 cores.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from challenge.models import MODEL_NAMES  # noqa: E402
from scorer import db, runner  # noqa: E402
from scorer.config import Rules  # noqa: E402

NUM_CLASSES = 1000


def make_artifacts(folder: Path) -> dict[str, tuple[Path, int, int]]:
    import torch

    from challenge.artifact import read_artifact, save_artifact
    from challenge.models import build_architecture
    from challenge.quant.quantize import quantize_model
    from challenge.quant.schemes import get_scheme

    made = {}
    for arch in MODEL_NAMES:
        torch.manual_seed(0)
        qmodel = quantize_model(build_architecture(arch, NUM_CLASSES).eval(), get_scheme("int8"),
                                [torch.randn(2, 3, 64, 64)])
        path = folder / f"{arch}.safetensors"
        save_artifact(path, qmodel, arch=arch, num_classes=NUM_CLASSES, scheme="int8", generator="gaussian")
        contents = read_artifact(path)
        made[arch] = (path, contents.quantized_bytes, contents.fp32_bytes)
    return made


def make_inbox(root: Path, count: int, images: int, compress_models: int) -> Rules:
    # Canonical order (sorted paths), as main.py writes them.
    files = sorted(f"n{i % 1000:08d}/ILSVRC2012_val_{i + 1:08d}.JPEG" for i in range(images))
    truth = np.random.default_rng(0).integers(0, NUM_CLASSES, images)
    (root / "gt.csv").write_text("file,index\n" + "".join(f"{f},{l}\n" for f, l in zip(files, truth)))
    artifacts = make_artifacts(root)
    rng = np.random.default_rng(1)
    for k in range(count):
        lines = []
        for arch, (_, quantized, fp32) in artifacts.items():
            labels = np.where(rng.random(images) < 0.7, truth, rng.integers(0, NUM_CLASSES, images))
            lines.append(f"#dfq-output v1\tmodel={arch}\tgenerator=gaussian\tscheme=int8\t"
                         f"quantized_bytes={quantized}\tfp32_bytes={fp32}\tnum_images={images}")
            lines += [f"{f}\t{l}" for f, l in zip(files, labels.tolist())]
        path = root / "inbox" / f"team{k % 25:02d}" / f"sub{k:03d}.zip"
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            archive.writestr("output.txt", "\n".join(lines) + "\n")
            for arch, (artifact, _, _) in artifacts.items():
                # Stored, as `scorer pack` stores them (quantized weights barely deflate);
                # --deflate-models measures zips whose tool deflated them anyway.
                archive.write(artifact, f"models/{arch}.safetensors", compress_type=compress_models)
            archive.writestr("code/README.md", "synthetic\n")
        print(f"\rbuilding submissions {k + 1}/{count}", end="", file=sys.stderr)
    print(file=sys.stderr)
    return Rules(num_classes=NUM_CLASSES, ground_truth=str(root / "gt.csv"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--deflate-models", action="store_true", help="deflate the artifacts in the zips")
    parser.add_argument("--keep", help="build (or reuse) the inbox here instead of a temporary folder")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="scorer-bench-") as scratch:
        root = Path(args.keep or scratch)
        root.mkdir(parents=True, exist_ok=True)
        if (root / "gt.csv").exists() and (root / "inbox").is_dir():
            rules = Rules(num_classes=NUM_CLASSES, ground_truth=str(root / "gt.csv"))
        else:
            rules = make_inbox(root, args.count, args.images,
                               zipfile.ZIP_DEFLATED if args.deflate_models else zipfile.ZIP_STORED)
        (root / "scores.sqlite").unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(root / "scores.sqlite") + suffix).unlink(missing_ok=True)
        conn = db.connect(root / "scores.sqlite")
        start = time.perf_counter()
        summary = runner.run(conn, rules, root / "inbox", verify=False, workers=args.workers)
        seconds = time.perf_counter() - start
        done = summary.scored + summary.invalid
        print(f"{done} submissions ({summary.scored} scored, {summary.invalid} invalid) of "
              f"{len(rules.models)} x {args.images} lines in {seconds:.1f} s with {args.workers} workers: "
              f"{done / seconds:.2f} submissions/s")
        slowest = conn.execute("SELECT AVG(seconds), MAX(seconds) FROM submissions").fetchone()
        print(f"per submission in a worker: mean {slowest[0]:.3f} s, max {slowest[1]:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
