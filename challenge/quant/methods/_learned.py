"""A QuantLayer made learnable for reconstruction; put back as plain integers and scales after.

Weights (AdaRound, Nagel et al. 2020): w = s * clamp(floor(w_fp / s0) + h(V), -q, q), with
h(V) = clamp(sigmoid(V) * (zeta - gamma) + gamma, 0, 1), zeta = 1.1, gamma = -0.1 (the rectified
sigmoid), V initialised so that h(V) is the fractional part: the soft weight starts as the FP32
weight, clipped to the grid. After optimisation each weight is floor + [V >= 0], an integer on the
layer's symmetric grid. The floor stays that of the starting scale s0 while s itself may be learned
(`learn_weight_scale`, as Genie-M does: rounding and step size jointly).

Step sizes are learned in log space, s = s0 * exp(t), t starting at 0: a learning rate is then a
relative change per step, the same at 8 bits as at 4, and s stays positive. (Genie and QDrop learn s
itself at absolute rates, 1e-4 and 4e-5, set for their 4-bit scales; at 8 bits, where scales are 16x
smaller, those rates moved MobileNetV2's scales so far that `int8` fell from 81% to 33%.)

Activations (LSQ, Esser et al. 2020, as BRECQ and QDrop use it): the input quantizer's scale is a
parameter, the rounding passes gradients straight through; the zero point stays the calibrated one
(our activations are asymmetric). QDrop (Wei et al. 2022): while `dropping`, each element keeps
its unquantized value with probability `drop_prob`.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ...size import weight_grid
from ..modules import QuantLayer

from ._fused import GAMMA, ZETA, act_fake_quant, rectified_sigmoid, soft_weight, soft_weight_and_penalty


def inverse_rectified_sigmoid(h: torch.Tensor) -> torch.Tensor:
    return -torch.log((ZETA - GAMMA) / (h - GAMMA) - 1)


class LearnedQuantLayer(nn.Module):
    def __init__(self, qlayer: QuantLayer, fp_weight: torch.Tensor, *, learn_rounding: bool,
                 learn_weight_scale: bool, learn_act_scale: bool, drop_prob: float = 0.0):
        super().__init__()
        self.qlayer = qlayer
        self.drop_prob = drop_prob
        self.dropping = False
        self.soft = learn_rounding  # soft rounding while learning; hard (final) otherwise
        # While learning the rounding, the trainer sets `beta` before each forward, and the
        # forward leaves AdaRound's regulariser in `penalty`: computed with the soft weight, in
        # one fused chain (_fused.py).
        self.beta: torch.Tensor | None = None
        self.penalty: torch.Tensor | None = None
        self.quantizes_weight = qlayer.weight_int is not None
        fp_weight = fp_weight.detach().float()
        self.weight_shape = tuple(fp_weight.shape)
        if self.quantizes_weight:
            self.low, self.high = weight_grid(qlayer.spec.weight_bits)
            scale = qlayer.weight_scale.detach().clone().float()
            # The grid's bounds as tensors: a compiled step then serves every width (_fused.py).
            self.register_buffer("bounds", torch.tensor([self.low, self.high], dtype=torch.float32,
                                                        device=scale.device))
            self.register_buffer("weight_scale0", scale)
            self.weight_log_scale = nn.Parameter(torch.zeros_like(scale), requires_grad=learn_weight_scale)
            # Kept as (output channels, rest): the compiled chains then see the parameter itself
            # in one layout for every layer, not a view of it (a view is guarded on its base's shape).
            flat = fp_weight.reshape(len(fp_weight), -1) / scale.view(-1, 1)
            self.register_buffer("floor", torch.floor(flat))
            if learn_rounding:
                self.v = nn.Parameter(inverse_rectified_sigmoid((flat - self.floor).clamp(0, 1)))
            else:  # keep the integers the layer already has (round to nearest)
                self.register_buffer("fixed_int", qlayer.weight_int.to(fp_weight.device).float().reshape(self.floor.shape))
        else:
            self.register_buffer("fp_weight", fp_weight)
        act = qlayer.input_quant
        if act is not None:
            self.register_buffer("act_scale0", act.scale.detach().clone().float())
            self.act_log_scale = nn.Parameter(torch.zeros_like(self.act_scale0),
                                              requires_grad=learn_act_scale and act.fixed_range is None)
            self.qmin, self.qmax = act.qmin, act.qmax
            self.register_buffer("act_bounds", torch.tensor([self.qmin, self.qmax], dtype=torch.float32,
                                                            device=act.scale.device))
            self.register_buffer("zero_point", act.zero_point.detach().clone().float())
            # An activation absorbed into this quantizer (_absorbed.py) clamps its input to these,
            # after adding the absorbed bias of the layer before (zeros where none is).
            self.register_buffer("input_clamp", torch.tensor([-math.inf, math.inf], device=act.scale.device))
            layer = qlayer.layer
            channels = layer.in_channels if isinstance(layer, nn.Conv2d) else layer.in_features
            self.register_buffer("input_bias", torch.zeros(channels, device=act.scale.device))
        # This layer's bias is added by the quantizer after it (absorbed there), not here.
        self.bias_absorbed = False

    # ---------------------------------------------------------------- learning
    def absorb_clamp(self, low: float, high: float) -> bool:
        """Clamp the input to [low, high] before quantizing it (an absorbed activation); False
        where this layer has no input quantizer to absorb into."""
        if not hasattr(self, "input_clamp"):
            return False
        self.input_clamp.copy_(torch.tensor([low, high]))
        return True

    def absorb_bias(self, bias: torch.Tensor | None) -> bool:
        """Add `bias` (the layer before's, whose output only this layer reads; None: put back
        zeros) to the input before clamping and quantizing it; False where this layer has no
        input quantizer to absorb into."""
        if not hasattr(self, "input_bias"):
            return False
        self.input_bias.copy_(bias if bias is not None else torch.zeros_like(self.input_bias))
        return True

    def weight_integers(self) -> torch.Tensor:
        """The integers, (output channels, rest)."""
        if not hasattr(self, "v"):
            return self.fixed_int
        up = rectified_sigmoid(self.v) if self.soft else (self.v >= 0).float()
        return torch.clamp(self.floor + up, self.low, self.high)

    def weight_scale(self) -> torch.Tensor:
        return self.weight_scale0 * torch.exp(self.weight_log_scale)

    def act_scale(self) -> torch.Tensor:
        return self.act_scale0 * torch.exp(self.act_log_scale)

    def weight(self) -> torch.Tensor:
        if not self.quantizes_weight:
            return self.fp_weight
        if self.soft and hasattr(self, "v"):  # one fused chain on a GPU (_fused.py)
            args = (self.v, self.floor, self.weight_scale0, self.weight_log_scale, *self.bounds)
            if self.beta is None:
                flat = soft_weight(*args)
            else:
                flat, self.penalty = soft_weight_and_penalty(*args, self.beta)
        else:
            flat = self.weight_integers() * self.weight_scale().view(-1, 1)
        return flat.view(self.weight_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "act_scale0"):
            x = act_fake_quant(x, self.act_scale0, self.act_log_scale, self.zero_point, *self.act_bounds,
                               self.drop_prob if self.dropping else 0.0, *self.input_clamp, self.input_bias)
        layer = self.qlayer.layer
        bias = None if self.bias_absorbed else layer.bias
        if isinstance(layer, nn.Conv2d):
            return layer._conv_forward(x, self.weight(), bias)
        return F.linear(x, self.weight(), bias)

    # ---------------------------------------------------------------- back to integers
    @torch.no_grad()
    def write_back(self) -> QuantLayer:
        """Hard-round into the QuantLayer (integers on its grid, positive scales) and return it."""
        layer = self.qlayer
        if self.quantizes_weight:
            self.soft = False
            scale = self.weight_scale().detach().clamp(min=1e-12)
            layer.set_integer_weight(self.weight_integers().round().to(torch.int8).view(self.weight_shape), scale)
        if hasattr(self, "act_scale0"):
            layer.input_quant.scale.copy_(self.act_scale().detach().clamp(min=1e-8))
        return layer
