"""Strict float32 on GPUs for calibration and evaluation.

PyTorch lets cuDNN run float32 convolutions in TF32 (10-bit mantissa) by default. That is fine
for training, but a quantized model rounds every activation to its grid: TF32's larger errors
move values across rounding boundaries, so a GPU and the CPU reference runtime (which the
scorer uses to verify submissions) disagreed on 2% of MobileNetV2's predictions. Generators
keep the fast default; only calibration and evaluation run under this.
"""
from contextlib import contextmanager

import torch


@contextmanager
def strict_float32():
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
