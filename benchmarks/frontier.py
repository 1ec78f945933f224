"""The compression-accuracy frontier of one model: searched widths with the best method, next to
round to nearest on the same widths search, every point an artifact the scorer verified.

    python -m benchmarks.frontier --model mobilenet_v2 --out runs/frontier-mobilenet_v2 \
        --weights ../shared/assets/weights/mobilenet_v2-b0353104.pth --data ../shared/assets/imagenet/val \
        --generator genie --method brecq [--method-arg iterations=5000] [--gen-arg K=V] \
        [--targets 80,85,87,90,92] [--schemes w4a8,w6a6,w4a4] [--jobs 4] [--limit N] [main.py options ...]

For every target T it runs `python main.py --target-compression T` twice, with `--method METHOD
--method-arg ...` (the "best" curve) and with `--method rtn` (the round-to-nearest curve: the same
generator, data and widths search, no reconstruction), plus one FP32 run for the reference line
and, with --schemes, each fixed scheme with the best method. Options this script does not know
(`--device cuda`, `--num-samples N`, `--seed S`, ...) go to every run; `--search-arg K=V` to the searched
runs. Each
run keeps its artifact, output.txt, log and layer config in OUT/runs/<label>/; then the scorer
packs it and checks it with verification (`python -m scorer pack`, then `check --verify`) on a
one-model challenge over the same images, and its verified top-1 and compression are the row.

Every run asks for the same synthetic images (generator, arguments, seed): the cheapest run not
made yet (a round-to-nearest one) makes and keeps them (`main.py --reuse-synthetic`, in main.py's
cache folder or `--cache-dir DIR`) while the others wait, and the others read them back, the same
tensors, in seconds instead of minutes (`--no-reuse` generates them in every run).

Two machines: a GPU machine without the evaluation images makes the runs (its own `--data`, a
few images), OUT travels, and the machine with the images scores them: the same command with
`--data` pointing at them and `--rescore`. Then no main.py runs; each run's artifact is evaluated
there with the kit's reference runtime (the same predictions on every device), written as its
output.txt for those images (`output-rescored.txt`), packed and verified by the scorer, and the
table, JSON and plot are written again. Each run's seconds stay those of the machine that made it.

`--jobs N` runs N main.py processes at once (several fit on one large GPU; the rows are about
quality, not time). A rerun with the same OUT skips every run whose artifact and result exist, so
an interrupted frontier resumes. Writes OUT/frontier.md, OUT/frontier.json and OUT/frontier.png.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from challenge.errors import KitError, run_cli  # noqa: E402
from benchmarks.frontier_report import write_report  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TARGETS = "80,85,87,90,92"
TOP1 = re.compile(r"top-1 ([0-9.]+)% on (\d+) images")
SCORED = re.compile(r"^\s+(?P<model>\w+)\s+compression (?P<compression>[0-9.]+)% \((?P<bytes>\d+) of (?P<fp32>\d+) "
                    r"bytes\)\s+top-1 (?P<top1>[0-9.]+)%(?:\s+verified (?P<agree>\d+)/(?P<checked>\d+))?")


@dataclass
class Run:
    label: str  # folder name under OUT/runs, unique
    curve: str  # "best", "rtn", "scheme" or "fp32"
    options: list[str]  # main.py options besides the shared ones
    target: float | None = None
    scheme: str | None = None
    scored: bool = True  # packed and verified by the scorer (not the FP32 reference)
    result: dict = field(default_factory=dict)


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.frontier", allow_abbrev=False,
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True, help="folder for the runs, table, JSON and plot")
    parser.add_argument("--data", required=True, help="labelled ImageFolder tree: main.py's --data, and the scorer's")
    parser.add_argument("--weights", help="FP32 checkpoint (as main.py)")
    parser.add_argument("--weights-dir", help="folder of FP32 checkpoints (as main.py)")
    parser.add_argument("--classes", help="wnid list for checkpoints with that many classes (as main.py)")
    parser.add_argument("--limit", type=int, help="the first N images only (main.py's --limit; the scorer checks the same)")
    parser.add_argument("--scheme", default="w4a8", help="the scheme the widths are searched under (8-bit activations)")
    parser.add_argument("--targets", default=DEFAULT_TARGETS, help="compressions %%, comma-separated")
    parser.add_argument("--schemes", default="", help="fixed schemes measured with the best method, e.g. w4a8,w6a6,w4a4")
    parser.add_argument("--generator", default="genie", help="calibration data of every run (as main.py)")
    parser.add_argument("--gen-arg", action="append", default=[], metavar="KEY=VALUE", help="to every run")
    parser.add_argument("--method", default="brecq", help="the best method's curve (the other is rtn)")
    parser.add_argument("--method-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="to the best method's runs only")
    parser.add_argument("--search-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="to the searched runs (both curves), e.g. proxy=adaround-kl")
    parser.add_argument("--no-rtn", action="store_true", help="skip the round-to-nearest curve")
    parser.add_argument("--no-reuse", action="store_true",
                        help="generate the synthetic images in every run (default: the first run keeps them "
                             "and the others read them back: main.py --reuse-synthetic)")
    parser.add_argument("--jobs", type=int, default=1, help="main.py processes at once")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    parser.add_argument("--rescore", action="store_true",
                        help="score on --data here the runs OUT holds, made elsewhere (a GPU machine without these "
                             "images): no main.py run, each artifact evaluated with the reference runtime")
    return parser


def numbers(text: str, option: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise KitError(f"{option} {text!r} must be comma-separated numbers, e.g. {option} {DEFAULT_TARGETS}") from None


def plan_runs(args) -> list[Run]:
    gen = ["--generator", args.generator, *[x for pair in args.gen_arg for x in ("--gen-arg", pair)]]
    best = ["--method", args.method, *[x for pair in args.method_arg for x in ("--method-arg", pair)]]
    runs = [Run("fp32", "fp32", ["--scheme", "fp32", "--generator", "gaussian", "--num-samples", "1",
                                 "--batch-size", "1"], scored=False)]
    name = re.sub(r"[^\w.-]", "_", args.method)  # a folder name, also for path/to/file.py:function
    for target in numbers(args.targets, "--targets"):
        search = ["--scheme", args.scheme, "--target-compression", f"{target:g}",
                  *[x for pair in args.search_arg for x in ("--search-arg", pair)]]
        runs.append(Run(f"{name}-{target:g}", "best", [*search, *gen, *best], target=target, scheme=args.scheme))
        if not args.no_rtn and args.method != "rtn":
            runs.append(Run(f"rtn-{target:g}", "rtn", [*search, *gen, "--method", "rtn"], target=target,
                            scheme=args.scheme))
    for scheme in (s.strip() for s in args.schemes.split(",") if s.strip()):
        runs.append(Run(f"{name}-{scheme}", "scheme", ["--scheme", scheme, *gen, *best], scheme=scheme))
    return runs


def shared_options(args, extra: list[str]) -> list[str]:
    options = ["--model", args.model, "--data", str(Path(args.data).resolve())]
    for option, value in (("--weights", args.weights), ("--weights-dir", args.weights_dir),
                          ("--classes", args.classes), ("--limit", args.limit)):
        if value is not None:
            options += [option, str(Path(value).resolve()) if option != "--limit" else str(value)]
    return options + extra


def write_challenge(args, out: Path) -> Path:
    """A one-model challenge over the evaluated images, for the scorer: rules and ground truth."""
    from challenge.data import class_list_for, list_images
    from challenge.models import load_fp32_model

    num_classes = load_fp32_model(args.model, args.weights, args.weights_dir).num_classes
    records = list_images(args.data, class_list_for(num_classes, args.classes), args.limit)
    folder = out / "scoring"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ground_truth.csv").write_text("file,index\n" + "".join(f"{r.path},{r.label}\n" for r in records))
    config = folder / "challenge.toml"
    config.write_text(f'[challenge]\nmodels = ["{args.model}"]\nnum_classes = {num_classes}\n'
                      f'ground_truth = "ground_truth.csv"\nimages = {json.dumps(str(Path(args.data).resolve()))}\n'
                      "\n[rules]\nmin_compression = 0.0\n")
    return config


def score(run_dir: Path, artifact: Path, config: Path, env: dict, output: str = "output.txt") -> dict:
    """Pack the run as a submission and check it with verification, as the scorer will."""
    code = run_dir / "code"
    code.mkdir(exist_ok=True)
    (code / "command.txt").write_text((run_dir / "command.txt").read_text())
    zip_path = run_dir / "submission.zip"
    steps = {"pack": ["pack", "--config", str(config), "--output", str(run_dir / output), "--models",
                      str(artifact), "--code", str(code), "--out", str(zip_path)],
             "check": ["check", str(zip_path), "--config", str(config), "--verify"]}
    for name, step in steps.items():
        done = subprocess.run([sys.executable, "-m", "scorer", *step], cwd=REPO, capture_output=True, text=True, env=env)
        (run_dir / f"scorer-{name}.log").write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            return {"error": f"scorer {name}: " + (done.stderr.strip().splitlines() or ["failed"])[-1]}
    match = next((m for line in done.stdout.splitlines() if (m := SCORED.match(line))), None)
    if match is None:
        return {"error": "scorer check: no score line"}
    return {"compression": float(match["compression"]), "quantized_bytes": int(match["bytes"]),
            "top1": float(match["top1"]), "verified": int(match["checked"] or 0),
            "verified_agree": int(match["agree"] or 0)}


def split_top1(correct: list[bool]) -> list[float]:
    """Top-1 on each half of the images, at even and odd positions of the canonical order (as
    benchmarks/evaluate_artifacts splits them): a setting that fits one half of the shared images
    should be seen on the other."""
    return [round(100 * sum(correct[start::2]) / max(len(correct[start::2]), 1), 2) for start in (0, 1)]


def halves(output: Path, config: Path) -> list[float] | None:
    """split_top1 of an output.txt against the challenge's ground truth; None when it does not read."""
    from challenge import output_format

    try:
        predictions = output_format.read(output)[0].predictions
    except (OSError, IndexError, KitError):
        return None
    rows = [line.rsplit(",", 1) for line in (config.parent / "ground_truth.csv").read_text().splitlines()[1:]]
    return split_top1([predictions.get(path) == int(label) for path, label in rows])


def finished(run: Run, out: Path) -> bool:
    """Made and scored by an earlier invocation with the same OUT: its result has no error and its artifact is there."""
    run_dir = out / "runs" / run.label
    result_path = run_dir / "result.json"
    if not result_path.is_file() or (run.scored and not (run_dir / "model.safetensors").is_file()):
        return False
    try:
        return "error" not in json.loads(result_path.read_text())
    except ValueError:
        return False


def execute(run: Run, shared: list[str], out: Path, config: Path, env: dict) -> Run:
    """main.py, then the scorer; the result is kept in OUT/runs/<label>/result.json (resume)."""
    run_dir = out / "runs" / run.label
    result_path, artifact = run_dir / "result.json", run_dir / "model.safetensors"
    if finished(run, out):
        run.result = json.loads(result_path.read_text())
        print(f"{run.label}: done before, skipped", file=sys.stderr, flush=True)
        return run
    run_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "main.py", *shared, *run.options]
    if run.scored:
        command += ["--save-model", str(artifact)]
    (run_dir / "command.txt").write_text(" ".join(command[1:]) + "\n")
    print(f"{run.label}: started", file=sys.stderr, flush=True)
    started = time.perf_counter()
    with open(run_dir / "output.txt", "w") as output, open(run_dir / "log.txt", "w") as log:
        code = subprocess.run(command, cwd=REPO, stdout=output, stderr=log, env=env).returncode
    seconds = time.perf_counter() - started
    log_text = (run_dir / "log.txt").read_text(errors="replace")
    logged = TOP1.search(log_text)
    result = {"seconds": round(seconds, 1), "main_top1": float(logged[1]) if logged else None,
              "images": int(logged[2]) if logged else None}
    if code != 0:
        lines = [line for line in log_text.splitlines() if line.strip()]
        result["error"] = f"main.py exit code {code}: {lines[-1] if lines else ''}"
    elif run.scored:
        result.update(score(run_dir, artifact, config, env))
        prediction = run_dir / "model.layers.prediction.json"  # the search's own forecast
        if prediction.is_file():
            result["predicted"] = json.loads(prediction.read_text())
    else:
        result["top1"] = result["main_top1"]
    if "error" not in result:
        result["halves"] = halves(run_dir / "output.txt", config)
    result_path.write_text(json.dumps(result, indent=1) + "\n")
    run.result = result
    print(f"{run.label}: {result.get('error') or 'top-1 %s%%' % result.get('top1')} ({seconds:.0f} s)",
          file=sys.stderr, flush=True)
    return run


class Evaluator:
    """The images of --data, decoded once, and the predictions of a model or an artifact on them
    (the reference runtime: what the scorer's verification runs)."""

    def __init__(self, args):
        from challenge.data import ImageDataset, class_list_for, decode_all, list_images
        from challenge.models import load_fp32_model

        self.fp32 = load_fp32_model(args.model, args.weights, args.weights_dir)
        self.records = list_images(args.data, class_list_for(self.fp32.num_classes, args.classes), args.limit)
        self.images, _ = decode_all(ImageDataset(args.data, self.records))

    def top1(self, classes: list[int]) -> float:
        from challenge.evaluate import top1

        return top1(classes, [r.label for r in self.records])

    def classes(self, model, label: str) -> list[int]:
        from challenge.evaluate import predict_tensor

        return predict_tensor(model, self.images, "cpu", 64, label=label).classes


def rescore(run: Run, out: Path, config: Path, env: dict, here: Evaluator) -> Run:
    """A run made elsewhere, scored on these images: its artifact's output.txt for them, then the scorer."""
    from challenge import output_format, runtimes

    run_dir = out / "runs" / run.label
    result_path, artifact = run_dir / "result.json", run_dir / "model.safetensors"
    made = json.loads(result_path.read_text()) if result_path.is_file() else {}
    made = made.get("made_elsewhere", made)  # rescored before: start again from what the maker wrote
    if not made or (run.scored and not artifact.is_file()):
        run.result = {"error": made.get("error") or "not made: run the frontier without --rescore first"}
        return run
    kept = {key: made[key] for key in ("seconds", "predicted") if key in made}
    if not run.scored:
        classes = here.classes(here.fp32.model, "fp32")
        result = {**kept, "top1": here.top1(classes), "images": len(here.records),
                  "halves": split_top1([c == r.label for c, r in zip(classes, here.records)])}
    else:
        model, contents = runtimes.load_model(artifact, runtimes.DEFAULT_RUNTIME, "cpu")
        made_header = output_format.read(run_dir / "output.txt")[0]  # the generator's name, as main.py wrote it
        section = output_format.Section(contents.arch, made_header.generator, contents.scheme, contents.quantized_bytes,
                                        contents.fp32_bytes, dict(zip((r.path for r in here.records),
                                                                      here.classes(model, run.label))))
        with open(run_dir / "output-rescored.txt", "w") as stream:
            output_format.write_section(stream, section)
        result = {**kept, **score(run_dir, artifact, config, env, "output-rescored.txt")}
        if "error" not in result:
            result["halves"] = halves(run_dir / "output-rescored.txt", config)
    run.result = result
    result_path.write_text(json.dumps({**result, "made_elsewhere": made}, indent=1) + "\n")
    print(f"{run.label}: {result.get('error') or 'top-1 %s%%' % result.get('top1')} (rescored)", file=sys.stderr,
          flush=True)
    return run


def main(argv=None) -> int:
    args, extra = get_args_parser().parse_known_args(argv)
    if args.jobs < 1:
        raise KitError(f"--jobs must be at least 1, got {args.jobs}")
    for option in ("--save-model", "--save-dir", "--model", "--target-compression", "--method", "--scheme"):
        if any(e == option or e.startswith(option + "=") for e in extra):
            raise KitError(f"{option} is set by the frontier for each run; use its own options (--help)")
    out = Path(args.out)
    runs = plan_runs(args)
    if not args.no_reuse and "--reuse-synthetic" not in extra:
        extra = [*extra, "--reuse-synthetic"]
    shared = shared_options(args, extra)
    if args.dry_run:
        for run in runs:
            print(" ".join(["python", "main.py", *shared, *run.options]))
        return 0
    if args.rescore and not (out / "runs").is_dir():
        raise KitError(f"--rescore scores the runs in {out}/runs, and there are none: run the frontier without "
                       "--rescore first (on the GPU machine), then bring OUT here")
    out.mkdir(parents=True, exist_ok=True)
    config = write_challenge(args, out)
    env = dict(os.environ)
    if args.rescore:
        here = Evaluator(args)
        done = [rescore(run, out, config, env, here) for run in runs]
        return report(out, args, done, argv)
    # N processes on the same cores: each gets its share of threads instead of all of them.
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // args.jobs)))
    # The FP32 reference and one run alone: that one makes the synthetic images and keeps them,
    # and every later run reads them back instead of generating them again. The cheapest makes
    # them (round to nearest where there is such a run), so the others do not wait for a
    # reconstruction before they start.
    maker = first_maker(runs, out)
    done = [execute(run, shared, out, config, env) for run in (runs[0], maker)]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        done += list(pool.map(lambda run: execute(run, shared, out, config, env),
                              [run for run in runs[1:] if run is not maker]))
    done.sort(key=runs.index)  # the report lists them in plan order
    return report(out, args, done, argv)


def first_maker(runs: list[Run], out: Path) -> Run:
    """The run that makes the synthetic images: the first round-to-nearest one not made yet, else
    the first other one not made yet (a resumed frontier has lost its images with its machine)."""
    pending = [run for run in runs[1:] if not finished(run, out)] or runs[1:]
    return next((run for run in pending if run.curve == "rtn"), pending[0])


def report(out: Path, args, done: list[Run], argv) -> int:
    paths = write_report(out, args, done, " ".join(["python -m benchmarks.frontier", *(argv or sys.argv[1:])]))
    print(f"wrote {', '.join(map(str, paths))}", file=sys.stderr)
    failed = [run.label for run in done if "error" in run.result]
    if failed:
        print(f"failed: {', '.join(failed)} (see OUT/runs/<label>/log.txt)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
