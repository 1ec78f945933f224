"""Whether GPU steps may be compiled with torch.compile: on unless DFQ_COMPILE=0.

Reconstruction's fake-quant chains (challenge/quant/methods/_fused.py) and the generators' steps
(synth/genie.py) are compiled on CUDA; the CPU always runs the same Python eagerly (its twin).
DFQ_COMPILE=0 runs the eager version on the GPU too: for comparison, or where a compiler fails.
"""
from __future__ import annotations

import os


def compile_enabled() -> bool:
    return os.environ.get("DFQ_COMPILE", "1") != "0"
