"""Genie-D's compiled and graphed steps (synth/genie.py): the swing's shifts read from the device
(a one-hot stencil, a one-hot depthwise convolution) give exactly the eager crop, and the traced step gives the eager step's images with one graph
for every batch, a short last one included (a new graph would compile for minutes on a GPU)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from synth import genie
from tests.conftest import counting_backend


def _small_teacher() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10)).eval()


def _shifts(mode: str, x: torch.Tensor, steps: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each step's shifted x and its gradient, the shifts planned from one seed."""
    swing = genie.Swing(_small_teacher(), torch.Generator().manual_seed(1), jitter=1, device=torch.device("cpu"),
                        mode=mode)
    swing.plan(steps)
    counter = torch.zeros(1, dtype=torch.long)
    results = []
    for _ in range(steps):
        swing.take(counter)
        shifted = swing.shifted(0, x)
        (grad,) = torch.autograd.grad((shifted * shifted.detach()).sum(), x)
        results.append((shifted, grad))
        counter.add_(1)
    return results


@pytest.mark.parametrize("mode", ["stencil", "graph"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_device_shifts_are_the_host_crop_with_its_gradient(mode, dtype):
    """The one-hot stencil (compiled steps) and the one-hot depthwise convolution (graphed steps)
    read the planned shift from a device counter and give the host crop's values and gradients
    exactly, step after step."""
    x = torch.randn(2, 3, 9, 7).to(dtype).requires_grad_(True)
    host, device = _shifts("host", x, 8), _shifts(mode, x, 8)
    for (crop, crop_grad), (shifted, grad) in zip(host, device):
        assert shifted.dtype == dtype and torch.equal(crop, shifted) and torch.equal(crop_grad, grad)
    assert len({tuple(crop.flatten()[:5].tolist()) for crop, _ in host}) > 1  # the shifts change


def test_planned_shifts_are_the_per_step_draws():
    """All steps' shifts drawn up front are those drawn step by step before (same generator order)."""
    swing = genie.Swing(_small_teacher(), torch.Generator().manual_seed(3), jitter=1, device=torch.device("cpu"))
    swing.plan(5)
    rng = torch.Generator().manual_seed(3)
    drawn = [[tuple(torch.randint(0, 3, (2,), generator=rng).tolist()) for _ in swing.convs] for _ in range(5)]
    assert swing.planned == drawn and len(swing.convs) == 2


def _images(monkeypatch, backend):
    counting, graphs = counting_backend()

    if backend is not None:
        original = genie.Distiller.__init__
        monkeypatch.setattr(genie.Distiller, "__init__",
                            lambda self, model, jitter, precision, **settings:
                            original(self, model, jitter, precision, counting, **settings))
    model = _small_teacher()
    images = list(genie.genie(model, num_classes=10, input_shape=(3, 16, 16), num_samples=5, batch_size=2,
                              iterations=3, latent_dim=8, compiled="step"))
    return images, graphs


def test_traced_step_matches_the_eager_step_with_one_graph(monkeypatch):
    eager, _ = _images(monkeypatch, None)
    traced, graphs = _images(monkeypatch, "counting")
    assert len(graphs) == 1, f"{len(graphs)} graphs for batches of 2, 2 and 1 (made as 2)"
    # The eager steps shift by reflected windows, the traced ones by a padded map's one-hot crops: the
    # same values forward, the border gradients summed in another order (last bits).
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(eager, traced))


def test_graph_mode_swing_makes_the_host_mode_s_images():
    """A batch whose swing reads its shifts from the device counter (as a graphed GPU step does)
    makes the same images as one that crops at host offsets."""
    def batch(mode):
        with genie.Distiller(_small_teacher(), 1, "fp32", compiled="kernels") as distiller:
            distiller.swing.mode = mode
            return distiller.batch(3, batch_size=3, input_shape=(3, 16, 16), seed=4, iterations=5, lr_latent=0.1,
                                   lr_generator=0.01, decay=0.95, patience=100, min_lr=1e-4, latent_dim=8, eps=1e-6)

    host, graph = batch("host"), batch("graph")
    assert torch.equal(host, graph)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CI has none; run it on the device)")
def test_graphed_kernel_steps_make_the_eager_steps_images_on_a_gpu(monkeypatch, capsys):
    """On a GPU in bf16 with `cuda_graph`, compiled="kernels" replays its steps as a CUDA graph: the
    images are those of the same steps run eagerly (the default). cuDNN is held to deterministic algorithms
    here: otherwise the two runs' convolutions may differ in the last bits, which Adam's
    normalised steps make visible after a few steps (0.25 apart after 12 steps on an H100)."""
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)

    def images(cuda_graph: bool):
        with genie.Distiller(_small_teacher().cuda(), 1, "bf16", compiled="kernels", cuda_graph=cuda_graph) as distiller:
            assert distiller.graphed == cuda_graph
            made = distiller.batch(4, batch_size=4, input_shape=(3, 32, 32), seed=5, iterations=12, lr_latent=0.1,
                                   lr_generator=0.01, decay=0.95, patience=100, min_lr=1e-4, latent_dim=8, eps=1e-6)
            return made, distiller.times

    (graphed, times), (eager, _) = images(True), images(False)
    assert times.first_steps == 3 and times.steps == 9 and "capture failed" not in capsys.readouterr().err
    assert torch.allclose(graphed, eager, atol=2e-2), float((graphed - eager).abs().max())


def test_a_graph_mode_step_builds_no_host_constants(monkeypatch):
    """A step captured as a CUDA graph may not copy from the host (capture fails, and every batch
    falls back to eager steps): no tensor is made from host values inside a step once it has run
    once (the generator's sub-pixel taps were, at every step)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    host_made = {"zeros", "ones", "full", "arange", "lift_fresh", "lift_fresh_copy", "tensor", "rand", "randn",
                 "randint"}

    class Factories(TorchDispatchMode):
        seen: list[str] = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if not any(isinstance(a, torch.Tensor) for a in list(args) + list(kwargs.values())):
                self.seen.append(func.__name__)
            return func(*args, **kwargs)

    run_steps = genie.run_steps

    def second_step_watched(step, iterations, device, **settings):
        calls = []

        def watched():
            if len(calls) == 1:
                with Factories():
                    step()
            else:
                step()
            calls.append(1)
        return run_steps(watched, iterations, device, **settings)

    monkeypatch.setattr(genie, "run_steps", second_step_watched)
    with genie.Distiller(_small_teacher(), 1, "fp32", compiled="kernels") as distiller:
        distiller.swing.mode = "graph"
        distiller.batch(3, batch_size=3, input_shape=(3, 16, 16), seed=4, iterations=3, lr_latent=0.1,
                        lr_generator=0.01, decay=0.95, patience=100, min_lr=1e-4, latent_dim=8, eps=1e-6)
    made = [name for name in Factories.seen if name.split(".")[0] in host_made]
    assert Factories.seen and not made, made
