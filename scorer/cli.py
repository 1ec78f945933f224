"""Command line: `python -m scorer run|rescore|leaderboard|status|pack|check|bundle|codabench-run ...`.

Organizers: run / rescore / leaderboard / status, and for Codabench bundle / codabench-run.
Participants: pack / check.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path

from challenge.errors import KitError, run_cli

from . import db, leaderboard, ranking, runner
from .config import load_rules
from .pack import check_zip, pack
from .result import SCORED, Result

DEFAULT_INBOX = "submissions/inbox"
DEFAULT_DB = "submissions/scores.sqlite"
DEFAULT_OUT = "submissions/leaderboard"


def _rules(args):
    def resolved(value):
        return str(Path(value).resolve()) if value else None

    rules = load_rules(args.config, ground_truth=resolved(getattr(args, "ground_truth", None)),
                       images=resolved(getattr(args, "images", None)))
    if getattr(args, "cache_dir", None):
        rules = dataclasses.replace(rules, verify=dataclasses.replace(rules.verify, cache_dir=resolved(args.cache_dir)))
    return rules


def _add_rules_args(parser, *, truth=True):
    parser.add_argument("--config", help="challenge rules (TOML); defaults apply to what it leaves out")
    if truth:
        parser.add_argument("--ground-truth", help="file,index CSV (overrides the config's ground_truth)")
        parser.add_argument("--images", help="image folder for verification (overrides the config's images)")
        parser.add_argument("--cache-dir", help="verify from the kit's decoded-image cache in this folder "
                                                "(overrides [verify] cache_dir)")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scorer", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("run", "score every new upload in the inbox"),
                       ("rescore", "score every upload again (after a change of rules or ground truth)")):
        sub = commands.add_parser(name, help=text)
        _add_rules_args(sub)
        sub.add_argument("--inbox", default=DEFAULT_INBOX, help="uploads as <inbox>/<team>/<file>.zip")
        sub.add_argument("--db", default=DEFAULT_DB)
        sub.add_argument("--workers", type=int, help="scoring processes, each within the config's [limits] (default: the config's workers; "
                                                      "0 = in this process, without limits)")
        sub.add_argument("--no-verify", action="store_true", help="skip re-running the artifacts")
        sub.add_argument("--out", help="also write the leaderboard to this folder")
    sub = commands.add_parser("leaderboard", help="write leaderboard CSV, Markdown and HTML")
    _add_rules_args(sub, truth=False)
    sub.add_argument("--db", default=DEFAULT_DB)
    sub.add_argument("--out", default=DEFAULT_OUT)
    sub.add_argument("--reveal", action="store_true", help="rank on the private part and show it")
    sub = commands.add_parser("status", help="count submissions by status")
    sub.add_argument("--db", default=DEFAULT_DB)
    sub = commands.add_parser("pack", help="build a submission zip and check it as the scorer will")
    _add_rules_args(sub)
    sub.add_argument("--output", required=True, help="the output.txt written by main.py")
    sub.add_argument("--models", required=True, nargs="+", help="artifacts saved by main.py --save-model (files or folders)")
    sub.add_argument("--code", required=True, help="the folder of code that produced the submission")
    sub.add_argument("--out", required=True, help="zip to write")
    sub = commands.add_parser("check", help="check a submission zip as the scorer will")
    _add_rules_args(sub)
    sub.add_argument("zip")
    sub.add_argument("--verify", action="store_true", help="also re-run the artifacts (needs --images)")
    sub = commands.add_parser("bundle", help="write a Codabench competition bundle (competition.yaml, scoring "
                                             "program, reference data, pages, starting kit)")
    _add_rules_args(sub)
    sub.add_argument("--out", required=True, help="bundle zip to write, e.g. competition.zip")
    sub.add_argument("--title", default="Data-free quantization challenge")
    sub.add_argument("--phase", action="append", default=[], metavar="NAME,START[,END]",
                     help="a phase (repeatable, in order; UTC dates); default: one phase from today, open-ended")
    sub.add_argument("--verify-images", dest="images_mode", default=None, metavar="bundle|none|/app/data/...",
                     help="verification images: copy the ground truth's into the reference data (bundle; the "
                          "default when the config names images), none (verification off), or a folder on the workers")
    sub.add_argument("--example", help="an example submission zip (from pack) for the starting kit")
    sub.add_argument("--docker-image", default=None, help="the image the workers score in (default: a public PyTorch image)")
    sub.add_argument("--max-submissions", type=int, default=100, help="per participant and phase")
    sub.add_argument("--max-submissions-per-day", type=int, help="default: the config's submissions_per_day, else 5")
    sub = commands.add_parser("codabench-run", help="score one upload as a Codabench compute worker would, from a bundle")
    sub.add_argument("--bundle", required=True, help="the competition bundle zip")
    sub.add_argument("--submission", required=True, help="the file a participant uploads")
    sub.add_argument("--keep", help="keep the worker's folders (program/, input/, output/) here")
    return parser


def _bundle(args, rules) -> int:
    from . import bundle

    mode = args.images_mode or ("bundle" if rules.images else "none")
    if mode not in ("bundle", "none") and not mode.startswith("/"):
        raise KitError(f"--verify-images {mode!r}: use bundle, none, or an absolute folder on the compute workers")
    if not rules.ground_truth:
        raise KitError("bundle needs the ground truth: set ground_truth in the config or pass --ground-truth")
    path = bundle.build(rules, args.out, title=args.title, phases=[bundle.parse_phase(p) for p in args.phase],
                        images_mode=mode, example=args.example, docker_image=args.docker_image or bundle.DEFAULT_IMAGE,
                        max_submissions=args.max_submissions, max_per_day=args.max_submissions_per_day)
    print(f"wrote {path}: upload it on Codabench (Benchmarks > Upload)")
    return 0


def _codabench_run(args) -> int:
    import sys

    from .codabench_run import run

    done = run(args.bundle, args.submission, keep=args.keep)
    lines = done.stderr.strip().splitlines()
    reason = lines[-1].removeprefix("error: ") if lines and lines[-1].startswith("error: ") else ""
    for line in lines[:-1] if reason else lines:
        print(line, file=sys.stderr)
    if done.returncode != 0 or done.scores is None:
        raise KitError(reason or f"the scoring program failed (exit code {done.returncode})")
    print(json.dumps(done.scores, indent=1))
    return 0


def report(result: Result) -> str:
    lines = []
    for m in result.models:
        accuracy = "" if m.accuracy is None or math.isnan(m.accuracy) else f"  top-1 {m.accuracy:.2f}%"
        checked = f"  verified {m.verified - m.disagreements}/{m.verified}" if m.verified else ""
        lines.append(f"  {m.model:<20} compression {m.compression:.2f}% "
                     f"({m.quantized_bytes} of {m.fp32_bytes} bytes){accuracy}{checked}")
    lines += [f"  note: {note}" for note in result.notes]
    return "\n".join(lines)


def _verdict(result: Result, zip_path) -> int:
    if result.status != SCORED:
        raise KitError(f"{zip_path} would be rejected: {result.error}")
    print(f"{zip_path}: OK, the scorer accepts it\n{report(result)}")
    return 0


def _publish(conn, rules, out, reveal=None) -> None:
    standings = ranking.standings(db.submissions_frame(conn), db.model_scores_frame(conn), rules, reveal)
    for path in leaderboard.write(standings, out):
        print(f"wrote {path}")


def main(argv=None) -> int:
    args = get_args_parser().parse_args(argv)
    if args.command == "codabench-run":
        return _codabench_run(args)
    if args.command == "status":
        conn = db.connect(args.db)
        for status, count in conn.execute("SELECT status, COUNT(*) FROM submissions GROUP BY status ORDER BY status"):
            print(f"{status:<8} {count}")
        return 0
    rules = _rules(args)
    if args.command in ("run", "rescore"):
        conn = db.connect(args.db)
        do = runner.run if args.command == "run" else runner.rescore
        summary = do(conn, rules, args.inbox, verify=not args.no_verify, workers=args.workers)
        print(f"{summary.new_uploads} new upload(s), {summary.scored} scored, {summary.invalid} invalid"
              + (f", {summary.recovered} resumed after an interrupted run" if summary.recovered else ""))
        if args.out:
            _publish(conn, rules, args.out)
        return 0
    if args.command == "leaderboard":
        if not Path(args.db).is_file():
            raise KitError(f"no database at {args.db}; run `python -m scorer run` first")
        _publish(db.connect(args.db), rules, args.out, True if args.reveal else None)
        return 0
    if args.command == "pack":
        result = pack(args.output, args.models, args.code, args.out, rules)
        return _verdict(result, args.out)
    if args.command == "bundle":
        return _bundle(args, rules)
    if args.command == "check":
        if not Path(args.zip).is_file():
            raise KitError(f"{args.zip} not found")
        return _verdict(check_zip(args.zip, rules, verify=args.verify), args.zip)
    raise AssertionError(args.command)


def entry(argv=None) -> int:
    return run_cli(main, argv)
