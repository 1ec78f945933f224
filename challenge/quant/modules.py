"""The quantized layer: a conv or linear layer whose input is fake-quantized per tensor
(asymmetric) and whose weight is replaced by its dequantized integers once frozen.

An ActQuantizer has an explicit mode: `observe` (records statistics, passes values through)
or `quantize` (fake-quantizes with frozen parameters). `set_mode` switches a whole model.
"""
from __future__ import annotations

import torch
from torch import nn

from . import exact
from .layer_config import LayerSpec
from .observers import affine_qparams, observer_factory
from .weights import dequantize, quantize_with_scale, weight_scale

QUANTIZABLE = (nn.Conv2d, nn.Linear)


def activation_range(bits: int, reduce_range: bool) -> tuple[int, int]:
    return 0, (2 ** (bits - 1) - 1) if reduce_range else (2 ** bits - 1)


class ActQuantizer(nn.Module):
    def __init__(self, bits: int, reduce_range: bool = False, observer: str = "mse", **observer_args):
        super().__init__()
        self.bits = bits
        self.qmin, self.qmax = activation_range(bits, reduce_range)
        self.observer = observer_factory(observer, **observer_args)()
        self.mode = "observe"
        # (low, high): the range is known in advance and neither calibrated nor learned (the image).
        self.fixed_range: tuple[float, float] | None = None
        self.register_buffer("scale", torch.ones(1))
        self.register_buffer("zero_point", torch.zeros(1, dtype=torch.int32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "quantize":
            return torch.fake_quantize_per_tensor_affine(x, self.scale, self.zero_point, self.qmin, self.qmax)
        return self.observer(x)

    @torch.no_grad()
    def freeze(self) -> None:
        if not self.observer.seen:
            raise RuntimeError("an activation quantizer saw no data during calibration")
        if self.fixed_range is not None:
            low, high = (torch.tensor(v, device=self.scale.device) for v in self.fixed_range)
            scale, zero_point = affine_qparams(low, high, self.qmin, self.qmax)
        else:
            scale, zero_point = self.observer.calculate_qparams(self.qmin, self.qmax)
        self.scale.copy_(scale)
        self.zero_point.copy_(zero_point)
        self.observer = None  # statistics are no longer needed; frees the samples
        self.mode = "quantize"


class QuantLayer(nn.Module):
    """Wraps a (BatchNorm-folded) conv or linear layer; its name stays the wrapped layer's."""

    def __init__(self, layer: nn.Module, spec: LayerSpec):
        super().__init__()
        self.layer = layer
        self.spec = spec
        self.input_quant = ActQuantizer(spec.act_bits, spec.reduce_range, spec.act_observer) if spec.act_bits else None
        # Filled by freeze(): the integers and scales the artifact stores.
        self.weight_int: torch.Tensor | None = None
        self.weight_scale: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The reference runtime (evaluation, the scorer) computes on the integers themselves,
        # so that every device gives the same output; calibration and anything that needs
        # gradients keep the float fake-quantized path below.
        if exact.active() and exact.supports(self):
            return exact.quant_layer_forward(self, x)
        if self.input_quant is not None:
            x = self.input_quant(x)
        return self.layer(x)

    @torch.no_grad()
    def set_integer_weight(self, weight_int: torch.Tensor, scale: torch.Tensor) -> None:
        """Use these integers as the weight: the saved and the reloaded model compute alike."""
        self.weight_int = weight_int
        self.weight_scale = scale.float()
        self.layer.weight.copy_(dequantize(weight_int, self.weight_scale).to(self.layer.weight.device))

    @torch.no_grad()
    def freeze(self) -> None:
        if self.input_quant is not None:
            self.input_quant.freeze()
        bits = self.spec.weight_bits
        if bits is not None:
            w = self.layer.weight
            scale = weight_scale(w, bits, self.spec.per_channel, self.spec.weight_observer)
            self.set_integer_weight(quantize_with_scale(w, scale, bits), scale)


def quant_layers(model: nn.Module) -> dict[str, QuantLayer]:
    return {name: m for name, m in model.named_modules() if isinstance(m, QuantLayer)}


def set_mode(model: nn.Module, mode: str) -> None:
    for module in model.modules():
        if isinstance(module, ActQuantizer):
            module.mode = mode
