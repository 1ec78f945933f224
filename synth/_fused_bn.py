"""Genie-D's per-layer work done by each BatchNorm itself, in three hand-written Triton kernels on a GPU.

At each step every BatchNorm of the frozen model normalises its input, the input's batch
statistics are compared with the BatchNorm's running ones, and most often a ReLU follows.
Eagerly that is several memory-bound kernels per layer, forward and backward (a MobileNetV2
step at batch 256 takes 181 ms on an H100 in bf16). Compiling the whole step fuses them (50 ms),
but its kernels are specialised to every layer's shape: 726 distinct kernels for MobileNetV2,
121-139 s to compile on a machine's first run and 33-42 s to load on every later one, per model
and batch size (benchmarks/results/h200-speed.md).

`matched_batchnorms` makes every BatchNorm of a model (Genie-D's private copy) compute instead

    y = act(x * scale + shift)   and   |mean(x) - target mean|^2 + |std(x) - target std|^2,

scale and shift being the eval BatchNorm's own, act the ReLU or ReLU6 that follows it in an
nn.Sequential (that module then passes the BatchNorm's output through), the statistics over the
batch (N, H, W). A channels-last map on a GPU is handed to the kernels as the (pixels, channels)
matrix it is in memory (_bn_kernels.py: one compilation per tile width and dtype serves every
layer of every model, 11 s on an H100's first run); any other map (float32 NCHW, the CPU, or
DFQ_COMPILE=0) runs the same function in PyTorch ops, the twin. The convolutions stay cuDNN's.
(Inductor compiling this function with dynamic shapes, tried before the kernels, took 78 s cold
for the same step time: call 14 of issue 20.)
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

from challenge.compiling import compile_enabled
from challenge.process import log
from synth._bn_stats import batchnorm_layers
from synth._precision import channel_var_mean, is_channels_last

# The activations that may follow a BatchNorm and are applied with it: (low, high) clamp bounds.
FUSED_ACTIVATIONS = {nn.ReLU: (0.0, None), nn.ReLU6: (0.0, 6.0)}


def statistics_distance(var, mean, target_mean, target_std, eps: float) -> torch.Tensor:
    """Genie's per-layer term: the squared differences of the means and of the stds
    (sqrt(var + eps)), each averaged over channels."""
    return (mean - target_mean).pow(2).mean() + (torch.sqrt(var + eps) - target_std).pow(2).mean()


def _normalise_and_match(x, scale, shift, target_mean, target_std, dims: tuple[int, ...], eps: float,
                         low: float | None, high: float | None):
    """act(x * scale + shift) in x's dtype, and the distance of x's statistics over `dims` (float32)
    to the targets (statistics_distance)."""
    var, mean = channel_var_mean(x, dims)
    distance = statistics_distance(var, mean, target_mean, target_std, eps)
    y = x.float() * scale + shift
    if low is not None or high is not None:
        y = torch.clamp(y, low, high)
    return y.to(x.dtype), distance


def _triton_function():
    """The kernels' autograd function, or None where Triton cannot be imported (said once): the
    twin then does the same work, slower."""
    if _TRITON_MISSING:  # a failed import is not retried: every BatchNorm asks at every step
        return None
    try:
        from synth._bn_kernels import NormaliseAndMatch
    except ImportError as error:
        _TRITON_MISSING.append(str(error))
        log(f"genie: Triton cannot be imported ({error}); the BatchNorms' work runs in PyTorch ops, "
            f"slower (Triton comes with PyTorch's CUDA wheels on Linux)")
        return None
    return NormaliseAndMatch


_TRITON_MISSING: list[str] = []


def normalise_and_match(x: torch.Tensor, scale, shift, target_mean, target_std, eps: float,
                        low: float | None = None, high: float | None = None):
    """`_normalise_and_match` for a (N, C, H, W) map x and per-channel (C,) float32 vectors. A
    channels-last map is handed over as its (N*H*W, C) matrix, without a copy: on a GPU to the
    three Triton kernels (_bn_kernels.py), elsewhere to the twin; any other map to the twin as it is."""
    if is_channels_last(x):
        n, c, h, w = x.shape
        matrix = x.permute(0, 2, 3, 1).reshape(n * h * w, c)
        kernels = _triton_function() if x.is_cuda and compile_enabled() else None
        if kernels is not None:
            rows, distance = kernels.apply(matrix, scale, shift, target_mean, target_std, eps, low, high)
        else:
            rows, distance = _normalise_and_match(matrix, scale, shift, target_mean, target_std, (0,), eps, low, high)
        return rows.view(n, h, w, c).permute(0, 3, 1, 2), distance
    shape = (1, -1) + (1,) * (x.dim() - 2)
    dims = (0,) + tuple(range(2, x.dim()))
    return _normalise_and_match(x, scale.view(shape), shift.view(shape), target_mean, target_std, dims, eps, low, high)


def _following_activations(model: nn.Module) -> dict[nn.Module, nn.Module]:
    """BatchNorm -> the ReLU or ReLU6 right after it in a plain nn.Sequential (whose forward runs
    its children in order; a subclass may not)."""
    following = {}
    for parent in model.modules():
        if isinstance(parent, nn.Sequential) and type(parent).forward is nn.Sequential.forward:
            children = list(parent)
            for first, second in zip(children, children[1:]):
                if isinstance(first, nn.modules.batchnorm._BatchNorm) and type(second) in FUSED_ACTIVATIONS:
                    following[first] = second
    return following


@contextlib.contextmanager
def matched_batchnorms(model: nn.Module, eps: float):
    """While open, every BatchNorm of `model` (in eval mode, frozen) computes `normalise_and_match`
    and appends its distance to the yielded list, in call
    order. An activation folded into the BatchNorm before it passes that BatchNorm's output
    through, and only that: called on anything else (a module used twice), it computes as
    before. The target std is sqrt(running var + eps), as Genie's. Everything is put back on
    exit, also after an error while setting up."""
    distances: list[torch.Tensor] = []
    saved: dict[nn.Module, object] = {}  # module -> its own instance `forward`, or None
    folded_output: dict[nn.Module, torch.Tensor] = {}  # activation -> the output that already has it

    def patch(module, forward):
        if module not in saved:
            saved[module] = vars(module).get("forward")
        module.forward = forward

    def batchnorm_forward(bn, activation):
        with torch.no_grad():
            inverse_std = torch.rsqrt(bn.running_var.float() + bn.eps)
            scale = bn.weight.float() * inverse_std if bn.weight is not None else inverse_std
            shift = (bn.bias.float() if bn.bias is not None else 0) - bn.running_mean.float() * scale
            target_mean = bn.running_mean.float().clone()
            target_std = torch.sqrt(bn.running_var.float() + eps)
        low, high = FUSED_ACTIVATIONS[type(activation)] if activation is not None else (None, None)

        def forward(x):
            y, distance = normalise_and_match(x, scale, shift, target_mean, target_std, eps, low, high)
            distances.append(distance)
            if activation is not None:
                folded_output[activation] = y
            return y
        return forward

    def activation_forward(activation, original):
        def forward(x):
            if folded_output.get(activation) is x:
                del folded_output[activation]
                return x
            return original(x)
        return forward

    try:
        following = _following_activations(model)
        for bn in batchnorm_layers(model):
            activation = following.get(bn)
            patch(bn, batchnorm_forward(bn, activation))
            if activation is not None and activation not in saved:
                patch(activation, activation_forward(activation, activation.forward))
        yield distances
    finally:
        for module, own in saved.items():
            if own is None:
                del module.forward
            else:
                module.forward = own
        folded_output.clear()
