"""What the decoded-image cache saves run.bash: each model's wall time without it, cold and warm.

    python benchmarks/cache_saving.py --data DIR --classes FILE --weights-dir W --out benchmarks/results/cpu-image-cache

Runs `bash run.bash` three times: --no-cache (every model decodes every JPEG with PIL), with an
empty --cache-dir (the first model decodes and stores, the next two map the file), and again on
that folder (all three map it). A model's time is from the previous model's last log line (its
top-1) to its own, read from run.bash's stderr as it comes, so start-up counts and nothing is
left out. Writes OUT.json and OUT.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = ("resnet18", "mobilenet_v2", "shufflenet_v2_x1_0")


def timed_run_bash(options: list[str]) -> dict:
    """Seconds per model (and in all) of one run.bash, from the arrival of each model's top-1 line."""
    start = time.perf_counter()
    marks, hits = [], []
    process = subprocess.Popen(["bash", "run.bash", *options], cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHON=sys.executable))
    for line in process.stderr:
        if ": top-1 " in line:
            marks.append(time.perf_counter() - start)
        if line.startswith("image cache "):
            hits.append(line.split(":")[0])
    if process.wait() != 0 or len(marks) != len(MODELS):
        raise SystemExit(f"run.bash {' '.join(options)} failed (exit {process.returncode})")
    per_model = [marks[0]] + [b - a for a, b in zip(marks, marks[1:])]
    return {"total_s": round(marks[-1], 1), "per_model_s": dict(zip(MODELS, (round(t, 1) for t in per_model))),
            "cache": hits}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--classes", required=True)
    parser.add_argument("--weights-dir", required=True)
    parser.add_argument("--out", required=True, help="path prefix of the .json and .md written")
    parser.add_argument("--runs", default="no-cache,cold,warm", help="which of no-cache,cold,warm to time "
                                                                    "(the saving needs no-cache and cold)")
    parser.add_argument("--extra", default="", help="more run.bash options, one string (e.g. '--limit 200')")
    args = parser.parse_args(argv)
    common = ["--data", args.data, "--classes", args.classes, "--weights-dir", args.weights_dir, *args.extra.split()]
    with tempfile.TemporaryDirectory() as cache:
        options = {"no-cache": ["--no-cache"], "cold": ["--cache-dir", cache], "warm": ["--cache-dir", cache]}
        wanted = args.runs.split(",")
        if "warm" in wanted and "cold" not in wanted:
            wanted.insert(wanted.index("warm"), "cold")  # warm is the cold run's folder, filled
        runs = {name: timed_run_bash([*common, *options[name]]) for name in options if name in wanted}
    second = MODELS[1]
    saved = (round(runs["no-cache"]["per_model_s"][second] - runs["cold"]["per_model_s"][second], 1)
             if {"no-cache", "cold"} <= set(runs) else None)
    result = {"command": f"python benchmarks/cache_saving.py --data {args.data} --classes {args.classes} "
                         f"--weights-dir {args.weights_dir} --runs {args.runs}"
                         + (f" --extra '{args.extra}'" if args.extra else ""),
              "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.python_version()}",
              "runs": runs, "second_model_saved_s": saved}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    rows = "\n".join(f"| {name} | " + " | ".join(f"{run['per_model_s'][m]:.1f}" for m in MODELS)
                     + f" | {run['total_s']:.1f} |" for name, run in runs.items())
    out.with_suffix(".md").write_text(
        f"# run.bash with and without the decoded-image cache\n\n`{result['command']}`\n\n{result['machine']}.\n\n"
        f"| run | {' | '.join(MODELS)} | total |\n|---|---:|---:|---:|---:|\n{rows}\n\n"
        f"Seconds. The second model ({second}) takes {saved} s less when the first has filled the cache.\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
