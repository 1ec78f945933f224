"""Activation observers: `forward` records statistics and returns its input unchanged;
`calculate_qparams(qmin, qmax)` turns them into an asymmetric per-tensor scale and zero point.

Variants are values: `OBSERVERS["percentile"]` is a factory, `functools.partial` sets its
arguments (see schemes.py). Percentile and MSE work on a bounded random sample of the values
seen, drawn on the values' device, so their memory stays fixed however much data calibrates.
"""
from __future__ import annotations

from functools import partial

import torch
from torch import nn


def affine_qparams(low: torch.Tensor, high: torch.Tensor, qmin: int, qmax: int):
    """Scale and zero point mapping [low, high] (widened to hold 0) onto [qmin, qmax]."""
    low = torch.clamp(low.float(), max=0.0)
    high = torch.clamp(high.float(), min=0.0)
    scale = torch.clamp((high - low) / (qmax - qmin), min=1e-8)
    zero_point = torch.clamp(qmin - torch.round(low / scale), qmin, qmax).to(torch.int32)
    return scale.reshape(1), zero_point.reshape(1)


class MinMaxObserver(nn.Module):
    """Running minimum and maximum over every batch."""

    def __init__(self):
        super().__init__()
        self.register_buffer("low", torch.tensor(float("inf")))
        self.register_buffer("high", torch.tensor(float("-inf")))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low, high = torch.aminmax(x.detach())
        self.low = torch.minimum(self.low.to(x.device), low.float())
        self.high = torch.maximum(self.high.to(x.device), high.float())
        return x

    @property
    def seen(self) -> bool:
        return bool(torch.isfinite(self.low))

    def calculate_qparams(self, qmin: int, qmax: int):
        return affine_qparams(self.low, self.high, qmin, qmax)


class _SampleObserver(MinMaxObserver):
    """Keeps exact min/max plus `samples_per_batch` values drawn uniformly from every batch
    (at most about `max_samples` in all)."""

    def __init__(self, samples_per_batch: int = 1 << 15, max_samples: int = 1 << 20):
        super().__init__()
        self.samples_per_batch = samples_per_batch
        self.max_samples = max_samples
        self.samples: list[torch.Tensor] = []
        self._rng: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        super().forward(x)
        flat = x.detach().reshape(-1)
        if flat.numel() > self.samples_per_batch:
            flat = flat[self._picks(flat.numel(), self.samples_per_batch, flat.device)]
        self.samples.append(flat.float())
        kept = sum(s.numel() for s in self.samples)
        if kept > 2 * self.max_samples:  # thin out evenly to stay within memory
            merged = torch.cat(self.samples)
            self.samples = [merged[self._picks(merged.numel(), self.max_samples, merged.device)]]
        return x

    def _picks(self, population: int, count: int, device) -> torch.Tensor:
        # Drawn on the CPU, so that a CPU and a GPU run calibrate on the same values.
        if self._rng is None:
            self._rng = torch.Generator().manual_seed(0)
        return torch.randint(population, (count,), generator=self._rng).to(device)

    def _sample(self) -> torch.Tensor:
        return torch.cat(self.samples)


class PercentileObserver(_SampleObserver):
    """Clips to the `percentile` / `100 - percentile` quantiles of the values seen."""

    def __init__(self, percentile: float = 99.99, **kwargs):
        super().__init__(**kwargs)
        self.percentile = percentile

    def calculate_qparams(self, qmin: int, qmax: int):
        sample = self._sample()
        if sample.numel() > 1 << 24:  # torch.quantile's input limit
            sample = sample[:: sample.numel() // (1 << 24) + 1]
        q = torch.tensor([1 - self.percentile / 100, self.percentile / 100], device=sample.device)
        low, high = torch.quantile(sample, q)
        return affine_qparams(torch.maximum(low, self.low), torch.minimum(high, self.high), qmin, qmax)


class MSEObserver(_SampleObserver):
    """Picks the clipping range that minimizes the quantization MSE on the values seen.

    Candidates shrink [min, max] towards zero by `steps` factors down to `min_ratio`. The error
    of each is measured on a `bins`-bin histogram of the sample (value = bin centre, weight =
    count), with the same rounding the model uses: thousands of times cheaper than
    fake-quantizing the whole sample per candidate, and as accurate at this bin width.
    """

    def __init__(self, steps: int = 100, min_ratio: float = 0.2, bins: int = 2048, **kwargs):
        super().__init__(**kwargs)
        self.steps = steps
        self.min_ratio = min_ratio
        self.bins = bins

    def calculate_qparams(self, qmin: int, qmax: int):
        low, high = float(self.low), float(self.high)
        if high <= low:
            return affine_qparams(self.low, self.high, qmin, qmax)
        sample = self._sample()
        counts = torch.histc(sample, bins=self.bins, min=low, max=high)
        width = (high - low) / self.bins
        centres = low + width * (torch.arange(self.bins, device=sample.device) + 0.5)
        ratios = torch.linspace(1.0, self.min_ratio, self.steps, device=sample.device)
        errors = []
        for ratio in ratios:
            scale, zero_point = affine_qparams(self.low * ratio, self.high * ratio, qmin, qmax)
            fake = torch.fake_quantize_per_tensor_affine(centres, scale, zero_point, qmin, qmax)
            errors.append((counts * (fake - centres) ** 2).sum())
        best = ratios[torch.argmin(torch.stack(errors))]
        return affine_qparams(self.low * best, self.high * best, qmin, qmax)


OBSERVERS = {
    "minmax": MinMaxObserver,
    "percentile": PercentileObserver,
    "mse": MSEObserver,
}


def observer_factory(name: str, **kwargs):
    from ..errors import KitError

    if name not in OBSERVERS:
        raise KitError(f"unknown observer {name!r}; choose one of {', '.join(OBSERVERS)}")
    return partial(OBSERVERS[name], **kwargs)
