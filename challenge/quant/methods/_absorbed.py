"""Activations absorbed into the quantizer after them, while a unit is reconstructed.

In MobileNetV2's and ShuffleNetV2's blocks a ReLU6 or ReLU feeds the next quantized layer and
nothing else (both are links of one Sequential chain). Run as a module, the activation reads and
writes its whole feature map forward and three times over backward; in MobileNetV2's 112x112
blocks those are the largest maps of the step, which is memory-bound. Absorbed, the activation
is a clamp at the start of the next layer's fused fake-quantization chain (_fused.py): the same
values, and the same gradients but at a few exact ties of the quantizer's lowest level
(tests/challenge/test_absorbed.py); one pass over the map fewer forward, three backward. Only
for the loop: `absorb` hands back how to put the modules back, which reconstruct does before
the next unit captures its inputs.

A convolution's bias (BatchNorm's, folded) is likewise added in the chain after it: PyTorch adds
a bias after a cuDNN convolution as a kernel of its own, one more pass over the output (in
MobileNetV2's features.2 on an H100, 160 us of a 1.73 ms step).
"""
from __future__ import annotations

import math
from typing import Callable

from torch import nn

from ._learned import LearnedQuantLayer

# What each activation clamps its input to.
CLAMPS: dict[type, tuple[float, float]] = {nn.ReLU: (0.0, math.inf), nn.ReLU6: (0.0, 6.0)}


def _is_plain_chain(module: nn.Module) -> bool:
    """A Sequential that runs its children one after another (not a subclass with a forward of its own)."""
    return isinstance(module, nn.Sequential) and type(module).forward is nn.Sequential.forward


def _links(chain: nn.Sequential) -> list[tuple[nn.Module, str, nn.Module]]:
    """The modules a value passes through in `chain`, in order, nested plain chains opened:
    (parent, name, module). Identities (folded BatchNorms) pass values on and are left out."""
    links = []
    for name, child in chain.named_children():
        if _is_plain_chain(child):
            links.extend(_links(child))
        elif not isinstance(child, nn.Identity):
            links.append((chain, name, child))
    return links


def _outermost_chains(module: nn.Module) -> list[nn.Sequential]:
    if _is_plain_chain(module):
        return [module]
    return [chain for child in module.children() for chain in _outermost_chains(child)]


def absorb(unit: nn.Module) -> Callable[[], None]:
    """Absorb every activation of `unit` that only feeds a learned quantized layer into that layer's
    input quantizer, and then the bias of every learned layer that only feeds such a layer (with
    an absorbed activation between them, or none); returns a function that puts them back."""
    absorbed, biases = [], []
    for chain in _outermost_chains(unit):
        links = _links(chain)
        for (parent, name, activation), (_, _, layer) in zip(links, links[1:]):
            clamp = CLAMPS.get(type(activation))
            if clamp and isinstance(layer, LearnedQuantLayer) and layer.absorb_clamp(*clamp):
                setattr(parent, name, nn.Identity())
                absorbed.append((parent, name, activation, layer))
        links = _links(chain)  # the absorbed activations are Identities now, passed over
        for (_, _, before), (_, _, layer) in zip(links, links[1:]):
            if not (isinstance(before, LearnedQuantLayer) and isinstance(layer, LearnedQuantLayer)):
                continue
            bias = before.qlayer.layer.bias
            if bias is not None and layer.absorb_bias(bias):
                before.bias_absorbed = True
                biases.append((before, layer))

    def restore() -> None:
        for parent, name, activation, layer in absorbed:
            setattr(parent, name, activation)
            layer.absorb_clamp(-math.inf, math.inf)
        for before, layer in biases:
            before.bias_absorbed = False
            layer.absorb_bias(None)

    return restore
