"""Scoring worker processes: each scores one submission at a time, within its limits.

A worker starts (imports, ground truth, decoded images) once, says it is ready, then takes
zip paths one by one and answers with a Result. The parent gives each submission a deadline
and kills a worker that passes it; a worker that dies takes only its own submission with it.
Workers are spawned, not forked: no inherited locks or torch thread pools.
"""
from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from . import limits
from .config import Rules


def serve(conn, rules: Rules, verify: bool) -> None:
    """A worker's life: start up, then score what the parent sends until it closes the pipe."""
    from .score import init_worker, score_in_worker, warm_up, worker_context

    limits.no_core_dumps()
    init_worker(rules, verify)
    warm_up(worker_context())  # before the limits: libraries and images belong to no submission
    conn.send(("ready", None))
    while True:
        try:
            zip_path = conn.recv()
        except EOFError:  # the parent is gone or done
            return
        limits.apply(rules.limits)
        try:
            result = score_in_worker(zip_path)
        finally:
            limits.lift()
        conn.send(("done", result))


class Worker:
    def __init__(self, rules: Rules, verify: bool):
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=serve, args=(child, rules, verify), daemon=True,
                                       name="dfq-scorer-worker")
        self.process.start()
        child.close()
        self.ready = False
        self.job: tuple[int, str] | None = None  # (submission id, inbox-relative path)
        self.deadline = float("inf")

    @property
    def idle(self) -> bool:
        return self.ready and self.job is None

    def start(self, job: tuple[int, str], zip_path: Path, seconds: float) -> None:
        self.job, self.deadline = job, time.monotonic() + seconds
        self.conn.send(str(zip_path))

    def finish(self) -> tuple[int, str]:
        job, self.job, self.deadline = self.job, None, float("inf")
        return job

    def kill(self) -> int | None:
        """End the process now; its exit code (negative: the signal that ended it)."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(10)
        self.conn.close()
        return self.process.exitcode

    def stop(self) -> None:
        """Ask politely (close the pipe), then insist."""
        self.conn.close()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
