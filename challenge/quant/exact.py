"""The exact reference runtime: a quantized model gives the same predictions on every device.

Float32 fake quantization rounds differently on a CPU and a GPU (other summation orders, other
kernels), and a quantized model rounds every activation to its grid, so a last-bit difference
sometimes moves a value across a step: the CPU and an H100 disagreed on 26 of 1,670 images.
Under `exact_runtime()` every part of the forward pass is made independent of the device:

- A quantized layer computes `sum((x_int - zero_point) * w_int)` on the integers themselves.
  The products and every partial sum are integers, and float32 holds integers exactly below
  2**24, so any summation order (oneDNN, MKL, cuBLAS, split-K) gives the same, exact result
  when max|x_int - zero_point| * max_c sum|w_c| < 2**24. A layer over that bound (ResNet18's
  3x3 convolutions of 512 channels) runs twice, on the low and high base-16 digits of the
  activations (each under the bound).
  cuDNN is switched off: its Winograd and FFT algorithms transform the operands and are not
  sums of products; PyTorch's own CUDA kernels (im2col + GEMM, depthwise) are. (The digits
  are recombined in float32: a deterministic rounding where the sum passes 2**24.) On a GPU,
  convolutions with groups=1 run instead as one int8 matrix product with int32 sums
  (exact_int8.py): the same numbers, several times faster than PyTorch's per-image loop,
  and depthwise ones as one fused kernel (exact_depthwise.py); both use Triton kernels
  (exact_kernels.py) that compute PyTorch's float32 operations in fewer passes.
- The epilogue `acc * (input_scale * weight_scale) + bias` is two elementwise float32
  operations (a multiplication, then an addition: never fused into one FMA): IEEE operations
  are correctly rounded, so every device rounds them alike.
- Activations are quantized elementwise (`round(x * (1 / scale)) + zero_point`, clamped), as
  torch's fake_quantize does: elementwise, so exact everywhere. ReLU, max-pooling, channel
  shuffles and residual adds are elementwise or selections: exact everywhere too.
- Averages (the global average pool of all three models) are reductions whose float32 result
  depends on the order: they run in float64, where the 49 float32 terms of a 7x7 map are summed
  exactly unless their magnitudes span more than about 2**23; then what remains is a float64
  rounding (1e-16 relative) that would have to land on a float32 rounding boundary.
- The model input is normalized through a 3 x 256 table computed once in float64: CUDA divides
  by a Python scalar as a multiplication by its reciprocal, the CPU divides.

Layers whose weights stay in float or whose input is not quantized (a layer config's
`quantize = false`) run as before, in float32, and are not device-independent.
Calibration never runs under this: it observes float activations, unchanged.
"""
from __future__ import annotations

import contextlib
import contextvars

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from . import exact_depthwise, exact_int8, exact_kernels

EXACT_LIMIT = 2 ** 24  # float32 represents every integer of smaller magnitude
DIGIT_BASE = 16.0

_active = contextvars.ContextVar("dfq_exact_runtime", default=False)


def active() -> bool:
    return _active.get()


class _Float64Averages(TorchFunctionMode):
    """Means and average pools computed in float64, returned in the input's float32."""

    FUNCTIONS = {torch.Tensor.mean, torch.mean, F.adaptive_avg_pool2d, F.avg_pool2d}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self.FUNCTIONS and args and isinstance(args[0], torch.Tensor) and args[0].dtype == torch.float32:
            return func(args[0].double(), *args[1:], **kwargs).float()
        return func(*args, **kwargs)


@contextlib.contextmanager
def exact_runtime():
    """Quantized layers, averages and cuDNN as the module docstring says, for this block."""
    token = _active.set(True)
    try:
        with _Float64Averages(), torch.backends.cudnn.flags(enabled=False):
            yield
    finally:
        _active.reset(token)


_tables: dict = {}


def normalize_exact(batch: torch.Tensor) -> torch.Tensor:
    """uint8 NCHW -> ImageNet-normalized float32, the same bits on every device (a lookup table)."""
    from ..data import IMAGENET_MEAN, IMAGENET_STD

    key = batch.device
    if key not in _tables:
        values = torch.arange(256, dtype=torch.float64) / 255.0
        table = torch.stack([(values - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]).float()
        _tables[key] = table.flatten().to(batch.device)
    offsets = (torch.arange(batch.shape[1], device=batch.device) * 256).view(1, -1, 1, 1)
    return torch.take(_tables[key], batch.long() + offsets)


def integer_input(x: torch.Tensor, quantizer, zero_point: int | None = None) -> torch.Tensor:
    """(x_int - zero_point) as float32 integers, with x_int = clamp(round(x / scale) + zero_point)
    computed as fake_quantize does (a multiplication by the float32 reciprocal of the scale)."""
    if zero_point is None:
        zero_point = int(quantizer.zero_point)
    # round(v) + zp clamped to [qmin, qmax], minus zp, is round(v) clamped to [qmin - zp, qmax - zp];
    # a NaN counts as 0, as in the GPU kernels: a broken model still gives the same numbers everywhere.
    return exact_kernels.integers_torch(x, torch.reciprocal(quantizer.scale.to(x.device)),
                                        quantizer.qmin - zero_point, quantizer.qmax - zero_point)


def supports(layer) -> bool:
    """Whether a QuantLayer can run exactly: integer weights, quantized input, plain zero padding."""
    quantizer = layer.input_quant
    return (quantizer is not None and quantizer.mode == "quantize" and layer.weight_int is not None
            and getattr(layer.layer, "padding_mode", "zeros") == "zeros")


def _version_key(*tensors) -> tuple:
    return tuple((id(t), t._version) if t is not None else None for t in tensors)


def _constants(layer, device: torch.device) -> dict:
    """Per-layer tensors for the exact path, cached until the weights or parameters change."""
    quantizer = layer.input_quant
    key = (device, _version_key(layer.weight_int, layer.weight_scale, layer.layer.bias,
                                quantizer.scale, quantizer.zero_point))
    cached = getattr(layer, "_exact_cache", None)
    if cached is not None and cached["key"] == key:
        return cached
    weight = layer.weight_int.to(device=device, dtype=torch.float32)
    widest = float(weight.abs().flatten(1).sum(dim=1).max())  # max over outputs of sum |w|
    zero_point = int(quantizer.zero_point)
    reach = max(zero_point - quantizer.qmin, quantizer.qmax - zero_point)  # max |x_int - zero_point|
    if reach * widest < EXACT_LIMIT:
        passes, dtype = 1, torch.float32
    elif DIGIT_BASE * widest < EXACT_LIMIT:
        passes, dtype = 2, torch.float32
    else:  # not reached by the challenge's models: sums stay exact in float64 (below 2**53)
        passes, dtype = 1, torch.float64
    shape = (1, -1, 1, 1) if isinstance(layer.layer, nn.Conv2d) else (1, -1)
    # One float32 number per output channel, rounded once: the same on every device.
    scale = (quantizer.scale.to(device, torch.float64) * layer.weight_scale.to(device, torch.float64)).float()
    bias = None if layer.layer.bias is None else layer.layer.bias.detach().to(device)
    int8 = exact_int8.constants(layer, device, zero_point, scale, bias) if exact_int8.applies(layer, device) else None
    cached = {"key": key, "weight": weight.to(dtype), "passes": passes, "dtype": dtype, "zero_point": zero_point,
              "scale": scale.view(shape), "bias": None if bias is None else bias.view(shape), "int8": int8}
    cached["depthwise"] = exact_depthwise.constants(layer, cached) if exact_depthwise.applies(layer, device, cached) else None
    layer._exact_cache = cached
    return cached


def _apply(module: nn.Module, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    if isinstance(module, nn.Conv2d):
        return F.conv2d(x, weight, None, module.stride, module.padding, module.dilation, module.groups)
    return F.linear(x, weight)


def quant_layer_forward(layer, x: torch.Tensor) -> torch.Tensor:
    """The exact output of a QuantLayer (see the module docstring); float32, like its input."""
    const = _constants(layer, x.device)
    if const["int8"] is not None:
        return exact_int8.forward(layer, x, const["int8"])
    if const["depthwise"] is not None:
        return exact_depthwise.forward(layer, x, const["depthwise"])
    ints = integer_input(x, layer.input_quant, const["zero_point"]).to(const["dtype"])
    if const["passes"] == 1:
        out = _apply(layer.layer, ints, const["weight"]).float()
    else:
        low = ints - DIGIT_BASE * torch.floor(ints / DIGIT_BASE)  # 0..15, exact
        high = ints.sub_(low).div_(DIGIT_BASE)  # exact: a multiple of 16 divided by 16
        out = _apply(layer.layer, high, const["weight"]).mul_(DIGIT_BASE).add_(_apply(layer.layer, low, const["weight"]))
    out = out.mul_(const["scale"])
    return out if const["bias"] is None else out.add_(const["bias"])
