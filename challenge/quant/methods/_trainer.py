"""The optimisation loop of one reconstruction unit, replayed as a CUDA graph on GPUs.

One step is small (a block, a batch of 32) and launches a few hundred kernels from Python, so on a
GPU it is bound by launch overhead (MobileNetV2: 6.4 ms a step eager). Everything that changes from
step to step is therefore precomputed on the device and read by an on-device step counter: the
batch indices, the rounding loss's beta and warm-up gate, the cosine-decayed learning rates. A step
is then the same kernels every time; after a few eager steps it is captured once and replayed
(the same kernels in the same order: a graphed run gives what an eager run gives). Where the
cached tensors live in CPU memory (too large for the GPU) or on the CPU, steps run eagerly.
"""
from __future__ import annotations

import math
import sys

import torch

from ...graphed_steps import run_steps
from ._fused import qdrop_input, reconstruction_loss


def _schedules(settings, iterations: int, samples: int, device) -> dict[str, torch.Tensor]:
    rng = torch.Generator().manual_seed(settings.seed)
    epochs = math.ceil(iterations * settings.batch_size / samples) + 1
    order = torch.cat([torch.randperm(samples, generator=rng) for _ in range(epochs)])
    index = order[: iterations * settings.batch_size].view(iterations, settings.batch_size)
    start = settings.warmup * iterations
    steps = torch.arange(iterations, dtype=torch.float64)
    progress = ((steps - start) / max(1.0, iterations - start)).clamp(0, 1)
    beta = settings.beta_end + (settings.beta_start - settings.beta_end) * (1 - progress)
    gate = (steps >= start).double()
    cosine = 0.5 * (1 + torch.cos(math.pi * steps / iterations))  # CosineAnnealingLR, eta_min 0
    # round_weight x the warm-up gate, and each learning rate x the cosine, as the step computed
    # them (the same float32 products): a step reads a row of a table instead of multiplying.
    return {"index": index.to(device), "beta": beta.float(),
            "penalty_weight": settings.round_weight * gate.float(), "cosine": cosine.float()}


class UnitTrainer:
    def __init__(self, block, layers, x_fp, x_q, y_fp, settings, device: torch.device):
        self.block, self.layers, self.settings = block, layers, settings
        self.x_fp, self.x_q, self.y_fp = x_fp, x_q, y_fp
        self.device = device
        self.learners = [layer for layer in layers if hasattr(layer, "v")]
        self.sched = _schedules(settings, settings.iterations, len(x_q), device)
        self.counter = torch.zeros(1, dtype=torch.long, device=device)
        self.times = None  # run(): the StepTimes of the loop
        self.loss = torch.zeros((), device=device)
        fused = dict(fused=True, capturable=device.type == "cuda")
        groups = [([l.weight_log_scale for l in layers if l.quantizes_weight and l.weight_log_scale.requires_grad],
                   settings.lr_weight_scale),
                  ([l.act_log_scale for l in layers if hasattr(l, "act_log_scale") and l.act_log_scale.requires_grad],
                   settings.lr_act_scale)]
        groups = [(params, base) for params, base in groups if params]
        # Everything a step reads by its counter, one row a step (beta, the regulariser's weight,
        # each step size's learning rate), gathered into `current` by one kernel: the small late
        # units' steps are mostly such tiny kernels (six of them before). Beta and the learning
        # rates the optimisers read are views of `current`.
        columns = [self.sched["beta"], self.sched["penalty_weight"]] + [base * self.sched["cosine"]
                                                                        for _, base in groups]
        self.table = torch.stack(columns, dim=1).to(device)
        self.current = self.table[:1].clone()
        self.optimisers = []
        if self.learners:
            lr = torch.tensor(settings.lr_rounding, device=device)
            self.optimisers.append(torch.optim.Adam([l.v for l in self.learners], lr=lr, **fused))
        for column, (params, _) in enumerate(groups, start=2):
            self.optimisers.append(torch.optim.Adam(params, lr=self.current[0, column], **fused))

    @property
    def has_work(self) -> bool:
        return bool(self.optimisers)

    def step(self) -> None:
        """One optimisation step; reads and writes device tensors only (graph-safe)."""
        s, sched = self.settings, self.sched
        index = sched["index"].index_select(0, self.counter).view(-1)
        x = self.x_q.take(index)
        if s.drop_prob > 0:  # QDrop: FP32 or quantized block input, element by element
            x = qdrop_input(x, self.x_fp.take(index), s.drop_prob)
        torch.index_select(self.table, 0, self.counter, out=self.current)
        for learner in self.learners:  # each forward leaves its layer's regulariser (_learned.py)
            learner.beta = self.current[0, 0:1]
        loss = reconstruction_loss(self.block(x), self.y_fp.take(index))
        if self.learners:
            regulariser = sum(learner.penalty for learner in self.learners)
            loss = loss + self.current[0, 1] * regulariser
        loss.backward()
        for optimiser in self.optimisers:
            optimiser.step()
        with torch.no_grad():
            self.loss.copy_(loss.detach())
            self.counter.add_(1)
        for learner in self.learners:
            learner.beta = learner.penalty = None

    def _zero_grad(self) -> None:
        for optimiser in self.optimisers:
            optimiser.zero_grad(set_to_none=True)

    def run(self, title: str | None) -> list[float]:
        """All iterations; returns the loss every iterations/20 steps. A progress bar with `title`
        (None: none, for callers that run hundreds of short units under a bar of their own)."""
        from progress.bar import Bar

        iterations = self.settings.iterations
        on_device = all(c is None or c.on_device for c in (self.x_fp, self.x_q, self.y_fp))
        for layer in self.layers:
            layer.dropping = self.settings.drop_prob > 0
        history, every = [], max(1, iterations // 20)
        bar = Bar(title, max=iterations, file=sys.stderr, suffix="%(index)d/%(max)d loss %(loss)s") if title else None
        if bar:
            bar.loss = "-"

        def note(done: int) -> None:
            history.append(float(self.loss))  # one host sync per `every` steps
            if bar:
                bar.loss = f"{history[-1]:.4g}"
                bar.goto(done)

        self.times = run_steps(self.step, iterations, self.device, zero_grad=self._zero_grad, every=every,
                               report=note, graph=on_device)
        if bar:
            bar.finish()
        for layer in self.layers:
            layer.dropping = False
        return history
