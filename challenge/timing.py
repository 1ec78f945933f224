"""Where a run's time goes: seconds per stage, each second counted in exactly one stage.

    clock = StageClock()
    batches = clock.iterate("generate", generator(...))   # the time inside next(), lazily
    with clock.stage("calibrate"):
        calibrate(qmodel, batches)                         # less the generation it drives
    clock.seconds   # {"generate": 12.3, "calibrate": 0.4}, in the order the stages first ran

A generator is a lazy iterator whose body runs inside the calibration loop (streaming, so the
batches need not all be held): a stage entered inside another one takes the time from it, so
generation is not counted as calibration. On a GPU the clock waits for the queued work at each
boundary (torch.cuda.synchronize), or a stage's kernels would be counted in the next one.
"""
from __future__ import annotations

import contextlib
import time
from typing import Iterable, Iterator

import torch


def _wait_for_gpu() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


class StageClock:
    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._open: list[str] = []  # stages entered and not left, innermost last
        self._since = time.perf_counter()
        self._started = self._since

    def _charge(self) -> None:
        """The time since the last boundary goes to the innermost open stage."""
        now = time.perf_counter()
        if self._open:
            self.seconds[self._open[-1]] += now - self._since
        self._since = now

    @contextlib.contextmanager
    def stage(self, name: str):
        _wait_for_gpu()
        self._charge()
        self._open.append(name)
        self.seconds.setdefault(name, 0.0)
        try:
            yield
        finally:
            _wait_for_gpu()
            self._charge()
            self._open.pop()

    def iterate(self, name: str, items: Iterable) -> Iterator:
        """`items`, with the time spent producing each one charged to stage `name`."""
        with self.stage(name):
            iterator = iter(items)
        while True:
            with self.stage(name):
                try:
                    item = next(iterator)
                except StopIteration:
                    return
            yield item

    def total(self) -> float:
        """Seconds since the clock was made (the stages' sum, and what no stage claimed)."""
        return time.perf_counter() - self._started

    def line(self) -> str:
        """`setup 1.2, generate 12.3, ...; total 20.1`, for the log."""
        return ", ".join(f"{name} {seconds:.1f}" for name, seconds in self.seconds.items()) + \
            f"; total {self.total():.1f}"
