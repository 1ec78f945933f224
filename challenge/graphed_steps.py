"""An optimisation loop of identical steps, replayed from one captured CUDA graph on a GPU.

ZeroQ, Genie-D, GDFQ and block reconstruction all repeat one step thousands of times: a forward
pass, a loss, a backward pass and fused Adam, with every per-step quantity (learning rate,
schedule position, batch indices, jitter offsets) read from device tensors indexed by a device
counter. Such a step is the same kernels every time, so after a few eager steps (which also
compile any kernels and settle the allocator) it is captured once and replayed: Python no longer
queues hundreds of small kernels per step, and a graphed run computes what an eager run computes.

On the CPU, or with DFQ_CUDA_GRAPHS=0, every step runs eagerly: the same code, the CPU twin.
A capture that fails (an operation that cannot be captured) gives one note and eager steps.
"""
from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass
from typing import Callable

import torch

from .cuda_graph import enabled as graphs_enabled

EAGER_WARMUP_STEPS = 3


@dataclass(frozen=True)
class StepTimes:
    """Where a loop's seconds went: the first steps (eager warm-up, with any compiling, and the
    capture) and the rest (replays, or eager steps), measured with the device synchronised."""
    first_steps: int
    first_seconds: float
    steps: int
    seconds: float

    def describe(self) -> str:
        rest = f"{self.steps:,} steps at {1000 * self.seconds / self.steps:.2f} ms" if self.steps else "no more steps"
        return f"first {self.first_steps} steps {self.first_seconds:.1f} s, {rest}"


def synchronised_clock(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def run_steps(step: Callable[[], None], iterations: int, device: torch.device, *,
              zero_grad: Callable[[], None] = lambda: None, every: int = 0,
              report: Callable[[int], None] | None = None, graph: bool = True) -> StepTimes:
    """`iterations` calls of `step` (zero_grad before each); report(done) after step 1, every
    `every` steps and the last. `step` must read and write device tensors only (graph-safe).
    Returns the seconds of the first steps (warm-up, compiling, capture) and of the rest: two
    synchronisations per loop, so the replays are not slowed down."""
    graphed = graph and graphs_enabled() and device.type == "cuda" and iterations > EAGER_WARMUP_STEPS + 1
    started = synchronised_clock(device)

    def note(done: int) -> None:
        if report is not None and (done == 1 or (every and done % every == 0) or done == iterations):
            report(done)

    side = torch.cuda.Stream(device) if graphed else None
    if graphed:  # warm-up steps run on a side stream, as graph capture requires
        side.wait_stream(torch.cuda.current_stream(device))
    eager = EAGER_WARMUP_STEPS if graphed else iterations
    first = EAGER_WARMUP_STEPS if graphed else min(1, iterations)  # the steps that may compile
    settled = started
    with torch.cuda.stream(side) if graphed else contextlib.nullcontext():
        for done in range(1, eager + 1):
            zero_grad()
            step()
            note(done)
            if done == first and not graphed:
                settled = synchronised_clock(device)
    if graphed:
        torch.cuda.current_stream(device).wait_stream(side)
        captured = _capture(step, zero_grad, device)
        settled = synchronised_clock(device)
        for done in range(eager + 1, iterations + 1):
            if captured is not None:
                captured.replay()
            else:
                zero_grad()
                step()
            note(done)
    ended = synchronised_clock(device)
    return StepTimes(first, settled - started, iterations - first, ended - settled)


def _capture(step, zero_grad, device) -> torch.cuda.CUDAGraph | None:
    """The step as a CUDA graph, or None (with a note) where capture fails."""
    graph = torch.cuda.CUDAGraph()
    zero_grad()  # backward inside the graph then writes the gradients, not adds
    try:
        # thread_local: another thread (the image cache's read-ahead) may use CUDA while this one captures.
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            step()
    except RuntimeError as error:
        print(f"note: CUDA graph capture failed ({str(error).splitlines()[0][:120]}); running eagerly",
              file=sys.stderr)
        torch.cuda.synchronize(device)
        return None
    return graph
