"""Evaluation batches replayed as one captured CUDA graph: the same kernels, without Python.

With the exact runtime's kernels a GPU finishes ShuffleNetV2's batch of 256 in about 11 ms,
while Python takes about 30 ms to queue its hundreds of operations (module calls, the float64
averaging mode, Triton launches): the GPU waits. A CUDA graph records the kernels of one
forward pass and replays them with a single call. Replaying runs the same kernels on the same
addresses, so the numbers are the same bits; it changes nothing but who waits.

The first batch runs as usual (it computes each layer's constants, which reads values back,
and compiles kernels); the second is captured and replayed; every later batch of that shape is
a replay. A batch of another shape (the last, smaller one) drops the graph, freeing its memory
before that batch runs as usual, and so does every call after it. A graph is captured only
when `total` items promise at least MIN_REPLAYS replays (a short evaluation would pay more for
the capture than it saves). If capturing fails the function runs as usual from then on, after
a one-line note. DFQ_CUDA_GRAPHS=0 switches graphs off.
"""
from __future__ import annotations

import os
import sys
from typing import Callable

import torch


MIN_REPLAYS = 4


def enabled() -> bool:
    return os.environ.get("DFQ_CUDA_GRAPHS", "1") != "0"


class Replayed:
    """fn(x) for tensors of one shape on a CUDA device, replayed from a graph after the first call."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], total: int | None = None):
        self.fn = fn
        self.total = total
        self.calls = 0
        self.replays = 0
        self.eager = not enabled()  # from now on, every call runs fn as usual
        self.graph: torch.cuda.CUDAGraph | None = None
        self.input: torch.Tensor | None = None
        self.output: torch.Tensor | None = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.eager or x.device.type != "cuda":
            return self.fn(x)
        if self.graph is not None and x.shape != self.input.shape:
            self._drop()
            return self.fn(x)
        self.calls += 1
        if self.calls == 1:  # as usual: constants computed, kernels compiled, before any capture
            if self.total is not None and self.total // x.shape[0] < MIN_REPLAYS + 2:
                self.eager = True
            return self.fn(x)
        if self.graph is None and not self._capture(x):
            return self.fn(x)
        self.input.copy_(x)
        self.graph.replay()
        self.replays += 1
        return self.output.clone()  # the next replay writes over the graph's output

    def _drop(self) -> None:
        self.eager = True
        self.graph = self.input = self.output = None
        torch.cuda.empty_cache()  # the graph's memory, back to the device for what runs next

    def _capture(self, x: torch.Tensor) -> bool:
        try:
            with torch.cuda.device(x.device):  # capture on the input's GPU, whichever is current
                self.input = x.clone()
                side = torch.cuda.Stream()
                side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(side):  # PyTorch's advice: one call on a side stream first
                    self.fn(self.input)
                torch.cuda.current_stream().wait_stream(side)
                graph = torch.cuda.CUDAGraph()
                # thread_local: the read-ahead thread may pin memory while this thread captures.
                with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                    self.output = self.fn(self.input)
            self.graph = graph
            return True
        except Exception as error:  # an operation that cannot be captured: run as usual
            self._drop()
            message = str(error).splitlines()[0] if str(error) else ""
            print(f"note: evaluation runs without a CUDA graph ({type(error).__name__}: {message})", file=sys.stderr)
            return False
