"""Genie-D (Jeon et al., CVPR 2023, "Genie: Show Me the Data for Quantization"): distilled images
made by a small generator whose parameters AND latent codes are optimised, batch by batch,
until the frozen model's BatchNorm inputs have the statistics the BatchNorms learned.

ZeroQ optimises the pixels themselves; Genie-D optimises them through a generator (a linear
layer to 128 x H/4 x W/4, two x2 upsamplings with 3x3 convolutions, BatchNorms, LeakyReLU, tanh,
a non-affine output BatchNorm), which acts as a prior for natural-looking images and converges in
fewer steps. A fresh generator and fresh latents are made for every batch, and only the batch's
final images are kept. Genie's "swing convolution" jitters the input of every strided
convolution of the model by up to one pixel (reflection padding, a random crop back to size)
at each step, so the images cannot lean on the stride's aliasing.

The paper's settings, kept: latent size 256; Adam on the latents at lr 0.1 with ReduceLROnPlateau
(patience 100, min lr 1e-4) and Adam on the generator at lr 0.01 decayed by 0.95 every 100 steps;
statistics over the whole batch (N, H, W); per layer, squared L2 distances of the means and of
the standard deviations, divided by the number of channels; the image's own per-image channel
means and stds pulled to 0 and 1.
Departures, ours:
- 200 steps per batch of 256 by default instead of 4,000 per batch of 128. Genie reports hours of
  distillation; a kit run has a 10-minute budget per model, most of it for reconstruction. On a
  GPU a step runs in bf16 (`precision="auto"`, float32 statistics and losses) with each
  BatchNorm's work fused into hand-written Triton kernels (`compiled="kernels"`, Distiller) and
  every map channels-last, the generator's included. On one H100 (benchmarks/results/h200-speed.md)
  a MobileNetV2 step at batch 256 takes 39.2 ms, and 1,024 images took 42.2 s in a whole run
  (5.2 s of it compiling the kernels, then 43.2 ms a step replayed from a CUDA graph, which is
  now off by default); with the whole step compiled by Inductor (`compiled="step"`) 166-187 s on
  a machine's first run, most of it compiling 726 kernels per model and batch size.
- The generator's two "upsample x2, then 3x3 convolution" pairs are computed as sub-pixel
  convolutions (synth/_subpixel.py): the same function of the same weights, without the
  upsampled maps; the swing's pad and crop as one reflected window (synth/_reflect_window.py).
- std = sqrt(unbiased var + eps) on both sides (the code takes torch.std without eps for the
  data); the image term is averaged over images instead of summed (its weight then does not
  grow with the batch size).
- A batch is never a single image: a last batch of one is made as a batch of two and one image
  is kept (BatchNorm statistics over one image of a 1x1 map are degenerate, and one-image
  convolutions take a non-reproducible CPU path: see zeroq._pad_single_image).
Deterministic for a seed on a given device and code path (eager or compiled): latents, generator
initialisation and every jitter offset come from CPU generators.
"""
from __future__ import annotations

import contextlib
import copy

import torch
import torch.nn.functional as F
from torch import nn

from challenge.compiling import compile_enabled
from challenge.errors import KitError
from challenge.cuda_graph import enabled as graphs_enabled
from challenge.graphed_steps import StepTimes, run_steps
from challenge.process import log
from synth import register_generator
from synth._bn_stats import batchnorm_layers, frozen_teacher
from synth._fused_bn import matched_batchnorms, statistics_distance
from synth._plateau import plateau_step
from synth._precision import channel_var_mean, channels_last_input, is_channels_last, tensor_cores, uses_bf16
from synth._reflect_window import reflect_pad, reflect_shift
from synth._subpixel import phase_taps, upsampled_conv


COMPILED = ("kernels", "step")  # what a GPU compiles: each BatchNorm's work, or the whole step (Distiller)


class GenieGenerator(nn.Module):
    def __init__(self, image_shape=(3, 224, 224), latent_dim=256, wide=128, narrow=64):
        super().__init__()
        channels, height, width = image_shape
        if height % 4 or width % 4:
            raise KitError(f"genie needs an image size divisible by 4, got {height}x{width}")
        self.start = (wide, height // 4, width // 4)
        self.project = nn.Linear(latent_dim, wide * (height // 4) * (width // 4))
        # Made in the order of the paper's Sequential (BN, up, conv, BN, LeakyReLU, up, conv, tanh,
        # BN), so a seed gives the same initial weights; the upsamplings live in upsampled_conv.
        self.norm0 = nn.BatchNorm2d(wide)
        self.conv1 = nn.Conv2d(wide, narrow, 3, padding=1)
        self.norm1 = nn.BatchNorm2d(narrow)
        self.conv2 = nn.Conv2d(narrow, channels, 3, padding=1)
        self.out_norm = nn.BatchNorm2d(channels, affine=False)
        self.register_buffer("taps", phase_taps(), persistent=False)  # upsampled_conv's, moved with the net

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.project(z).view(z.shape[0], *self.start)
        if is_channels_last(self.conv1.weight):  # bf16 on a GPU (tensor_cores): every map channels-last
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.norm0(x)
        x = F.leaky_relu(self.norm1(upsampled_conv(x, self.conv1, self.taps)), 0.2)
        return self.out_norm(torch.tanh(upsampled_conv(x, self.conv2, self.taps)))


class Swing:
    """Genie's swing convolution: every strided convolution of a model sees its input shifted by
    up to `jitter` pixels (reflection padding, then a crop back to size), a new shift at each step.

    `plan(iterations)` draws every step's shifts up front from a CPU generator, one (dy, dx) per
    strided convolution in module order (the order in which per-step draws made them), and
    `take(counter)` selects a step's. Three ways to apply a shift, the same values:
    - "host": the input shifted at host offsets (eager steps): a reflected window in the map's own
      memory layout (_reflect_window.py; an unshifted input is passed on as it is);
    - "stencil" (a compiled step): host integers would be baked into the graph (one compilation
      per shift), so the shift is a one-hot device tensor and the crop the sum over every offset
      of one-hot weight x crop (x * 1 plus zeros), which Inductor fuses into one kernel forward
      and one backward;
    - "graph" (steps replayed from a CUDA graph, bf16): one depthwise convolution whose one-hot
      taps pick the offset, also read from the device; x * 1 plus zeros, accumulated in float32:
      exact for bf16 maps. (A gather at device offsets instead has an atomic scatter for a
      backward: measured 20% slower per eager step on an H200.)"""

    def __init__(self, model: nn.Module, rng: torch.Generator, jitter: int, device: torch.device, mode: str = "host"):
        self.convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and max(m.stride) > 1]
        self.rng, self.jitter, self.mode = rng, jitter, mode
        self.offsets = [(0, 0)] * len(self.convs)
        self.planned, self.taken = [], 0
        self.one_hot = torch.zeros(len(self.convs), 2 * jitter + 1, 2 * jitter + 1, device=device)
        self.table = self.one_hot[:0]

    def plan(self, iterations: int) -> None:
        span = 2 * self.jitter + 1
        self.planned = [[tuple(torch.randint(0, span, (2,), generator=self.rng).tolist()) for _ in self.convs]
                        for _ in range(iterations)]
        self.taken = 0
        if self.mode != "host":
            table = torch.zeros((iterations,) + tuple(self.one_hot.shape))
            for step, offsets in enumerate(self.planned):
                for index, (dy, dx) in enumerate(offsets):
                    table[step, index, dy, dx] = 1
            self.table = table.to(self.one_hot.device)

    def take(self, counter: torch.Tensor) -> None:
        """The next step's shifts: the next planned host offsets, or row `counter` (a device
        step counter) of the device table, copied without waiting for the device."""
        if self.mode == "host":
            self.offsets = self.planned[self.taken]
            self.taken += 1
        else:
            self.one_hot.copy_(self.table.index_select(0, counter).view(self.one_hot.shape))

    def shifted(self, index: int, x: torch.Tensor) -> torch.Tensor:
        j = self.jitter
        height, width = x.shape[-2:]
        if self.mode == "host":
            dy, dx = self.offsets[index]
            return reflect_shift(x, dy - j, dx - j)
        if self.mode == "stencil":  # traced by Inductor, which lays the pad out itself
            padded = F.pad(x, [j] * 4, mode="reflect")
            weights = self.one_hot[index].to(x.dtype)
            return sum(weights[dy, dx] * padded[..., dy:dy + height, dx:dx + width]
                       for dy in range(2 * j + 1) for dx in range(2 * j + 1))
        padded = reflect_pad(x, j)
        span, channels = 2 * j + 1, x.shape[1]
        taps = self.one_hot[index].to(x.dtype).view(1, 1, span, span).expand(channels, 1, span, span).contiguous()
        return F.conv2d(padded, taps, groups=channels)

    @contextlib.contextmanager
    def hooked(self):
        def hook(index):
            def shift(_, args):
                if min(args[0].shape[-2:]) <= self.jitter:  # reflection needs more pixels than the pad
                    return None
                return (self.shifted(index, args[0]),) + tuple(args[1:])
            return shift

        handles = [conv.register_forward_pre_hook(hook(index)) for index, conv in enumerate(self.convs)]
        try:
            yield self
        finally:
            for handle in handles:
                handle.remove()


def _image_loss(images, eps: float) -> torch.Tensor:
    """Each image's own channel means and stds pulled to 0 and 1, averaged over images."""
    var, mean = channel_var_mean(images, (2, 3))  # per image and channel
    return (mean.pow(2).mean(1) + (torch.sqrt(var + eps) - 1).pow(2).mean(1)).mean()


def _statistics_loss(images, records, targets, eps: float) -> torch.Tensor:
    loss = _image_loss(images, eps)
    for bn, x in records:
        target_mean, target_std = targets[bn]
        var, mean = channel_var_mean(x, (0, 2, 3))  # over the batch (N, H, W)
        loss = loss + statistics_distance(var, mean, target_mean, target_std, eps)
    return loss


def _step_loss(net, teacher, z, records, targets, eps: float, bf16: bool) -> torch.Tensor:
    """One step's loss: the generator's images through the teacher, whose hooks fill `records`.
    Compiled as a whole on a GPU (see `Distiller`); the CPU runs it as it is."""
    records.clear()
    images = net(z)
    teacher(channels_last_input(images, bf16))
    loss = _statistics_loss(images, records, targets, eps)
    records.clear()
    return loss


def _matched_step_loss(net, teacher, z, distances, eps: float, bf16: bool) -> torch.Tensor:
    """One step's loss when the teacher's BatchNorms compute their own distances (_fused_bn.py)."""
    distances.clear()
    images = net(z)
    teacher(channels_last_input(images, bf16))
    loss = _image_loss(images, eps)
    for distance in distances:
        loss = loss + distance
    distances.clear()
    return loss


class Distiller:
    """What every batch of one Genie-D run shares: a frozen copy of the model with its swing
    hooks, and how a step computes its loss.

    Why a copy: the batches are lazy, and between two of them the caller may run its own model;
    the hooks stay on the copy for the whole run, which a compiled step needs (hooks added or
    removed after compiling are not seen by the compiled code). A step at batch 256 is bound by
    memory-bound elementwise work, BatchNorms and reductions, so it pays to fuse them; two ways:
    - compiled="kernels" (the default): every BatchNorm of the copy computes its own output,
      activation and statistics' distance, in three Triton kernels on a GPU (_fused_bn.py); the
      rest of the step is eager PyTorch (the convolutions are cuDNN's). With `cuda_graph` (on a
      GPU in bf16) the step is captured as a CUDA graph after three eager steps and replayed
      (graphed_steps.py). Off by default: once the generator ran channels-last the eager step
      kept the GPU busy, and the graph's swing (a one-hot convolution per strided input) made a
      MobileNetV2 step slower, 43.1 against 39.2 ms on an H100 (benchmarks/results/h200-speed.md);
    - compiled="step": torch.compile of the whole step (generator, teacher, statistics) on CUDA
      (unless DFQ_COMPILE=0), or wherever a torch.compile `backend` is named (the tests trace
      the CPU step with a counting backend). Its steps are the fastest measured (50 ms), but it
      compiles 726 kernels per model and batch size: 121-139 s cold, 33-42 s warm.
    On the CPU both run the same PyTorch ops, step by step; in float32 on a GPU "kernels" does
    too (the kernels and the graph take bf16 channels-last maps), while "step" still compiles."""

    def __init__(self, model: nn.Module, jitter: int, precision: str, backend: str | None = None,
                 compiled: str = "kernels", eps: float = 1e-6, cuda_graph: bool = False):
        self.device = next(model.parameters()).device
        self.precision, self.eps = precision, eps
        self.matched = compiled == "kernels"
        self.teacher = copy.deepcopy(model)
        on_gpu = self.device.type == "cuda"
        self.graphed = (cuda_graph and self.matched and on_gpu and uses_bf16(precision, self.device)
                        and graphs_enabled())
        stencil = not self.matched and (backend is not None or (on_gpu and compile_enabled()))
        mode = "graph" if self.graphed else "stencil" if stencil else "host"
        self.swing = Swing(self.teacher, torch.Generator(), jitter, self.device, mode)
        if self.matched and on_gpu and not uses_bf16(precision, self.device):
            log("genie: precision fp32 runs the BatchNorms' work in PyTorch ops and eager steps (the Triton "
                "kernels and the CUDA graph take bf16 channels-last maps: precision auto or bf16)")
        self.step_loss = torch.compile(_step_loss, backend=backend or "inductor") if stencil else _step_loss
        self._stack = contextlib.ExitStack()
        self.announced = False
        self.times = None  # batch(): the StepTimes of its loop (the first steps compile, once per run)

    def __enter__(self):
        self.records = self._stack.enter_context(frozen_teacher(self.teacher, record=not self.matched))
        if self.matched:
            self.distances = self._stack.enter_context(matched_batchnorms(self.teacher, self.eps))
        self._stack.enter_context(self.swing.hooked())
        return self

    def __exit__(self, *exc):
        return self._stack.__exit__(*exc)

    def batch(self, count, *, batch_size, input_shape, seed, iterations, lr_latent, lr_generator, decay,
              patience, min_lr, latent_dim, eps) -> torch.Tensor:
        """`count` images (at least two are made) from a fresh generator. A compiled step makes a
        short last batch at the full `batch_size` and keeps `count` of them: a new batch size would
        compile again (minutes), a fuller batch costs one batch's steps at most. The per-step
        quantities (the generator's decayed learning rate, the latents' plateau schedule and, in
        the stencil and graph modes, the swing's shifts) are device tensors read by a device step
        counter, so a step needs nothing from the host and can be replayed as a CUDA graph. (The
        generator's rate is a float32 tensor where it was a Python float: the images differ from
        the earlier code's in the last bits, which 200 steps amplify.)"""
        device = self.device
        made = max(batch_size if self.swing.mode == "stencil" else count, 2)
        rng = torch.Generator().manual_seed(seed)
        self.swing.rng = rng
        with torch.random.fork_rng(devices=[]):  # seeded initialisation without touching the caller's RNG
            torch.random.default_generator.manual_seed(seed)
            net = GenieGenerator(tuple(input_shape), latent_dim)
        net.to(device).train()
        z = torch.randn((made, latent_dim), generator=rng).to(device).requires_grad_(True)
        self.swing.plan(iterations)
        counter = torch.zeros(1, dtype=torch.long, device=device)
        # The generator's rate decays by `decay` after every 100 steps (the paper's StepLR).
        net_rates = torch.tensor([lr_generator * decay ** (step // 100) for step in range(iterations)],
                                 dtype=torch.float32, device=device)
        lr_net = torch.tensor(float(lr_generator), device=device)
        lr_z = torch.tensor(float(lr_latent), device=device)
        adam = dict(fused=True, capturable=self.graphed)
        optimise_z = torch.optim.Adam([z], lr=lr_z, **adam)
        optimise_net = torch.optim.Adam(net.parameters(), lr=lr_net, **adam)
        best = torch.tensor(float("inf"), device=device)
        bad = torch.zeros((), dtype=torch.long, device=device)
        with tensor_cores([self.teacher, net], self.precision, device) as bf16:
            if not self.matched:
                targets = {bn: (bn.running_mean.detach(), torch.sqrt(bn.running_var.detach() + eps))
                           for bn in batchnorm_layers(self.teacher)}

            def step() -> None:
                self.swing.take(counter)
                lr_net.copy_(net_rates.index_select(0, counter).view(()))
                if self.matched:
                    loss = _matched_step_loss(net, self.teacher, z, self.distances, eps, bf16)
                else:
                    loss = self.step_loss(net, self.teacher, z, self.records, targets, eps, bf16)
                loss.backward()
                optimise_z.step()
                optimise_net.step()
                plateau_step(lr_z, best, bad, loss.detach(), factor=0.1, patience=patience, min_lr=min_lr,
                             threshold=1e-4)
                counter.add_(1)

            def zero_grad() -> None:
                optimise_z.zero_grad(set_to_none=True)
                optimise_net.zero_grad(set_to_none=True)

            if self.swing.mode == "stencil" and not self.announced:
                log(f"genie: compiling the step for batches of {made} (minutes on a cold cache, seconds "
                    f"once cached; DFQ_COMPILE=0 runs it eagerly)")
                self.announced = True
            self.times = run_steps(step, iterations, device, zero_grad=zero_grad, graph=self.graphed)
        with torch.no_grad():  # the images themselves in float32 (outside autocast), as before
            return net(z)[:count].detach()


def _timing(times: StepTimes) -> str:
    """Where a batch's seconds went: its first steps (which compile, on a run's first batch, and
    capture a CUDA graph) apart."""
    first = "first step" if times.first_steps == 1 else f"first {times.first_steps} steps"
    rest = f", then {1000 * times.seconds / times.steps:.1f} ms a step" if times.steps else ""
    return (f"{times.first_steps + times.steps} steps in {times.first_seconds + times.seconds:.1f} s "
            f"({first} {times.first_seconds:.1f} s{rest})")


@register_generator("genie")
def genie(model, *, num_classes, input_shape=(3, 224, 224), num_samples=1024, batch_size=256, seed=0,
          iterations=200, lr_latent=0.1, lr_generator=0.01, decay=0.95, patience=100, min_lr=1e-4,
          latent_dim=256, eps=1e-6, jitter=1, precision="auto", compiled="kernels", cuda_graph=False):
    """Genie-D images, `batch_size` at a time; `num_classes` is unused (no labels are needed).

    1,024 images by default: what block reconstruction (brecq) learns from, as in the paper.
    The model itself is never changed (the work happens on a copy).
    """
    uses_bf16(precision, next(model.parameters()).device)  # a wrong precision fails before any work
    if compiled not in COMPILED:
        raise KitError(f"genie's compiled must be one of {', '.join(COMPILED)}; got {compiled!r}")
    with Distiller(model, jitter, precision, compiled=compiled, eps=eps, cuda_graph=cuda_graph) as distiller:
        for number, start in enumerate(range(0, num_samples, batch_size)):
            count = min(batch_size, num_samples - start)
            images = distiller.batch(count, batch_size=min(batch_size, num_samples), input_shape=input_shape,
                                     seed=seed * 100_003 + number,
                                     iterations=iterations, lr_latent=lr_latent, lr_generator=lr_generator,
                                     decay=decay, patience=patience, min_lr=min_lr, latent_dim=latent_dim, eps=eps)
            log(f"genie batch {number + 1}/{-(-num_samples // batch_size)}: {count} images, {_timing(distiller.times)}")
            yield images
