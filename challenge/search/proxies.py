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
- `adaround-kl`: the KL again, but each layer's weight at each width is first re-rounded by a
  short AdaRound of that layer alone (candidates.py; `--search-arg proxy_iterations=N`), so that
  the widths are chosen for what reconstruction (`--method brecq`, `adaround`) leaves, not for
  round to nearest. Costs layers x widths x N optimisation steps.

A proxy is registered with `reconstructs=True` when its candidate weights come from that
reconstruction; proxies measured together (one walk) must agree on it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..registry import Registry

PROXIES = Registry("sensitivity proxy")
DEFAULT_PROXY = "kl"


@dataclass(frozen=True)
class Proxy:
    distance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (reference, logits) -> per sample
    reconstructs: bool = False  # candidate weights after a short AdaRound of the layer, not rounded to nearest


def register_proxy(name: str, *, reconstructs: bool = False):
    def decorate(fn: Callable) -> Callable:
        PROXIES.add(name, Proxy(fn, reconstructs))
        return fn

    return decorate


def get_proxy(name: str) -> Proxy:
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


@register_proxy("adaround-kl", reconstructs=True)
def kl_after_adaround(reference: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """The KL of `kl`; the difference is in the weights it is measured on (candidates.py)."""
    return kl_divergence(reference, logits)
