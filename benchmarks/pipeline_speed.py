"""Where a main.py run's time goes: its stage table and the GPU's utilisation over the run.

    python -m benchmarks.pipeline_speed --out DIR -- --model mobilenet_v2 --scheme w4a8 \
        --generator genie --method brecq --device cuda [main.py options ...]

Runs `python main.py OPTIONS` once as a user would (a fresh process, so the imports and any
kernel compilation are counted), samples `nvidia-smi` every 0.5 s while it runs, and reads the
run's own log lines from stderr: the per-stage seconds line (`<model>: seconds: ...` or the
older `seconds: setup ..., quantize ..., evaluate ...`), the generation line, Genie-D's
per-batch lines (`genie batch 1/4: 256 images, 200 steps in 112.3 s (first step 99.0 s, then
66.8 ms a step)`: a run's first step compiles), and the reconstruction's per-unit lines
(`brecq 3/20 features.2: 31.2 s (inputs cached 0.4 s, first 3 steps 2.1 s, 9,997 steps at
2.90 ms)`). Writes DIR/pipeline_speed.md and .json (wall clock, stages, generator batches,
units, mean and peak GPU utilisation and memory) and keeps the log and output.txt beside them.
On a machine without nvidia-smi the GPU columns are empty.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = re.compile(r"^(?P<model>\w+): (?:.*; )?seconds: (?P<pairs>[a-z_ ]+ [0-9.]+(?:, [a-z_ ]+ [0-9.]+)*)(?:; total [0-9.]+)?\s*$")
UNIT = re.compile(r"^\S+ (\d+)/(\d+) (\S+): ([0-9.]+) s(?: \(inputs cached (?P<cached>[0-9.]+) s, first (?P<first>\d+) "
                  r"steps (?P<first_s>[0-9.]+) s, (?P<steps>[0-9,]+) steps at (?P<ms>[0-9.]+) ms\))?$")
GENERATED = re.compile(r"generated (\d+) calibration images in ([0-9.]+) s")
GENERATOR_BATCH = re.compile(r"^(?P<generator>\S+) batch (\d+)/(\d+): (?P<images>\d+) images, (?P<steps>\d+) steps in "
                             r"(?P<seconds>[0-9.]+) s \(first (?:step|\d+ steps) (?P<first_s>[0-9.]+) s(?:, then (?P<ms>[0-9.]+) ms a step)?\)$")


def sample_gpu(stop: threading.Event, samples: list) -> None:
    """(utilisation %, memory MiB) every 0.5 s from nvidia-smi, until `stop`."""
    query = ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits"]
    while not stop.wait(0.5):
        try:
            line = subprocess.run(query, capture_output=True, text=True, timeout=5).stdout.splitlines()[0]
            util, memory = (float(v) for v in line.split(","))
            samples.append((time.perf_counter(), util, memory))
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            return


def parse_log(text: str) -> dict:
    stages, units, generated, batches = {}, [], None, []
    for line in text.splitlines():
        line = line.strip().split("\r")[-1]
        if match := STAGES.match(line):
            for pair in match["pairs"].split(", "):
                name, _, value = pair.rpartition(" ")
                stages[name] = stages.get(name, 0.0) + float(value)
        elif match := UNIT.match(line):
            unit = {"unit": match[3], "seconds": float(match[4])}
            if match["cached"]:  # the breakdown the kit logs since 2026-12-06
                unit.update(cached_s=float(match["cached"]), first_steps=int(match["first"]),
                            first_s=float(match["first_s"]), steps=int(match["steps"].replace(",", "")),
                            ms_a_step=float(match["ms"]))
            units.append(unit)
        elif match := GENERATED.search(line):
            generated = {"images": int(match[1]), "seconds": float(match[2])}
        elif match := GENERATOR_BATCH.match(line):  # Genie-D's, since 2026-12-07
            batches.append({"images": int(match["images"]), "steps": int(match["steps"]),
                            "seconds": float(match["seconds"]), "first_s": float(match["first_s"]),
                            "ms_a_step": float(match["ms"]) if match["ms"] else None})
    return {"stages": stages, "units": units, "generated": generated, "generator_batches": batches}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline_speed", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--label", default="run")
    parser.add_argument("--via", default="main.py",
                        help="script (and its leading arguments) run instead of main.py, e.g. a trial wrapper")
    parser.add_argument("options", nargs=argparse.REMAINDER, help="main.py's options, after --")
    args = parser.parse_args(argv)
    options = args.options[1:] if args.options[:1] == ["--"] else args.options
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    samples: list = []
    stop = threading.Event()
    sampler = threading.Thread(target=sample_gpu, args=(stop, samples), daemon=True)
    if shutil.which("nvidia-smi"):
        sampler.start()
    started = time.perf_counter()
    with open(out / f"{args.label}.log", "w") as log, open(out / f"{args.label}.output.txt", "w") as output:
        code = subprocess.run([sys.executable, *args.via.split(), *options], stdout=output, stderr=log,
                              cwd=REPO).returncode
    wall = time.perf_counter() - started
    stop.set()
    parsed = parse_log((out / f"{args.label}.log").read_text(errors="replace"))
    utils = [u for _, u, _ in samples]
    row = {"label": args.label, "command": f"python {args.via} " + " ".join(options), "exit_code": code,
           "wall_seconds": round(wall, 1), **parsed,
           "gpu_util_mean": round(sum(utils) / len(utils), 1) if utils else None,
           "gpu_util_samples": len(utils), "gpu_memory_peak_mib": max((m for *_, m in samples), default=None)}
    path = out / "pipeline_speed.json"
    rows = json.loads(path.read_text()) if path.exists() else []
    rows.append(row)
    path.write_text(json.dumps(rows, indent=1))
    lines = ["| run | wall s | stages (s) | generator batches: first step, then a step | slowest units (s) | "
             "GPU util % (mean) | GPU MiB (peak) |", "|---|---:|---|---|---|---:|---:|"]
    for r in rows:
        stages = ", ".join(f"{k} {v:.1f}" for k, v in r["stages"].items())
        slow = ", ".join(f"{u['unit']} {u['seconds']:.1f}" for u in sorted(r["units"], key=lambda u: -u["seconds"])[:3])
        batches = ", ".join(f"{b['first_s']:.1f} s" + (f" then {b['ms_a_step']:.1f} ms" if b["ms_a_step"] else "")
                            for b in r.get("generator_batches", []))
        lines.append(f"| {r['label']} | {r['wall_seconds']} | {stages} | {batches} | {slow} | {r['gpu_util_mean']} | "
                     f"{r['gpu_memory_peak_mib']} |")
    (out / "pipeline_speed.md").write_text("\n".join(lines) + "\n\n" + "\n".join(f"- {r['label']}: `{r['command']}`" for r in rows) + "\n")
    print("\n".join(lines), file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
