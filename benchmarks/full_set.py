"""The full validation set at scale: a 50,000-image tree, run.bash cold and warm, torchrun, verification.

    python benchmarks/full_set.py --weights-dir W --out benchmarks/results/h100-full-set [--images 50000]
        [--tree /scratch/full-set] [--source DIR] [--nproc 2] [--extra '--device cuda']

1. Builds (or reuses) a measurement tree of distinct JPEGs shaped like ImageNet validation files
   (500x375, about 110 KB) from the shared imagenette10 images: image i is source i mod 1,670,
   scaled to cover 500x375, cropped at an offset, flipped on odd variants, given seeded grain
   (so that it compresses like a photograph, not like an upscaled thumbnail) and saved at a
   quality between 93 and 96. All of it is a function of i: the same tree on every machine.
   Folders are the imagenette wnids, so the stand-ins (10 classes) and MobileNetV2 run on it.
2. Times `bash run.bash` with an empty --cache-dir (cold: the first model decodes and stores),
   then again (warm: every model maps the cache), and with `--nproc-per-node N` for each N of
   --nproc (warm), checking that its output.txt is byte-identical to the single-process one.
3. Times full verification (scorer.verify.Verifier from the cache, CUDA when present) of the
   three artifacts run.bash saved; a submission per hour figure follows from it.
Writes OUT.json and OUT.md. Nothing here is a test: run it on the machine to be measured.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SOURCE = REPO.parent / "shared" / "assets" / "imagenette10"
WIDTH, HEIGHT = 500, 375
MODELS = ("resnet18", "mobilenet_v2", "shufflenet_v2_x1_0")


def sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("n*/*") if p.suffix.lower() in (".jpeg", ".jpg", ".png"))


def make_image(job: tuple[int, int, str, str]) -> int:
    """Write measurement image `index` (the `variant`-th made from `source`); its size in bytes."""
    from PIL import Image, ImageOps

    index, variant, source, target = job
    with Image.open(source) as image:
        image = image.convert("RGB")
        scale = max(WIDTH / image.width, HEIGHT / image.height) * (1.0 + 0.02 * (variant % 7))
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BICUBIC)
    left = (variant * 37) % (image.width - WIDTH + 1)
    top = (variant * 53) % (image.height - HEIGHT + 1)
    image = image.crop((left, top, left + WIDTH, top + HEIGHT))
    if variant % 2:
        image = ImageOps.mirror(image)
    pixels = np.asarray(image, dtype=np.int16)
    # Luma grain (one value for the three channels: chroma subsampling would smooth per-channel noise).
    grain = np.random.default_rng(index).integers(-16, 17, size=(*pixels.shape[:2], 1), dtype=np.int16)
    image = Image.fromarray(np.clip(pixels + grain, 0, 255).astype(np.uint8))
    image.save(target, "JPEG", quality=93 + variant % 4)
    return os.path.getsize(target)


def build_tree(tree: Path, count: int, jobs: int, source: Path = SOURCE) -> dict:
    """The tree of `count` images, made unless a complete one is there (its marker file says so)."""
    marker = tree / ".complete"
    if marker.is_file() and json.loads(marker.read_text()).get("images") == count:
        return json.loads(marker.read_text())
    pool_sources = sources(source)
    work = []
    for index in range(count):
        source = pool_sources[index % len(pool_sources)]
        folder = tree / source.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        variant = index // len(pool_sources)
        work.append((index, variant, str(source), str(folder / f"{source.stem}-v{variant:03d}.JPEG")))
    start = time.perf_counter()
    with multiprocessing.Pool(jobs) as pool:
        sizes = pool.map(make_image, work, chunksize=64)
    facts = {"images": count, "bytes": int(sum(sizes)), "mean_kb": round(sum(sizes) / count / 1000, 1),
             "build_s": round(time.perf_counter() - start, 1)}
    marker.write_text(json.dumps(facts))
    return facts


def timed(command: list[str], stdout_path: Path, env=None, logs: Path | None = None) -> float:
    """Seconds `command` took; its stdout to `stdout_path`, its stderr also to logs/<name>.log."""
    start = time.perf_counter()
    log_path = logs / f"{stdout_path.stem}.log" if logs else None
    with open(stdout_path, "wb") as out, open(log_path or os.devnull, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.PIPE,
                                   env=dict(os.environ, PYTHON=sys.executable, **(env or {})))
        for line in process.stderr:  # shown as it comes, and kept
            sys.stderr.buffer.write(line)
            sys.stderr.flush()
            log.write(line)
        process.wait()
    if logs:  # the output.txt too, to compare with other runs
        shutil.copyfile(stdout_path, logs / f"{stdout_path.stem}.out.txt")
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {process.returncode})")
    return round(time.perf_counter() - start, 1)


def verification_seconds(tree: Path, cache: Path, artifacts: Path) -> dict:
    """Full verification of the three saved artifacts from the cache (ground truth: the tree)."""
    import torch

    from challenge import data
    from scorer.config import Verification
    from scorer.groundtruth import load_ground_truth
    from scorer.verify import Verifier

    records = data.list_images(tree, data.class_list_for(1000))
    csv = cache / "ground-truth.csv"
    csv.write_text("file,index\n" + "".join(f"{r.path},{r.label}\n" for r in records))
    verifier = Verifier(load_ground_truth(csv, 1000), str(tree), Verification(batch_size=256, cache_dir=str(cache)))
    start = time.perf_counter()
    verifier.decode()
    mapped = time.perf_counter() - start
    per_model = {}
    for model in MODELS:
        start = time.perf_counter()
        verifier.predictions(artifacts / f"{model}.safetensors")
        per_model[model] = round(time.perf_counter() - start, 1)
    total = sum(per_model.values()) + mapped
    return {"device": verifier.device(), "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "map_s": round(mapped, 2), "per_model_s": per_model, "total_s": round(total, 1),
            "submissions_per_hour": round(3600 / total, 1)}


def write(out: Path, result: dict) -> None:
    """OUT.json and OUT.md of what is measured so far (called after each stage: a run cut off
    by a time limit still leaves its figures)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    facts = result["tree"]
    lines = [f"# The full set: {facts['images']} images ({facts['mean_kb']} KB each on average)", "",
             f"{result['machine']}. `{result['commands']['run.bash']}`", "", "| measurement | seconds |", "|---|---:|"]
    lines += [f"| {key} | {value} |" for key, value in result.items() if key.endswith("_s")]
    if "cache_bytes" in result:
        lines += ["", f"Cache: {result['cache_bytes']} bytes."]
    verify = result.get("verification")
    if verify:
        lines += ["", f"Full verification of three artifacts on {verify['device']}: "
                  f"{verify['total_s']} s ({verify['submissions_per_hour']} submissions per hour)."]
    lines += [f"torchrun {key[5:-len('_output_identical')]} processes: output.txt identical: {value}"
              for key, value in result.items() if key.startswith("nproc") and key.endswith("_output_identical")]
    if "warm_output_identical" in result:
        lines += [f"Warm output.txt identical to the cold one: {result['warm_output_identical']}"]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights-dir", required=True, help="the three checkpoints, as run.bash expects")
    parser.add_argument("--out", required=True, help="path prefix of the .json and .md written")
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--tree", help="where the measurement tree is built or found (default: a temporary folder)")
    parser.add_argument("--source", default=str(SOURCE), help="the labelled images the tree is made from "
                        "(an ImageFolder tree with wnids.txt; default: the shared imagenette10)")
    parser.add_argument("--logs", help="folder for each run's stderr (default: not kept)")
    parser.add_argument("--cache-dir", help="the runs' image cache folder, kept afterwards; it must not hold a "
                        "cache yet (the first run is the cold one). Default: a temporary folder")
    parser.add_argument("--nproc", default="", help="comma-separated process counts for torchrun runs, e.g. 2")
    parser.add_argument("--jobs", type=int, default=min(16, os.cpu_count() or 1), help="processes building the tree")
    parser.add_argument("--extra", default="", help="more run.bash options, one string (e.g. '--device cpu')")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        tree = Path(args.tree) if args.tree else scratch / "tree"
        source = Path(args.source)
        facts = build_tree(tree, args.images, args.jobs, source)
        print(f"tree: {json.dumps(facts)}", file=sys.stderr, flush=True)
        logs = Path(args.logs) if args.logs else None
        if logs:
            logs.mkdir(parents=True, exist_ok=True)
        cache = Path(args.cache_dir) if args.cache_dir else scratch / "cache"
        if any(cache.glob("images-*.u8")):
            raise SystemExit(f"{cache} already holds an image cache: the cold run would not be cold")
        common = ["bash", "run.bash", "--data", str(tree), "--classes", str(source / "wnids.txt"),
                  "--weights-dir", args.weights_dir, "--cache-dir", str(cache), *args.extra.split()]
        result = {"machine": f"{platform.node()}: {os.cpu_count()} CPU cores", "tree": facts,
                  "commands": {"run.bash": " ".join(common), "this": " ".join(["python", *sys.argv])}}
        result["run_bash_cold_s"] = timed([*common, "--save-dir", str(scratch / "models")], scratch / "one.txt",
                                          logs=logs)
        write(Path(args.out), result)
        result["run_bash_warm_s"] = timed(common, scratch / "warm.txt", logs=logs)
        result["cache_bytes"] = sum(p.stat().st_size for p in cache.glob("images-*.u8"))
        result["warm_output_identical"] = (scratch / "warm.txt").read_bytes() == (scratch / "one.txt").read_bytes()
        write(Path(args.out), result)
        for count in filter(None, args.nproc.split(",")):
            seconds = timed([*common, "--nproc-per-node", count], scratch / f"nproc{count}.txt", logs=logs)
            same = (scratch / f"nproc{count}.txt").read_bytes() == (scratch / "one.txt").read_bytes()
            result[f"run_bash_warm_nproc{count}_s"] = seconds
            result[f"nproc{count}_output_identical"] = same
            write(Path(args.out), result)
        result["verification"] = verification_seconds(tree, cache, scratch / "models")
        write(Path(args.out), result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
