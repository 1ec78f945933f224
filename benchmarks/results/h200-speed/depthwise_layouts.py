"""Issue 20: is cuDNN's channels-last depthwise convolution faster than PyTorch's own (contiguous)
kernels at MobileNetV2's shapes, batch 32, float32, forward plus both gradients (a brecq step)?
The call 8 profile put 28% of features.2's step in the native depthwise kernels. Prints one line a
shape: milliseconds contiguous, channels-last, and the ratio. Runs on CPU too (small, for a check).
Usage: python benchmarks/results/h200-speed/depthwise_layouts.py [--device cuda] [--batch 32]"""
import argparse
import sys

import torch
import torch.nn.functional as F

# (channels, input size, stride) of MobileNetV2's 3x3 depthwise convolutions at 224 px.
SHAPES = [(32, 112, 1), (96, 112, 2), (144, 56, 1), (144, 56, 2), (192, 28, 1), (192, 28, 2),
          (384, 14, 1), (576, 14, 1), (576, 14, 2), (960, 7, 1)]


def time_step(x, w, stride, repeats):
    def step():
        y = F.conv2d(x, w, stride=stride, padding=1, groups=w.shape[0])
        gx, gw = torch.autograd.grad(y, (x, w), torch.ones_like(y))
        return gx, gw

    for _ in range(5):
        step()
    if x.is_cuda:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        start.record()
        for _ in range(repeats):
            step()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) / repeats
    import time
    t = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - t) * 1000 / repeats


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"{'channels':>8} {'size':>5} {'stride':>6} {'contiguous ms':>14} {'channels-last ms':>17} {'ratio':>6}")
    total = [0.0, 0.0]
    for channels, size, stride in SHAPES:
        x = torch.randn(args.batch, channels, size, size, device=args.device, requires_grad=True)
        w = torch.randn(channels, 1, 3, 3, device=args.device, requires_grad=True)
        plain = time_step(x, w, stride, args.repeats)
        x_last = x.detach().to(memory_format=torch.channels_last).requires_grad_()
        w_last = w.detach().to(memory_format=torch.channels_last).requires_grad_()
        y_plain = F.conv2d(x, w, stride=stride, padding=1, groups=channels)
        y_last = F.conv2d(x_last, w_last, stride=stride, padding=1, groups=channels)
        gap = (y_plain - y_last).abs().max().item()
        last = time_step(x_last, w_last, stride, args.repeats)
        total[0] += plain
        total[1] += last
        print(f"{channels:>8} {size:>5} {stride:>6} {plain:>14.3f} {last:>17.3f} {plain / last:>6.2f}  max|diff| {gap:.1e}")
    print(f"{'all':>22} {total[0]:>14.3f} {total[1]:>17.3f} {total[0] / total[1]:>6.2f}")
    print(torch.__version__, torch.backends.cudnn.version(), args.device, file=sys.stderr)


if __name__ == "__main__":
    main()
