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
  distillation; a kit run has a 10-minute budget per model, most of it for reconstruction. On one
  H200 a step of MobileNetV2 at batch 256 takes 0.17-0.19 s (float32 or bf16 alike: the step
  is bound by memory-bound elementwise work, see synth/_precision.py), so 1,024 images take
  124-144 s at 200 steps and about 25 minutes at the paper's `iterations=4000, batch_size=128`.
- The generator's two "upsample x2, then 3x3 convolution" pairs are computed as sub-pixel
  convolutions (upsampled_conv): the same function of the same weights, without the upsampled
  maps.
- std = sqrt(unbiased var + eps) on both sides (the code takes torch.std without eps for the
  data); the image term is averaged over images instead of summed (its weight then does not
  grow with the batch size).
- A batch is never a single image: a last batch of one is made as a batch of two and one image
  is kept (BatchNorm statistics over one image of a 1x1 map are degenerate, and one-image
  convolutions take a non-reproducible CPU path: see zeroq._pad_single_image).
Deterministic for a seed on a given device: latents, generator initialisation and every jitter
offset come from CPU generators.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from challenge.errors import KitError
from synth import register_generator
from synth._bn_stats import batchnorm_layers, frozen_teacher
from synth._plateau import plateau_step
from synth._precision import channel_var_mean, channels_last_input, tensor_cores


def _phase_taps() -> torch.Tensor:
    """taps[p, r, d] = 1 where tap d of a 3x3 kernel, for output phase p of a x2 nearest upsampling,
    reads low-resolution offset r - 1: output row 2i + p, tap d, reads input row i + (p + d - 1) // 2."""
    taps = torch.zeros(2, 3, 3)
    for phase in range(2):
        for tap in range(3):
            taps[phase, (phase + tap - 1) // 2 + 1, tap] = 1
    return taps


def upsampled_conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """conv(nearest x2 upsampling of x) for a 3x3, padding 1 convolution, without the upsampled tensor.

    Each of the four output phases (row and column parity) is a 3x3 convolution of x itself whose
    taps are sums of the original kernel's (a sub-pixel convolution); one convolution with 4x the
    output channels computes all four, and pixel_shuffle interleaves them. Exact up to float
    summation order, and the gradients reach the same weights. Why: at Genie-D's batch of 256 the
    upsampled 64-channel 224x224 map alone is 822M values that the upsampling, its casts under
    autocast (upsampling runs in float32) and the convolution read and write at every step. On an
    H200 removing them did not change the step time measurably (the step is bound elsewhere:
    benchmarks/results/h200-speed.md); it still saves that memory."""
    weight = conv.weight
    taps = _phase_taps().to(weight)
    out_channels, in_channels = weight.shape[:2]
    kernel = torch.einsum("prd,oide,qse->opqirs", taps, weight, taps).reshape(out_channels * 4, in_channels, 3, 3)
    bias = conv.bias.repeat_interleave(4) if conv.bias is not None else None
    return F.pixel_shuffle(F.conv2d(x, kernel, bias, padding=1), 2)


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

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.norm0(self.project(z).view(z.shape[0], *self.start))
        x = F.leaky_relu(self.norm1(upsampled_conv(x, self.conv1)), 0.2)
        return self.out_norm(torch.tanh(upsampled_conv(x, self.conv2)))


@contextlib.contextmanager
def swing(model: nn.Module, rng: torch.Generator, jitter: int = 1):
    """Every strided convolution of `model` sees its input shifted by up to `jitter` pixels.

    The offsets are host integers drawn from a CPU generator, so the step cannot be a CUDA graph;
    it need not be: at batch 256 a step is bound by the GPU's work, not by launching it. (Offsets
    read on the device instead need a gather whose backward is an atomic scatter: measured 20%
    slower per step on an H200.)"""

    def shift(_, args):
        x = args[0]
        if min(x.shape[-2:]) <= jitter:  # reflection needs more pixels than the pad
            return None
        dy, dx = torch.randint(0, 2 * jitter + 1, (2,), generator=rng).tolist()
        padded = F.pad(x, [jitter] * 4, mode="reflect")
        return (padded[..., dy:dy + x.shape[-2], dx:dx + x.shape[-1]],) + tuple(args[1:])

    handles = [m.register_forward_pre_hook(shift) for m in model.modules()
               if isinstance(m, nn.Conv2d) and max(m.stride) > 1]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _statistics_loss(images, records, targets, eps: float) -> torch.Tensor:
    var, mean = channel_var_mean(images, (2, 3))  # per image and channel
    loss = (mean.pow(2).mean(1) + (torch.sqrt(var + eps) - 1).pow(2).mean(1)).mean()
    for bn, x in records:
        target_mean, target_std = targets[bn]
        var, mean = channel_var_mean(x, (0, 2, 3))  # over the batch (N, H, W)
        loss = loss + (mean - target_mean).pow(2).mean() + (torch.sqrt(var + eps) - target_std).pow(2).mean()
    return loss


def distill_batch(model, count, *, input_shape, seed, iterations, lr_latent, lr_generator, decay,
                  patience, min_lr, latent_dim, eps, jitter, precision="fp32"):
    """`count` images (at least two are made) from a fresh generator; the model comes back unchanged."""
    device = next(model.parameters()).device
    made = max(count, 2)
    rng = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # seeded initialisation without touching the caller's RNG
        torch.random.default_generator.manual_seed(seed)
        net = GenieGenerator(tuple(input_shape), latent_dim)
    net.to(device).train()
    z = torch.randn((made, latent_dim), generator=rng).to(device).requires_grad_(True)
    lr_z = torch.tensor(float(lr_latent), device=device)
    optimise_z = torch.optim.Adam([z], lr=lr_z, fused=True)
    optimise_net = torch.optim.Adam(net.parameters(), lr=lr_generator, fused=True)
    best = torch.tensor(float("inf"), device=device)
    bad = torch.zeros((), dtype=torch.long, device=device)
    with frozen_teacher(model) as records, swing(model, rng, jitter), \
            tensor_cores([model, net], precision, device) as bf16:
        targets = {bn: (bn.running_mean.detach(), torch.sqrt(bn.running_var.detach() + eps))
                   for bn in batchnorm_layers(model)}
        for step in range(1, iterations + 1):
            records.clear()
            optimise_z.zero_grad(set_to_none=True)
            optimise_net.zero_grad(set_to_none=True)
            images = net(z)
            model(channels_last_input(images, bf16))
            loss = _statistics_loss(images, records, targets, eps)
            loss.backward()
            optimise_z.step()
            optimise_net.step()
            plateau_step(lr_z, best, bad, loss.detach(), factor=0.1, patience=patience, min_lr=min_lr,
                         threshold=1e-4)
            if step % 100 == 0:
                for group in optimise_net.param_groups:
                    group["lr"] *= decay
        records.clear()
    with torch.no_grad():  # the images themselves in float32 (outside autocast), as before
        return net(z)[:count].detach()


@register_generator("genie")
def genie(model, *, num_classes, input_shape=(3, 224, 224), num_samples=1024, batch_size=256, seed=0,
          iterations=200, lr_latent=0.1, lr_generator=0.01, decay=0.95, patience=100, min_lr=1e-4,
          latent_dim=256, eps=1e-6, jitter=1, precision="fp32"):
    """Genie-D images, `batch_size` at a time; `num_classes` is unused (no labels are needed).

    1,024 images by default: what block reconstruction (brecq) learns from, as in the paper.
    """
    for number, start in enumerate(range(0, num_samples, batch_size)):
        count = min(batch_size, num_samples - start)
        yield distill_batch(model, count, input_shape=input_shape, seed=seed * 100_003 + number,
                            iterations=iterations, lr_latent=lr_latent, lr_generator=lr_generator,
                            decay=decay, patience=patience, min_lr=min_lr, latent_dim=latent_dim,
                            eps=eps, jitter=jitter, precision=precision)
