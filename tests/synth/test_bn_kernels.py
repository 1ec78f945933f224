"""Genie-D's hand-written Triton kernels (synth/_bn_kernels.py, compiled="kernels") give their
PyTorch twin's outputs, statistics' distance and gradients, the same bits on a second run, run
under Triton's CPU interpreter in a fresh process; and on the CPU the "kernels" setting runs that
twin without touching Triton."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from synth import _fused_bn
from synth.genie import genie
from tests.synth.test_fused_bn import _teacher

ROOT = Path(__file__).resolve().parents[2]


def test_kernels_match_their_twin_under_the_interpreter():
    pytest.importorskip("triton", reason="Triton comes with PyTorch's CUDA wheels (requirements.txt)")
    result = subprocess.run([sys.executable, "-m", "tests.synth.bn_kernel_cases"], cwd=ROOT, capture_output=True,
                            text=True, env={**os.environ, "TRITON_INTERPRET": "1"}, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    cases = json.loads(result.stdout.splitlines()[-1])
    assert len(cases) == 6
    for name, case in cases.items():
        assert case["repeat_equal"], name
        # bf16 outputs: one bf16 step at these sizes (the kernel fuses x * scale + shift)
        tolerance = 1e-5 if case["dtype"] == "float32" else 0.07
        assert case["output"] <= tolerance and case["distance"] <= 1e-5, (name, case)
        assert case["gradient"] <= tolerance * max(1.0, case["gradient_size"]), (name, case)
        # The statistics' gradient alone, relative to its size (a bf16 gradient keeps 8 bits)
        relative = 1e-4 if case["dtype"] == "float32" else 2e-2
        assert case["distance_gradient"] <= relative * case["distance_gradient_size"], (name, case)


def test_on_the_cpu_kernels_runs_the_twin(monkeypatch):
    def images():
        return torch.cat(list(genie(_teacher(), num_classes=10, input_shape=(3, 16, 16), num_samples=3, batch_size=3,
                                    iterations=3, latent_dim=8, compiled="kernels")))

    expected = images()

    def no_triton():
        raise AssertionError("the CPU ran the Triton kernels")

    monkeypatch.setattr(_fused_bn, "_triton_function", no_triton)
    assert torch.equal(images(), expected)


def test_without_triton_the_twin_runs_after_one_note(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "synth._bn_kernels", None)  # its import now fails
    monkeypatch.setattr(_fused_bn, "_TRITON_MISSING", [])
    assert _fused_bn._triton_function() is None and _fused_bn._triton_function() is None
    assert capsys.readouterr().err.count("Triton cannot be imported") == 1
