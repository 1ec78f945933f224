"""The cases behind tests/challenge/test_exact_kernels.py: each Triton kernel against its PyTorch
twin, and whole models with and without the kernels. Imported by the test under Triton's CPU
interpreter (in a fresh process with TRITON_INTERPRET=1) and, on a GPU, compiled.
"""
import json
import os
from collections import defaultdict

import torch

from challenge.models import build_architecture
from challenge.quant import exact, exact_int8, get_scheme, quantize_model
from challenge.quant import exact_kernels as k
from challenge.quant.modules import quant_layers


def check(device) -> int:
    """Each kernel against its twin on `device`, bit for bit (an assertion per case); the cases run."""
    g = torch.Generator().manual_seed(1)
    cases = 0
    # One tile and several (width over 16 pixels, over 64 channels, a multiple of 16: another
    # specialization); ties, NaN and infinities among the values.
    for shape, padding in [((2, 24, 9, 7), (1, 1)), ((1, 40, 5, 6), (0, 0)), ((3, 3, 11, 13), (3, 3)),
                           ((2, 8, 4, 4), (2, 1)), ((1, 80, 3, 37), (1, 1))]:
        x = torch.randn(shape, generator=g) * 60
        x.view(-1)[:64] = torch.arange(-32, 32) + 0.5  # ties at r = 1
        x.view(-1)[64:67] = torch.tensor([float("nan"), float("inf"), -float("inf")])
        for layout in (torch.contiguous_format, torch.channels_last):
            xs = x.to(device).contiguous(memory_format=layout)
            numbers = [(1.0, 0.0, 255.0, -128), (0.37, -37.0, 218.0, -91), (3.1, -128.0, 127.0, 0)]
            # and a transposed view (any strides), with one set of numbers
            for v, r, lo, hi, offset in [(xs, *n) for n in numbers] + [(xs.permute(0, 1, 3, 2), *numbers[1])]:
                arguments = (v, r, lo, hi, offset, padding, lo + offset)
                got, want = k.quantize_nhwc(*arguments), k.quantize_nhwc_torch(*arguments)
                assert got.dtype == torch.int8 and torch.equal(got, want), (shape, padding, layout, r)
                cases += 1
    for shape, kernel, stride, padding, dilation in [((2, 24, 9, 7), 3, (1, 1), (1, 1), (1, 1)),
                                                     ((1, 40, 12, 11), 3, (2, 2), (1, 1), (1, 1)),
                                                     ((2, 8, 10, 9), 5, (2, 1), (2, 1), (1, 2)),
                                                     ((3, 70, 4, 4), 1, (1, 1), (0, 0), (1, 1)),
                                                     ((1, 80, 3, 37), 3, (1, 1), (1, 1), (1, 1))]:
        x = torch.randn(shape, generator=g) * 50
        x.view(-1)[:64] = torch.arange(-32, 32) + 0.5
        x.view(-1)[64:67] = torch.tensor([float("nan"), float("inf"), -float("inf")])
        weight = torch.randint(-128, 128, (shape[1], kernel, kernel), generator=g, dtype=torch.int32).to(device)
        scale = (torch.rand(shape[1], generator=g) * 1e-3).to(device)
        bias = torch.randn(shape[1], generator=g).to(device)
        for layout in (torch.contiguous_format, torch.channels_last):
            xs = x.to(device).contiguous(memory_format=layout)
            for r, lo, hi, b in [(1.0, 0.0, 255.0, bias), (0.37, -37.0, 218.0, None)]:
                arguments = (xs, weight, r, lo, hi, stride, padding, dilation, scale, b)
                got, want = k.depthwise(*arguments), k.depthwise_torch(*arguments)
                assert got.shape == want.shape and torch.equal(got, want), (shape, kernel, stride, layout, r)
                cases += 1
    for rows, width, channels in [(70, 40, 35), (17, 8, 8), (130, 136, 130), (200, 96, 80)]:
        acc = torch.randint(-(2 ** 28), 2 ** 28, (rows, width), generator=g, dtype=torch.int32).to(device)
        correction = torch.randint(-9000, 9000, (channels,), generator=g, dtype=torch.int32).to(device)
        scale = (torch.rand(channels, generator=g) * 1e-3).to(device)
        bias = torch.randn(channels, generator=g).to(device)
        for b in (bias, None):
            got, want = k.finish(acc, correction, scale, b, channels), k.finish_torch(acc, correction, scale, b, channels)
            assert torch.equal(got, want), (rows, width, channels, b is None)
            cases += 1
    return cases


CASES = 5 * 2 * 4 + 5 * 2 * 2 + 4 * 2  # quantize, depthwise, finish: every one ran


def models():
    """MobileNetV2 and ShuffleNetV2 (channel shuffles: non-contiguous inputs) with every groups=1
    convolution as an int8 product between the kernels and every depthwise one as the depthwise
    kernel, against exact.py's float path."""
    # Larger tiles than on a GPU: the interpreter's time goes per tile. Tiles change which
    # program computes an element, not its value (check() uses the real ones).
    k.ROW_PIXELS, k.ROW_CHANNELS, k.TILE_ROWS, k.TILE_COLUMNS = 32, 256, 512, 256
    applies, result = exact_int8.applies, {}
    for name in ("mobilenet_v2", "shufflenet_v2_x1_0"):
        torch.manual_seed(0)
        model = build_architecture(name, 10).eval()
        g = torch.Generator().manual_seed(0)
        qmodel = quantize_model(model, get_scheme("int8"), [torch.randn(4, 3, 32, 32, generator=g)])
        images = torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8, generator=g)  # small: interpreted
        logits = {}
        for fused in (False, True):
            os.environ["DFQ_EXACT_KERNELS"] = "1" if fused else "0"
            exact_int8.applies = (lambda layer, device: applies(layer, torch.device("cuda"))) if fused else applies
            for layer in quant_layers(qmodel).values():
                layer.__dict__.pop("_exact_cache", None)
            with torch.no_grad(), exact.exact_runtime():
                logits[fused] = qmodel(exact.normalize_exact(images))
        caches = [layer._exact_cache for layer in quant_layers(qmodel).values()]
        result[name] = {kind: sum(c[kind] is not None for c in caches) for kind in ("int8", "depthwise")}
        result[name]["same"] = torch.equal(logits[False], logits[True])
    return result



def record_specializations(launch: bool = True, replace=setattr) -> dict[str, set]:
    """From now on, the specialization key of every launch of the three kernels, per kernel: what
    Triton compiles a variant for (each integer argument's being 1 or a multiple of 16, each
    pointer's alignment, the constexprs), as Triton's own specializer computes it. With `launch`
    the launches still run (under the interpreter: nothing is compiled); `replace` installs the
    recorders (a test's monkeypatch.setattr undoes them)."""
    from triton.backends.compiler import BaseBackend
    from triton.runtime.jit import JITFunction, native_specialize_impl

    from challenge.quant import triton_kernels

    keys = defaultdict(set)

    def recording(name, kernel):
        # The interpreter's function keeps jit's keywords; a JITFunction of the same Python
        # function says how each parameter is specialized.
        params = getattr(kernel, "params", None) or JITFunction(kernel.fn, **kernel.kwargs).params

        class Launcher:
            def __getitem__(self, grid):
                def launcher(*args, **kwargs):
                    values = list(args) + [kwargs[p.name] for p in params[len(args):]]
                    keys[name].add(tuple(
                        (p.name, value) if p.is_constexpr else
                        native_specialize_impl(BaseBackend, value, False, not p.do_not_specialize,
                                               not p.do_not_specialize_on_alignment)
                        for p, value in zip(params, values)))
                    return kernel[grid](*args, **kwargs) if launch else None
                return launcher
        return Launcher()

    for name in ("quantize_kernel", "finish_kernel", "depthwise_kernel"):
        replace(triton_kernels, name, recording(name, getattr(triton_kernels, name)))
    return keys


def interpreted_summary(part: str) -> str:
    """Under the interpreter, one of two parts that take about as long (the test runs them side by
    side: the interpreter keeps one core busy): "cases", every comparison; "models", the
    self-check (through enabled()), then the models."""
    if part == "cases":
        return json.dumps({"cases": check("cpu")})
    enabled = k.enabled(torch.device("cpu"))  # True when the self-check passed, with the real tiles
    return json.dumps({"enabled": enabled, "models": models()})
