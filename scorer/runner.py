"""`run` and `rescore`: find new uploads, score them in worker processes, store each result.

Workers only compute; the parent alone writes the database, one transaction per result, so
a kill at any moment loses at most the submissions in flight, which the next run re-does.
Each worker scores one submission at a time within the config's [limits] (scorer/limits.py):
one past its time is killed and rejected with the reason, and the others go on. A worker that
dies otherwise (a hostile file crashing a library, the OOM killer) is replaced; its row goes
back to pending, and a row that keeps killing workers is marked invalid after db.MAX_ATTEMPTS.
"""
from __future__ import annotations

import contextlib
import fcntl
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path

from challenge.errors import KitError

from . import db, limits, tempfiles
from .config import Rules
from .measure import file_sha256
from .result import Result
from .score import make_context, score_zip
from .workers import Worker


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


def _score_in_workers(conn, inbox: Path, todo, rules: Rules, verify: bool, workers: int,
                      summary: RunSummary, bar) -> None:
    queue = list(todo)
    pool = [Worker(rules, verify) for _ in range(workers)]
    try:
        while queue or any(w.job for w in pool):
            for worker in pool:
                while worker.idle and queue:
                    submission_id, relative = queue.pop(0)
                    if db.claim(conn, submission_id):
                        worker.start((submission_id, relative), inbox / relative, rules.limits.seconds)
                    else:
                        bar.next()
            if not any(w.job for w in pool) and not queue:
                break
            busy = [w.deadline for w in pool if w.job]
            timeout = max(0.0, min(busy) - time.monotonic()) if busy else None
            readable = wait([w.conn for w in pool], timeout)
            for index, worker in enumerate(pool):
                if worker.conn in readable:
                    pool[index] = _receive(conn, worker, queue, rules, verify, summary, bar)
                elif worker.job and time.monotonic() > worker.deadline:
                    submission_id, _ = worker.finish()
                    worker.kill()
                    tempfiles.remove_stale()  # the killed worker's extraction folder
                    _record(conn, summary, submission_id, Result.invalid(limits.time_reason(rules.limits)),
                            rules.fingerprint())
                    bar.next()
                    pool[index] = Worker(rules, verify)
    finally:
        for worker in pool:
            worker.stop()


def _receive(conn, worker: Worker, queue: list, rules: Rules, verify: bool, summary: RunSummary, bar) -> Worker:
    """Handle what a worker said (or its death); returns the worker to keep (a new one if it died)."""
    try:
        kind, result = worker.conn.recv()
    except (EOFError, OSError):
        exitcode = worker.kill()
        if not worker.ready:
            raise KitError(f"a scoring worker could not start (exit code {exitcode}); see the messages above") from None
        if worker.job:
            submission_id, relative = worker.finish()
            reason = limits.death_reason(exitcode, rules.limits)
            if reason:
                _record(conn, summary, submission_id, Result.invalid(reason), rules.fingerprint())
                bar.next()
            else:
                print(f"\nscorer: a worker died (exit code {exitcode}); {relative} goes back in the queue",
                      file=sys.stderr)
                db.release(conn, submission_id)
                queue.append((submission_id, relative))
        tempfiles.remove_stale()
        return Worker(rules, verify)
    if kind == "ready":
        worker.ready = True
    else:
        submission_id, _ = worker.finish()
        _record(conn, summary, submission_id, result, rules.fingerprint())
        bar.next()
    return worker


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
    tempfiles.remove_stale()  # what killed scorers left in the temporary folder
    summary = RunSummary(recovered=db.recover(conn))
    summary.new_uploads = scan_inbox(conn, inbox)
    todo = db.pending(conn)
    if not todo:
        return summary
    # Load the ground truth here first: a wrong config must stop the run with its message,
    # not break every worker and get the submissions blamed for it.
    ctx = make_context(rules, verify=verify)
    bar = _bar(len(todo), "scoring")
    if workers == 0:  # in this process: no limits (for debugging and quick tests)
        _score_inline(conn, inbox, todo, ctx, summary, bar)
    else:
        _score_in_workers(conn, inbox, todo, rules, verify, min(workers, len(todo)), summary, bar)
    bar.finish()
    tempfiles.remove_stale()  # again: a scorer killed just before we started may only now be gone
    return summary


def rescore(conn, rules: Rules, inbox: str | Path, *, verify: bool = True, workers: int | None = None) -> RunSummary:
    """Score everything again, e.g. after a change of ground truth or verification settings."""
    with only_scorer(conn):
        db.requeue_all(conn)
        return _run(conn, rules, Path(inbox), verify, rules.workers if workers is None else workers)
