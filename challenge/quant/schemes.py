"""Named quantization schemes: a scheme is a value (a frozen dataclass) in a registry.

Every scheme quantizes the input of every conv and linear layer (the model input included)
asymmetrically per tensor, and their weights symmetrically; biases stay float. Per-layer
overrides (layer_config.py) change the bits of chosen layers.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..registry import Registry


@dataclass(frozen=True)
class Scheme:
    name: str
    weight_bits: int | None  # None: no quantization at all (the FP32 reference)
    act_bits: int | None
    per_channel: bool = True
    weight_observer: str = "minmax"  # minmax | mse (weights.py)
    act_observer: str = "mse"  # minmax | percentile | mse (observers.py)
    reduce_range: bool = False  # activations on half the unsigned range, as fbgemm's reduce_range
    # Below 8 bits, the two ends of the network keep `edge_bits` (None: the scheme's bits everywhere):
    # the first layer's weights and its input (the image, on exactly the range a normalized photo
    # can hold: quantize.prepare), the input of the layers that read the
    # first layer's output, and the last layer's input. They cost almost nothing in size, and
    # BRECQ and Genie keep them at 8 bits (QDrop all but the second); the last layer's
    # *weights* follow the scheme (on MobileNetV2 they are a third of the model, so 8 bits there
    # would cost 4.5 points of compression, which a compression-first challenge cannot give away).
    edge_bits: int | None = None
    description: str = ""

    @property
    def quantizes(self) -> bool:
        return self.weight_bits is not None or self.act_bits is not None


SCHEMES = Registry("scheme", sort=False)  # listed in the order below, the README's


def register_scheme(scheme: Scheme) -> Scheme:
    return SCHEMES.add(scheme.name, scheme)


def get_scheme(name: str) -> Scheme:
    return SCHEMES.get(name)


def list_schemes() -> list[str]:
    return SCHEMES.names()


register_scheme(Scheme("int8", 8, 8, description="per-channel 8-bit weights, 8-bit activations (default)"))
register_scheme(Scheme("challenge2021", 8, 8, per_channel=False, act_observer="minmax", reduce_range=True,
                       description="the 2021 baseline: per-tensor 8-bit weights, min-max, activations in 0..127"))
register_scheme(Scheme("w6a6", 6, 6, weight_observer="mse", edge_bits=8,
                       description="per-channel 6-bit weights, 6-bit activations (network edges 8-bit)"))
register_scheme(Scheme("w4a8", 4, 8, weight_observer="mse", edge_bits=8,
                       description="per-channel 4-bit weights, 8-bit activations (first layer 8-bit)"))
register_scheme(Scheme("w4a4", 4, 4, weight_observer="mse", edge_bits=8,
                       description="per-channel 4-bit weights, 4-bit activations (network edges 8-bit)"))
register_scheme(Scheme("fp32", None, None, description="no quantization: the FP32 reference"))
