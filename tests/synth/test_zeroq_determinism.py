"""ZeroQ gives the same images for a seed: a single image never goes through ATen's native
im2col + BLAS convolution, whose sgemm is not run-to-run reproducible on every CPU (see
synth/zeroq.py, _pad_single_image)."""
import pytest
import torch
import torchvision
from torch.profiler import ProfilerActivity, profile

from synth._bn_stats import batchnorm_layers, frozen_teacher
from synth.zeroq import _statistics_loss, distill


@pytest.fixture
def model():
    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=10).eval()


def _conv_kernels(model, batch) -> set[str]:
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        distill(model, batch, iterations=1)
    return {event.name for event in prof.events() if "conv" in event.name}


def test_a_single_image_stays_on_the_onednn_path(model):
    noise = torch.randn((1, 3, 32, 32), generator=torch.Generator().manual_seed(0))
    kernels = _conv_kernels(model, noise)
    assert "aten::mkldnn_convolution" in kernels
    assert not {"aten::thnn_conv2d", "aten::_slow_conv2d_forward", "aten::_slow_conv2d_backward"} & kernels, kernels


@pytest.mark.parametrize("per_batch_stats", [False, True])
def test_padding_leaves_the_loss_of_a_single_image_unchanged(model, per_batch_stats):
    noise = torch.randn((1, 3, 32, 32), generator=torch.Generator().manual_seed(1))
    _, history = distill(model, noise, iterations=1, per_batch_stats=per_batch_stats)
    eps = 1e-6
    with frozen_teacher(model) as records:
        targets = {bn: (bn.running_mean, torch.sqrt(bn.running_var + eps)) for bn in batchnorm_layers(model)}
        model(noise)
        expected = _statistics_loss(noise, records, targets, per_batch_stats, eps)
    assert history[0].item() == pytest.approx(expected.item(), rel=1e-5)


def test_one_image_twice_in_one_process_is_identical(model):
    runs = []
    for _ in range(3):
        noise = torch.randn((1, 3, 32, 32), generator=torch.Generator().manual_seed(3))
        runs.append(distill(model, noise, iterations=2)[0])
    assert all(torch.equal(runs[0], other) for other in runs[1:])
