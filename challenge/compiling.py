"""Whether GPU steps may be compiled with torch.compile (on unless DFQ_COMPILE=0), and the one way
the kit compiles a small function that many layers share.

Reconstruction's fake-quant chains (challenge/quant/methods/_fused.py) are compiled on CUDA with
dynamic shapes, and Genie-D's `compiled=step` compiles its whole step; the CPU always runs the
same Python eagerly (its twin). DFQ_COMPILE=0 runs the eager versions on the GPU too (and Genie-D's
BatchNorm work in PyTorch ops instead of its Triton kernels): for comparison, or where a compiler
fails.
"""
from __future__ import annotations

import os
from typing import Callable


def compile_enabled() -> bool:
    return os.environ.get("DFQ_COMPILE", "1") != "0"


def dynamic_settings() -> None:
    """Compiler settings under which one graph serves every layer (shapes are not guarded)."""
    import torch._dynamo
    import torch.fx.experimental._config as fx_config

    # A few variants remain (QDrop on or off, a fixed or learned step size, a first layer whose
    # input needs no gradient, an activation or none): never fall back to eager silently for lack of room.
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 32)
    # No "duck sizing": two sizes that happen to be equal in one layer (channels == fan-in)
    # would otherwise be one symbol, and the next layer would compile again.
    fx_config.use_duck_shape = False
    # Parameters (the rounding variables, the step sizes) change shape from layer to layer.
    torch._dynamo.config.force_parameter_static_shapes = False


def on_gpu_compiled(fn: Callable) -> Callable:
    """fn, compiled (once, dynamic shapes) for CUDA tensors; as it is for CPU tensors. Each call's
    first argument is a tensor, and says where it runs."""
    compiled = None

    def call(first, *args, **kwargs):
        nonlocal compiled
        if not (first.is_cuda and compile_enabled()):
            return fn(first, *args, **kwargs)
        if compiled is None:
            import torch

            dynamic_settings()
            compiled = torch.compile(fn, dynamic=True)
        return compiled(first, *args, **kwargs)

    call.eager = fn
    call.__doc__ = fn.__doc__
    return call
