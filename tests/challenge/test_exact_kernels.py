"""The fused Triton kernels of exact_int8 (challenge/quant/exact_kernels.py) give PyTorch's bits.

CI has no GPU: the kernels run under Triton's CPU interpreter (TRITON_INTERPRET=1, set before
Triton is imported, so in a fresh interpreter). On a GPU the same comparisons run compiled.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

triton = pytest.importorskip("triton", reason="Triton is not installed (it comes with PyTorch's CUDA wheels)")

from tests.conftest import all_finished  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

@pytest.fixture(scope="module")
def interpreted():
    """The comparisons, the self-check and the models, run once under Triton's interpreter: the
    comparisons in one process, the rest in another, side by side (each keeps one core busy)."""
    environment = {**os.environ, "TRITON_INTERPRET": "1"}
    code = "from tests.challenge.kernel_cases import interpreted_summary; print(interpreted_summary({!r}))"
    done = all_finished({part: subprocess.Popen([sys.executable, "-c", code.format(part)], cwd=ROOT, env=environment,
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                         for part in ("cases", "models")})
    summary = {}
    for result in done.values():
        assert result.returncode == 0, result.stderr[-3000:]
        summary.update(json.loads(result.stdout.splitlines()[-1]))
    return summary


def test_the_kernels_give_pytorch_s_bits_under_the_interpreter(interpreted):
    """Ties round to even, NaN and infinities, any input strides, several tiles, padding,
    offsets, the correction, with and without bias (check() asserts each case)."""
    from tests.challenge.kernel_cases import CASES

    assert interpreted["cases"] == CASES


def test_the_self_check_passes_and_enables_them(interpreted):
    assert interpreted["enabled"] is True  # with the real tiles, before models() enlarges them


@pytest.mark.parametrize("name", ["mobilenet_v2", "shufflenet_v2_x1_0"])
def test_a_model_through_the_kernels_keeps_its_logits(interpreted, name):
    model = interpreted["models"][name]
    assert model["int8"] > 10 and model["depthwise"] > 10 and model["same"]


def test_a_layer_s_size_padding_steps_and_batch_compile_no_new_variant(monkeypatch):
    """Triton compiles a kernel once per specialization of its integer arguments. Only channel
    counts and strides (contiguity, alignment) choose one: a cold evaluation of MobileNetV2 asked
    for 23 compilations before, 13.5 s on an H100 (benchmarks/results/h200-speed.md)."""
    from challenge.quant import exact_kernels as k
    from tests.challenge.kernel_cases import record_specializations

    keys = record_specializations(launch=False, replace=monkeypatch.setattr)
    channels = 96
    scale, bias = torch.ones(channels), torch.zeros(channels)
    weight, correction = torch.zeros(channels, 3, 3, dtype=torch.int32), torch.zeros(channels, dtype=torch.int32)
    for n, size, pad, step in [(13, 112, 1, 1), (2, 56, 0, 2), (1, 7, 1, 1), (3, 14, 2, 2), (5, 28, 1, 1)]:
        x = torch.empty(n, channels, size, size).contiguous(memory_format=torch.channels_last)
        k.quantize_nhwc(x, 0.5, -3.0, 252.0, 3, (pad, pad), 3)
        k.depthwise(x, weight, 0.5, -3.0, 252.0, (step, step), (pad, pad), (1, 1), scale, bias)
        k.finish(torch.zeros(n * size * size, channels, dtype=torch.int32), correction, scale, bias, channels)
    assert {name: len(found) for name, found in keys.items()} == {
        "quantize_kernel": 1, "depthwise_kernel": 1, "finish_kernel": 1}


def test_switched_off_they_are_not_used(monkeypatch):
    from challenge.quant import exact_kernels

    monkeypatch.setenv("DFQ_EXACT_KERNELS", "0")
    assert not exact_kernels.enabled(torch.device("cuda")) and not exact_kernels.enabled(torch.device("cpu"))


def test_without_the_interpreter_a_cpu_does_not_use_them():
    from challenge.quant import exact_kernels

    if not exact_kernels.interpreting():
        assert not exact_kernels.enabled(torch.device("cpu"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CI has none; run it on the device)")
def test_compiled_on_a_gpu_they_give_pytorch_s_bits():
    from challenge.quant import exact_kernels
    from tests.challenge.kernel_cases import CASES, check

    assert check("cuda") == CASES  # the same comparisons, compiled

    assert exact_kernels.enabled(torch.device("cuda"))
