"""The cases behind tests/synth/test_bn_kernels.py: Genie-D's two Triton kernels (synth/_bn_kernels.py)
against their PyTorch twin (_fused_bn._normalise_and_match), values and gradients. Run under
Triton's CPU interpreter (a fresh process with TRITON_INTERPRET=1); on a GPU, compiled."""
import json

import torch

from synth._bn_kernels import NormaliseAndMatch
from synth._fused_bn import _normalise_and_match


SMALL = [(50, 24, torch.float32, 0.0, 6.0), (300, 96, torch.float32, None, None), (130, 70, torch.bfloat16, 0.0, None),
         (64, 3, torch.float32, 0.0, 6.0), (257, 64, torch.bfloat16, 0.0, 6.0),
         (64 * 8 * 70 + 5, 64, torch.float32, None, None)]  # 71 partial sums: the finish loops, over 2 column blocks
# MobileNetV2's at batch 256 on a GPU: the stem's map, a 7 x 7 one with many channels, one between.
LARGE = [(256 * 112 * 112, 32, torch.bfloat16, 0.0, 6.0), (256 * 7 * 7, 960, torch.bfloat16, 0.0, 6.0),
         (256 * 28 * 28, 144, torch.bfloat16, None, None)]


def worst_differences(device="cpu", cases=SMALL) -> dict:
    """Per case, the largest differences between kernels and twin (output, distance, gradient, and
    the gradient of the distance alone), the gradients' own sizes, and whether a second run of the
    kernels gave the same bits."""
    g = torch.Generator().manual_seed(0)
    results = {}
    # One tile and several of rows, more tiles than the finish kernel takes at once; channels
    # under, at and over a 64-wide tile; no activation, ReLU, ReLU6; float32 and bf16.
    for rows, channels, dtype, low, high in cases:
        base = (torch.randn(rows, channels, generator=g) * 2 + 0.5).to(dtype).to(device)
        vectors = [(torch.rand(channels, generator=g) + 0.5).to(device), torch.randn(channels, generator=g).to(device),
                   torch.randn(channels, generator=g).to(device), (torch.rand(channels, generator=g) + 0.5).to(device)]
        weights = torch.randn(rows, channels, generator=g).to(device)
        def run(use_kernels):
            x = base.clone().requires_grad_(True)
            if use_kernels:
                return NormaliseAndMatch.apply(x, *vectors, 1e-6, low, high), x
            return _normalise_and_match(x, *vectors, (0,), 1e-6, low, high), x

        runs = []
        for use_kernels in (True, True, False):
            (y, distance), x = run(use_kernels)
            (grad,) = torch.autograd.grad((y.float() * weights).sum() + 3 * distance, x)
            (_, distance_alone), x = run(use_kernels)  # its gradient is small beside the output's: apart
            (alone,) = torch.autograd.grad(distance_alone, x)
            runs.append((y.detach(), distance.detach(), grad, alone))
        (y0, d0, g0, a0), (y1, d1, g1, a1), (y2, d2, g2, a2) = runs
        results[f"{rows}x{channels} {str(dtype)[6:]} {low} {high}"] = {
            "dtype": str(y0.dtype)[6:], "repeat_equal": bool(torch.equal(y0, y1) and torch.equal(d0, d1) and torch.equal(g0, g1) and torch.equal(a0, a1)),
            "output": float((y0.float() - y2.float()).abs().max()), "distance": float((d0 - d2).abs()),
            "gradient": float((g0.float() - g2.float()).abs().max()), "gradient_size": float(g2.float().abs().max()),
            "distance_gradient": float((a0.float() - a2.float()).abs().max()),
            "distance_gradient_size": float(a2.float().abs().max())}
    return results


if __name__ == "__main__":  # on a GPU: python -m tests.synth.bn_kernel_cases cuda (adds the large cases)
    import sys

    device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
    print(json.dumps(worst_differences(device, SMALL + LARGE if device == "cuda" else SMALL)))
