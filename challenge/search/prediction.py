"""What the search predicts for the widths it chose, before any real image: the chosen widths all
at once on the synthetic samples.

The choice adds up per-layer sensitivities as if layers did not interact. Here every weight takes
its chosen width together (layers the scheme or `fix` sets apart at theirs, rounded to nearest;
activations stay in FP32, as in the sensitivities), and on the same samples we measure the mean KL from the FP32
output and how often the top-1 class is FP32's. That agreement is the figure to set beside the
measured top-1 on real images (top-1 / FP32 top-1): a search whose prediction tracks the
measurement can be trusted at targets nobody measured. It means something only on images the
model classifies with confidence (Genie-D, ZeroQ): on Gaussian noise the top two logits of the
ResNet18 stand-in lie 0.08-0.3 apart, so a KL of 1e-4 can already flip a sample.
"""
from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass

import torch
from torch import nn

from .candidates import CandidateWeights
from .proxies import kl_divergence


@dataclass(frozen=True)
class Prediction:
    samples: int
    joint_kl: float  # mean KL(FP32 || every chosen width at once) per sample
    agreement: float  # % of samples whose top-1 class is FP32's

    def to_json(self) -> dict:
        return asdict(self)


@torch.no_grad()
def predict(model: nn.Module, candidates: CandidateWeights, bits: dict[str, int],
            batches: list[torch.Tensor]) -> Prediction:
    """`model`: the folded FP32 model `candidates` were made on; `bits`: every layer's width."""
    kl, agree, samples = 0.0, 0, 0
    references = [model(batch) for batch in batches]
    with contextlib.ExitStack() as stack:
        for name, width in bits.items():
            layer = model.get_submodule(name)
            original = layer.weight.data
            layer.weight.data = candidates.weight(name, width)
            stack.callback(lambda layer=layer, original=original: setattr(layer.weight, "data", original))
        for batch, reference in zip(batches, references):
            logits = model(batch)
            kl += float(kl_divergence(reference, logits).sum())
            agree += int((logits.argmax(1) == reference.argmax(1)).sum())
            samples += len(batch)
    return Prediction(samples, kl / samples, 100.0 * agree / samples)
