"""The weight a layer would have at each candidate width, as the sensitivity measures it.

- Round to nearest (proxies `kl`, `mse`): the scheme's scale (its observer: min-max, or the MSE
  clipping search), each weight rounded to the nearest step: what calibration and freeze() give.
- After a short reconstruction (proxies registered with `reconstructs=True`, `adaround-kl`): the
  same scale, then AdaRound (Nagel et al. 2020) of that one layer on the calibration samples,
  against its own FP32 output, every other layer in FP32, for `iterations` steps (the method's
  engine, challenge/quant/methods/, with its defaults but a higher learning rate: below). Why: the search feeds a reconstruction
  (`--method brecq`) that recovers much of what rounding to nearest loses at 2-4 bits, and not
  the same share in every layer (a 3x3 depthwise filter has 9 weights a channel to work with, a
  1x1 convolution hundreds), so sensitivities after round to nearest rank the layers for rtn, not
  for what the chosen widths will become.

    candidates = CandidateWeights(folded, specs)        # before any weight is swapped
    candidates.reconstruct(pairs, batches, iterations)  # only for a reconstructing proxy
    candidates.weight(name, bits)                       # a tensor to put in place of the weight
"""
from __future__ import annotations

import copy
import dataclasses
import sys

import torch
from torch import nn

from ..quant.layer_config import LayerSpec
from ..quant.methods._capture import for_each_call
from ..quant.methods._learned import LearnedQuantLayer
from ..quant.methods._reconstruct import Cache, Settings
from ..quant.methods._trainer import UnitTrainer
from ..quant.modules import QuantLayer
from ..quant.weights import dequantize, quantize_with_scale, weight_scale

DEFAULT_ITERATIONS = 200  # AdaRound's paper: 10,000 per layer; here per layer *and* width
# Ten times AdaRound's rate (1e-3), so that a few hundred steps move the rounding as thousands
# would: ResNet18 stand-in, layer1.0.conv2, 8 samples, 200 steps, output MSE against round to
# nearest: 2 bits -34% at 1e-3, -68% at 1e-2; 3 bits -40% and -75% (CPU, on the samples it learned on).
LEARNING_RATE = 1e-2


class CandidateWeights:
    def __init__(self, model: nn.Module, specs: dict[str, LayerSpec]):
        self.model, self.specs = model, specs
        self.originals = {name: model.get_submodule(name).weight.data for name, spec in specs.items()
                          if spec.weight_bits is not None}
        self._scales: dict[tuple[str, int], torch.Tensor] = {}  # the MSE clipping search runs once per width
        self._reconstructed: dict[tuple[str, int], torch.Tensor] = {}  # integers found by AdaRound

    def scale(self, name: str, bits: int) -> torch.Tensor:
        if (name, bits) not in self._scales:  # from the weight as the kit's freeze() sees it
            spec = self.specs[name]
            self._scales[name, bits] = weight_scale(self.originals[name].contiguous(), bits, spec.per_channel,
                                                    spec.weight_observer)
        return self._scales[name, bits]

    def integers(self, name: str, bits: int) -> torch.Tensor:
        if (name, bits) in self._reconstructed:
            return self._reconstructed[name, bits]
        return quantize_with_scale(self.originals[name], self.scale(name, bits), bits)

    def weight(self, name: str, bits: int) -> torch.Tensor:
        """The dequantized weight, in the original's layout (channels-last where it is)."""
        original = self.originals[name]
        return torch.empty_like(original).copy_(dequantize(self.integers(name, bits), self.scale(name, bits)))

    def reconstruct(self, pairs: list[tuple[str, int]], batches: list[torch.Tensor], iterations: int,
                    seed: int = 0) -> None:
        """AdaRound each (layer, width) of `pairs` on its FP32 input over `batches`; the inputs of
        a layer are captured once for all its widths (a forward that stops after the layer)."""
        from progress.bar import Bar

        device = batches[0].device
        pairs = [pair for pair in pairs if pair not in self._reconstructed]
        if not pairs:
            return
        layers = list(dict.fromkeys(name for name, _ in pairs))
        bar = Bar("reconstructing", max=len(pairs), file=sys.stderr, suffix="%(index)d/%(max)d %(eta)ds")
        for name in layers:
            layer = self.model.get_submodule(name)
            seen = {"inputs": [], "outputs": []}
            for_each_call(self.model, layer, batches, lambda x, y: (seen["inputs"].append(x.detach()),
                                                                    seen["outputs"].append(y.detach())))
            inputs, outputs = Cache(seen.pop("inputs"), device), Cache(seen.pop("outputs"), device)
            for bits in [b for n, b in pairs if n == name]:
                self._reconstructed[name, bits] = _adaround_layer(layer, self.specs[name], bits, self.scale(name, bits),
                                                                  inputs, outputs, iterations, seed, device)
                bar.next()
            del inputs, outputs
        bar.finish()


def _adaround_layer(layer: nn.Module, spec: LayerSpec, bits: int, scale: torch.Tensor, inputs: Cache,
                    outputs: Cache, iterations: int, seed: int, device: torch.device) -> torch.Tensor:
    """The integers AdaRound chooses for `layer` alone at `bits` (input unquantized, as in the
    sensitivity: only the weights of this one layer differ from FP32)."""
    alone = copy.deepcopy(layer).requires_grad_(False)
    qlayer = QuantLayer(alone, dataclasses.replace(spec, weight_bits=bits, act_bits=None))
    qlayer.set_integer_weight(quantize_with_scale(layer.weight.data, scale, bits), scale)
    learned = LearnedQuantLayer(qlayer, layer.weight.data, learn_rounding=True, learn_weight_scale=False,
                                learn_act_scale=False)
    settings = Settings("layer", iterations, batch_size=min(32, len(inputs)), lr_rounding=LEARNING_RATE, seed=seed,
                        label="adaround-kl")
    trainer = UnitTrainer(learned, [learned], None, inputs, outputs, settings, device)
    with torch.enable_grad():
        trainer.run(None)
    return learned.write_back().weight_int.to(layer.weight.device)
