"""`run` and `rescore`: find new uploads, score them in worker processes, store each result.

Workers only compute; the parent alone writes the database, one transaction per result, so
a kill at any moment loses at most the submissions in flight, which the next run re-does.
At most `workers + 1` submissions are claimed at a time, so a kill leaves few rows to redo.
A worker that dies (a hostile file crashing a library, the OOM killer) breaks the pool: the
rows it held go back to pending, a fresh pool carries on, and a row that keeps killing
workers is marked invalid after db.MAX_ATTEMPTS tries.
"""
from __future__ import annotations

import contextlib
import fcntl
import multiprocessing
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from challenge.errors import KitError

from . import db
from .config import Rules
from .measure import file_sha256
from .score import init_worker, make_context, score_in_worker, score_zip


@dataclass
class RunSummary:
    new_uploads: int = 0
    scored: int = 0
    invalid: int = 0
    recovered: int = 0


def scan_inbox(conn, inbox: Path) -> int:
    """Register every `<inbox>/<team>/**/*.zip` not seen before; return how many are new submissions."""
    inbox = Path(inbox)
    if not inbox.is_dir():
        raise KitError(f"inbox {str(inbox)!r} is not a folder; uploads go in <inbox>/<team>/<file>.zip")
    new = 0
    for team_dir in sorted(p for p in inbox.iterdir() if p.is_dir() and not p.is_symlink()):
        for path in sorted(team_dir.rglob("*.zip")):
            if path.is_symlink() or not path.is_file():
                continue  # a link could point anywhere; uploads are plain files
            relative = path.relative_to(inbox).as_posix()
            info = path.stat()
            if db.known_upload(conn, relative, info.st_size, info.st_mtime_ns):
                continue
            new += db.register_upload(conn, path=relative, team=team_dir.name, sha256=file_sha256(path),
                                      size=info.st_size, mtime_ns=info.st_mtime_ns, submitted_at=info.st_mtime)
    return new


def _bar(total: int, label: str):
    from progress.bar import Bar

    return Bar(label, max=max(total, 1), file=sys.stderr, suffix="%(index)d/%(max)d %(eta)ds")


def _record(conn, summary: RunSummary, submission_id: int, result, fingerprint: str) -> None:
    db.finish(conn, submission_id, result, fingerprint)
    if result.status == "scored":
        summary.scored += 1
    else:
        summary.invalid += 1


def _score_inline(conn, inbox: Path, todo, ctx, summary: RunSummary, bar) -> None:
    rules = ctx.rules
    for submission_id, relative in todo:
        if db.claim(conn, submission_id):
            _record(conn, summary, submission_id, score_zip(inbox / relative, ctx), rules.fingerprint())
        bar.next()


def _score_in_pool(conn, inbox: Path, todo, rules: Rules, verify: bool, workers: int,
                   summary: RunSummary, bar) -> None:
    queue = list(todo)
    context = multiprocessing.get_context("spawn")  # no inherited locks or torch thread pools
    while queue:
        in_flight: dict = {}
        try:
            with ProcessPoolExecutor(workers, mp_context=context, initializer=init_worker,
                                     initargs=(rules, verify)) as pool:
                while queue or in_flight:
                    while queue and len(in_flight) <= workers:
                        submission_id, relative = queue.pop(0)
                        if db.claim(conn, submission_id):
                            in_flight[pool.submit(score_in_worker, str(inbox / relative))] = submission_id
                        else:
                            bar.next()
                    if not in_flight:
                        continue
                    done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in done:
                        submission_id = in_flight[future]
                        result = future.result()  # BrokenProcessPool surfaces here
                        del in_flight[future]
                        _record(conn, summary, submission_id, result, rules.fingerprint())
                        bar.next()
        except BrokenProcessPool:
            print(f"\nscorer: a worker died; retrying {len(in_flight)} submission(s) in a fresh pool",
                  file=sys.stderr)
            for submission_id in in_flight.values():
                db.release(conn, submission_id)
            queue = [(i, p) for i, p in db.pending(conn)]


@contextlib.contextmanager
def only_scorer(conn):
    """Hold an exclusive lock beside the database: a second scorer would 'recover' our live rows.

    The kernel drops the lock with its holder, so a killed scorer never leaves it stuck.
    """
    path = Path(conn.execute("PRAGMA database_list").fetchone()[2] + ".lock")
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise KitError(f"another scorer is running on this database ({path} is locked); wait for it") from None
        yield


def run(conn, rules: Rules, inbox: str | Path, *, verify: bool = True, workers: int | None = None) -> RunSummary:
    """Score every upload not scored yet (and any left half-done by a killed run)."""
    with only_scorer(conn):
        return _run(conn, rules, Path(inbox), verify, rules.workers if workers is None else workers)


def _run(conn, rules: Rules, inbox: Path, verify: bool, workers: int) -> RunSummary:
    summary = RunSummary(recovered=db.recover(conn))
    summary.new_uploads = scan_inbox(conn, inbox)
    todo = db.pending(conn)
    if not todo:
        return summary
    # Load the ground truth here first: a wrong config must stop the run with its message,
    # not break every worker and get the submissions blamed for it.
    ctx = make_context(rules, verify=verify)
    bar = _bar(len(todo), "scoring")
    if workers <= 1 or len(todo) == 1:
        _score_inline(conn, inbox, todo, ctx, summary, bar)
    else:
        _score_in_pool(conn, inbox, todo, rules, verify, min(workers, len(todo)), summary, bar)
    bar.finish()
    return summary


def rescore(conn, rules: Rules, inbox: str | Path, *, verify: bool = True, workers: int | None = None) -> RunSummary:
    """Score everything again, e.g. after a change of ground truth or verification settings."""
    with only_scorer(conn):
        db.requeue_all(conn)
        return _run(conn, rules, Path(inbox), verify, rules.workers if workers is None else workers)
