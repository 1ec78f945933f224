"""ZeroQ: the BatchNorm-statistics loss falls on a trained model, and the plateau rule is torch's."""

import pytest
import torch

from synth._plateau import plateau_step
from synth.zeroq import distill


@pytest.mark.parametrize("per_batch_stats", [False, True])
def test_loss_goes_down_on_a_trained_model(trained_resnet18, per_batch_stats):
    noise = torch.randn((4, 3, 64, 64), generator=torch.Generator().manual_seed(0))
    images, history = distill(trained_resnet18, noise, iterations=30, per_batch_stats=per_batch_stats)
    assert history.shape == (30,) and torch.isfinite(history).all()
    assert history[-5:].mean() < 0.7 * history[0]
    assert images.shape == noise.shape and not images.requires_grad


def test_plateau_rule_matches_reduce_lr_on_plateau():
    # A loss that improves, stalls long enough for two reductions, then improves again.
    losses = [10.0, 9.0, 8.0] + [8.0] * 7 + [7.9999] * 5 + [5.0, 4.0] + [4.0] * 8
    kwargs = dict(factor=0.5, patience=3, min_lr=0.1, threshold=1e-4)
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=1.0)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", threshold_mode="rel", **kwargs)
    lr, best, bad = torch.tensor(1.0), torch.tensor(float("inf")), torch.zeros((), dtype=torch.long)
    seen = []
    for loss in losses:
        reference.step(loss)
        plateau_step(lr, best, bad, torch.tensor(loss), **kwargs)
        assert lr.item() == pytest.approx(optimizer.param_groups[0]["lr"])
        seen.append(round(lr.item(), 4))
    assert sorted(set(seen)) == [0.1, 0.125, 0.25, 0.5, 1.0]  # four reductions, the last one to the floor


def test_clamp_to_pixels_keeps_images_in_the_normalized_pixel_range():
    import torchvision

    from challenge.data import IMAGENET_MEAN, IMAGENET_STD
    from synth.zeroq import zeroq

    model = torchvision.models.resnet18(num_classes=10).eval()
    (batch,) = zeroq(model, num_classes=10, input_shape=(3, 32, 32), num_samples=2, iterations=5,
                     clamp_to_pixels=True)
    for channel, (mean, std) in enumerate(zip(IMAGENET_MEAN, IMAGENET_STD)):
        assert batch[:, channel].min() >= (0 - mean) / std - 1e-6
        assert batch[:, channel].max() <= (1 - mean) / std + 1e-6
