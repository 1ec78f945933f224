"""ZeroQ distilled data (Cai et al., CVPR 2020, "ZeroQ: A Novel Zero Shot Quantization Framework").

Random images are optimised directly, with Adam, until the statistics of every BatchNorm
layer's input match that layer's running statistics, and the images' own channel statistics
are mean 0 and std 1 (the image is treated as the input of a first, ideal BatchNorm).

Faithful to the authors' public code where it differs from the paper's text:
- the loss per layer is the *squared* L2 distance between statistics, averaged over the batch
  (the paper writes ||.||_2); statistics are per image (over H, W), `per_batch_stats=True`
  matches statistics over the whole batch (N, H, W) instead;
- std = sqrt(var + eps) with eps = 1e-6 and the unbiased variance, on both sides;
- Adam at lr 0.5 for 500 steps with ReduceLROnPlateau(patience=100, min_lr=1e-4).
Where we differ: the starting images are N(0, 1) as in the paper (the code's uniform init is
scaled by the variance instead of the std, which starts from near-constant images).

No host-device synchronisation inside the loop: the learning rate is a tensor on the device
(fused Adam reads it there), and the plateau rule runs on the device with torch.where; it is
ReduceLROnPlateau's "min"/"rel" rule, step for step. The loss history is read once, at the end.
"""
from __future__ import annotations

import torch

from challenge.graphed_steps import run_steps
from synth import register_generator
from synth._bn_stats import batchnorm_layers, frozen_teacher
from synth._plateau import plateau_step
from synth._precision import channel_var_mean, channels_last_input, tensor_cores


def _channel_stats(x: torch.Tensor, per_batch: bool, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(rows, C) means and stds: one row per image, or one row for the whole batch."""
    dims = (0, 2, 3) if per_batch else (2, 3)  # reduced in place: no copy of a channels-last tensor
    values = x.shape[2] * x.shape[3] * (x.shape[0] if per_batch else 1)  # per statistic
    # Unbiased, as the reference code, except over a single value (a 1x1 map of a small input),
    # where the unbiased variance is undefined (NaN) and we take the biased one (0).
    var, mean = channel_var_mean(x, dims, correction=1 if values > 1 else 0)  # float32, also for bf16 x
    if per_batch:
        var, mean = var.unsqueeze(0), mean.unsqueeze(0)
    return mean, torch.sqrt(var + eps)


def _distance(stats: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    # Squared L2 over channels, summed over rows and divided by the number of rows.
    return (stats - target).pow(2).sum() / stats.shape[0]


def _statistics_loss(images, records, targets, per_batch: bool, eps: float) -> torch.Tensor:
    mean, std = _channel_stats(images, per_batch, eps)
    loss = _distance(mean, 0.0) + _distance(std, 1.0)
    for bn, bn_input in records:
        target_mean, target_std = targets[bn]
        mean, std = _channel_stats(bn_input, per_batch, eps)
        loss = loss + _distance(mean, target_mean) + _distance(std, target_std)
    return loss


def _pad_single_image(x: torch.Tensor) -> torch.Tensor:
    """A batch of one image on the CPU, padded with a constant second image (see distill).

    Why: for a single image, ATen runs every ungrouped convolution of at most 3x3 on a small map
    through its native im2col + BLAS path (`_slow_conv2d_forward/backward`, chosen by
    ConvParams::use_mkldnn when the batch is 1, the kernel is small and the input has at most
    20480 values), and any batch of two or more through oneDNN. MKL's sgemm is run-to-run
    reproducible only under its CNR conditions (fixed thread count, aligned buffers, a fixed code
    branch); on Intel AVX-512/AMX hosts two identical one-image steps in one process came out
    2.4e-7 apart (one float32 ulp at 2..4), while batches of two were bitwise identical. Profiled
    here (AMD EPYC, where MKL takes its generic branch): one image -> aten::thnn_conv2d, two ->
    aten::mkldnn_convolution only. So a single image is never sent alone: the constant second
    image keeps the batch on the oneDNN path, and only the first row enters the loss.
    """
    if x.shape[0] != 1 or x.device.type != "cpu":
        return x
    return torch.cat([x, torch.zeros_like(x)])


def distill(model, images, *, iterations=500, lr=0.5, patience=100, factor=0.1, min_lr=1e-4,
            threshold=1e-4, eps=1e-6, per_batch_stats=False, pixel_range=None, cuda_graph=True,
            precision="fp32"):
    """Optimise `images` (N, C, H, W) against `model`'s BatchNorm statistics.

    `pixel_range`: None (the paper), or (low, high) tensors of shape (C,) to which the images are
    clamped after every step, e.g. the normalized values of pixels 0 and 1.
    `cuda_graph`: on a GPU, record one optimisation step as a CUDA graph after a few eager steps
    and replay it (challenge/graphed_steps.py): the same kernels in the same order, without the
    cost of launching them one by one from Python (MobileNetV2: 39 ms of CPU per 27 ms of GPU).
    `precision`: the frozen model's forward and backward in bf16 on a GPU ("auto"), or "fp32"
    (synth/_precision.py); the pixels, statistics and loss stay float32.
    Returns (distilled images, loss history): the loss before each of the `iterations` steps,
    as a CPU tensor (read once, at the end). The model comes back unchanged.
    """
    device = images.device
    x = images.detach().clone().requires_grad_(True)
    lr_now = torch.tensor(float(lr), device=device)
    # fused: the step count and this tensor lr stay on the device, so Adam never calls .item();
    # capturable (on any GPU, so that graphed and eager runs use the same kernel and give the
    # same images): its state may then be updated inside a CUDA graph.
    optimizer = torch.optim.Adam([x], lr=lr_now, fused=True, capturable=device.type == "cuda")
    best = torch.tensor(float("inf"), device=device)
    bad = torch.zeros((), dtype=torch.long, device=device)
    history = torch.empty(iterations, device=device)
    step_index = torch.zeros(1, dtype=torch.long, device=device)
    if pixel_range is not None:
        low, high = (torch.as_tensor(v, device=device, dtype=x.dtype).view(1, -1, 1, 1) for v in pixel_range)
    with frozen_teacher(model) as records, tensor_cores([model], precision, device) as bf16:
        targets = {bn: (bn.running_mean.detach(), torch.sqrt(bn.running_var.detach() + eps))
                   for bn in batchnorm_layers(model)}

        count = x.shape[0]

        def step():
            records.clear()
            model(channels_last_input(_pad_single_image(x), bf16))
            # Only the real images' rows: statistics are per image (or, for one image, per batch
            # equals per image), so the padding image never touches the loss or the gradient.
            real = [(bn, bn_input[:count]) for bn, bn_input in records]
            loss = _statistics_loss(x, real, targets, per_batch_stats, eps)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                if pixel_range is not None:
                    torch.maximum(x, low, out=x)
                    torch.minimum(x, high, out=x)
                loss = loss.detach()
                history.index_copy_(0, step_index, loss.view(1))
                step_index.add_(1)
                plateau_step(lr_now, best, bad, loss, factor=factor, patience=patience,
                              min_lr=min_lr, threshold=threshold)
            records.clear()

        run_steps(step, iterations, device, zero_grad=lambda: optimizer.zero_grad(set_to_none=True),
                  graph=cuda_graph)
    return x.detach(), history.cpu()


@register_generator("zeroq")
def zeroq(model, *, num_classes, input_shape=(3, 224, 224), num_samples=64, batch_size=None,
          seed=0, iterations=500, lr=0.5, patience=100, factor=0.1, min_lr=1e-4, threshold=1e-4,
          eps=1e-6, per_batch_stats=False, clamp_to_pixels=False, precision="fp32"):
    """ZeroQ distilled data; `num_classes` is unused (the method needs no labels).

    64 images by default: twice the paper's single batch of 32, so that calibration sees a
    few more activation extremes, and still one batch (batch_size=None means all at once;
    per-image statistics make the result independent of how the images are batched, up to
    floating point).
    """
    device = next(model.parameters()).device
    batch_size = batch_size or num_samples
    pixel_range = None
    if clamp_to_pixels:  # not in the paper: keep images within what a normalized photo can hold
        from challenge.data import IMAGENET_MEAN, IMAGENET_STD

        pixel_range = tuple(torch.tensor([(v - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)])
                            for v in (0.0, 1.0))
    # Noise is drawn on the CPU so a seed gives the same start on every device.
    rng = torch.Generator().manual_seed(seed)
    for start in range(0, num_samples, batch_size):
        count = min(batch_size, num_samples - start)
        noise = torch.randn((count, *input_shape), generator=rng).to(device)
        images, _ = distill(model, noise, iterations=iterations, lr=lr, patience=patience,
                            factor=factor, min_lr=min_lr, threshold=threshold, eps=eps,
                            per_batch_stats=per_batch_stats, pixel_range=pixel_range, precision=precision)
        yield images
