"""Genie-D's compiled step (synth/genie.py, compiled on a GPU): the swing as a one-hot stencil
gives exactly the eager crop, and the traced step gives the eager step's images with one graph
for every batch, a short last one included (a new graph would compile for minutes on a GPU)."""
from __future__ import annotations

import torch
from torch import nn

from synth import genie
from tests.conftest import counting_backend


def _small_teacher() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10)).eval()


def test_stencil_shift_is_the_crop_with_its_gradient():
    swing = genie.Swing(_small_teacher(), torch.Generator().manual_seed(1), jitter=1, device=torch.device("cpu"))
    x = torch.randn(2, 3, 9, 7, requires_grad=True)
    for _ in range(6):
        swing.stencil = False
        swing.draw()
        crop = swing.shifted(0, x)
        (crop_grad,) = torch.autograd.grad((crop * crop.detach()).sum(), x)
        swing.stencil = True
        swing.one_hot.zero_()
        for index, (dy, dx) in enumerate(swing.offsets):
            swing.one_hot[index, dy, dx] = 1
        stencil = swing.shifted(0, x)
        (stencil_grad,) = torch.autograd.grad((stencil * stencil.detach()).sum(), x)
        assert torch.equal(crop, stencil) and torch.equal(crop_grad, stencil_grad)


def _images(monkeypatch, backend):
    counting, graphs = counting_backend()

    if backend is not None:
        original = genie.Distiller.__init__
        monkeypatch.setattr(genie.Distiller, "__init__",
                            lambda self, model, jitter, precision, **settings:
                            original(self, model, jitter, precision, counting, **settings))
    model = _small_teacher()
    images = list(genie.genie(model, num_classes=10, input_shape=(3, 16, 16), num_samples=5, batch_size=2,
                              iterations=3, latent_dim=8))
    return images, graphs


def test_traced_step_matches_the_eager_step_with_one_graph(monkeypatch):
    eager, _ = _images(monkeypatch, None)
    traced, graphs = _images(monkeypatch, "counting")
    assert len(graphs) == 1, f"{len(graphs)} graphs for batches of 2, 2 and 1 (made as 2)"
    assert all(torch.equal(a, b) for a, b in zip(eager, traced))
