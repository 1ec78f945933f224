"""The 2021 baseline: calibration on N(0, 1) noise, used as is (not normalized)."""
import torch

from synth import register_generator


@register_generator("gaussian")
def gaussian(model, *, num_classes, input_shape=(3, 224, 224), num_samples=1000, batch_size=32, seed=0):
    device = next(model.parameters()).device
    # A CPU generator makes the same noise on every device, so CPU and GPU runs calibrate alike.
    rng = torch.Generator().manual_seed(seed)
    for start in range(0, num_samples, batch_size):
        count = min(batch_size, num_samples - start)
        yield torch.randn((count, *input_shape), generator=rng).to(device)
