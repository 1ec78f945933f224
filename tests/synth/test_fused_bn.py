"""Genie-D with each BatchNorm computing its own work (synth/_fused_bn.py, compiled="kernels"; on
the CPU the PyTorch twin of the Triton kernels): the same images as the hooked step up to float
rounding, the same values and gradients in either memory layout, the model put back as it was."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from challenge.errors import KitError
from synth import _fused_bn
from synth import genie as genie_module
from synth.genie import genie


def _teacher() -> nn.Module:
    """Strided and depthwise convolutions, BatchNorms followed by ReLU6, ReLU and nothing, learned statistics."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU6(),
                          nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Conv2d(8, 12, 1), nn.BatchNorm2d(12),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(12, 10)).eval()
    for bn in model:
        if isinstance(bn, nn.BatchNorm2d):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.data.uniform_(0.5, 1.5)
            bn.bias.data.uniform_(-0.2, 0.2)
    return model


def _images(compiled: str) -> torch.Tensor:
    return torch.cat(list(genie(_teacher(), num_classes=10, input_shape=(3, 16, 16), num_samples=5, batch_size=2,
                                iterations=4, latent_dim=8, compiled=compiled)))


def test_matched_batchnorms_give_the_hooked_step_s_images():
    hooked, matched = _images("step"), _images("kernels")
    assert hooked.shape == matched.shape == (5, 3, 16, 16)
    assert torch.allclose(hooked, matched, atol=1e-4), float((hooked - matched).abs().max())


def test_a_batchnorm_computes_itself_its_activation_and_its_distance():
    model = _teacher()
    x = torch.randn(4, 3, 16, 16)
    expected = model(x)
    bn, eps = model[1], 1e-6
    conv_out = model[0](x)
    var, mean = torch.var_mean(conv_out, dim=(0, 2, 3))
    distance = ((mean - bn.running_mean).pow(2).mean()
                + (torch.sqrt(var + eps) - torch.sqrt(bn.running_var + eps)).pow(2).mean())
    with _fused_bn.matched_batchnorms(model, eps) as distances:
        matched = model(x)
        assert len(distances) == 3
        assert torch.allclose(distances[0], distance, atol=1e-6)
        assert torch.equal(model[2](-x), torch.nn.functional.relu6(-x))  # on anything else it still computes
    assert torch.allclose(matched, expected, atol=1e-5)
    assert "forward" not in vars(model[1]) and "forward" not in vars(model[2])  # put back
    assert torch.equal(model(x), expected)


class _SharedReLU(nn.Module):
    """One ReLU after BatchNorms in two Sequentials, and called again outside them."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(2)
        self.relu = nn.ReLU()
        self.first = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), self.relu)
        self.second = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), self.relu)
        self.head = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        return self.relu(self.head(self.second(self.first(x))) - 0.5)


def test_a_shared_activation_still_computes_where_it_is_not_folded():
    model = _SharedReLU().eval()
    for bn in (model.first[1], model.second[1]):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 3, 8, 8)
    expected = model(x)
    with _fused_bn.matched_batchnorms(model, 1e-6) as distances:
        matched = model(x)
        assert len(distances) == 2
    assert torch.allclose(matched, expected, atol=1e-5) and (matched == 0).any()  # the last ReLU clipped
    assert "forward" not in vars(model.relu) and torch.equal(model(x), expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_channels_last_maps_give_the_same_values_and_gradients(dtype):
    torch.manual_seed(1)
    base = torch.randn(3, 5, 6, 7).to(dtype)
    scale, shift = torch.rand(5) + 0.5, torch.randn(5)
    target_mean, target_std = torch.randn(5), torch.rand(5) + 0.5
    results = []
    for layout in (torch.contiguous_format, torch.channels_last):
        x = base.contiguous(memory_format=layout).requires_grad_(True)
        y, distance = _fused_bn.normalise_and_match(x, scale, shift, target_mean, target_std, 1e-6, 0.0, 6.0)
        assert y.is_contiguous(memory_format=layout) and y.dtype == dtype
        (grad,) = torch.autograd.grad((y.float() * torch.arange(y.numel()).view(y.shape).sin()).sum() + distance, x)
        results.append((y.float(), distance, grad.float()))
    (y0, d0, g0), (y1, d1, g1) = results
    tolerance = 1e-5 if dtype == torch.float32 else 2e-2
    assert torch.allclose(y0, y1, atol=tolerance) and torch.allclose(d0, d1, atol=1e-5)
    assert torch.allclose(g0, g1, atol=tolerance)


def test_an_unknown_compiled_value_is_refused():
    with pytest.raises(KitError, match="compiled must be one of kernels, step"):
        next(genie(_teacher(), num_classes=10, input_shape=(3, 16, 16), num_samples=2, compiled="whole"))


def test_no_step_keeps_feature_maps_alive():
    """Every list a step fills is empty after it: a list that grows by every BatchNorm's input at
    every step ran an 80 GB GPU out of memory within a batch (MobileNetV2, batch 256)."""
    with genie_module.Distiller(_teacher(), 1, "fp32", compiled="kernels") as distiller:
        distiller.batch(2, batch_size=2, input_shape=(3, 16, 16), seed=0, iterations=3, lr_latent=0.1,
                        lr_generator=0.01, decay=0.95, patience=100, min_lr=1e-4, latent_dim=8, eps=1e-6)
        assert distiller.records == [] and distiller.distances == []
