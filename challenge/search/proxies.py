"""How far a perturbed model's output is from the FP32 output, per sample: the sensitivity.

A proxy is a function `(reference_logits, logits) -> per-sample distances` (float64), registered
with `@register_proxy("name")`. The search sums a layer's distances over the synthetic samples
for every candidate bit width, with only that layer quantized, and then treats the total over
layers as additive (the same approximation as ZeroQ's Pareto frontier and HAWQ's block-diagonal
Hessian: cross-layer interactions are ignored).

- `kl` (the default, ZeroQ, Cai et al. 2020): KL(softmax(FP32) || softmax(quantized)). It is
  the quantity a classifier's top-1 depends on: only the change of the predicted distribution
  counts, not logit shifts that leave it as it was. It is also, to second order, HAWQ's
  quantity: for a small perturbation the KL is 1/2 dW^T F dW with F the Fisher information,
  which equals the Hessian of the loss at a well-trained optimum, and the measured KL keeps the
  higher-order terms that matter at 2-3 bits, where a second-order estimate (Hessian trace
  times ||Q(W) - W||^2) is least trustworthy. So we measure it directly instead of estimating
  it from Hessian traces.
- `mse`: the squared error of the logits, an output-error measure that also counts changes
  that do not move the prediction; kept for comparison (`python -m benchmarks.search --proxies kl,mse`).
"""
from __future__ import annotations

from typing import Callable

import torch

from ..registry import Registry

PROXIES = Registry("sensitivity proxy")
DEFAULT_PROXY = "kl"


def register_proxy(name: str):
    def decorate(fn: Callable) -> Callable:
        return PROXIES.add(name, fn)

    return decorate


def get_proxy(name: str) -> Callable:
    return PROXIES.get(name)


def list_proxies() -> list[str]:
    return PROXIES.names()


@register_proxy("kl")
def kl_divergence(reference: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    p_log = torch.log_softmax(reference.double(), dim=1)
    q_log = torch.log_softmax(logits.double(), dim=1)
    return (p_log.exp() * (p_log - q_log)).sum(dim=1)


@register_proxy("mse")
def logit_mse(reference: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    return (logits.double() - reference.double()).pow(2).mean(dim=1)
