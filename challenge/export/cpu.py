"""Whether ONNX Runtime's fast uint8 x int8 kernels compute exact sums on this CPU.

On x86-64 without VNNI, ONNX Runtime's integer convolutions and matrix products (MLAS, U8S8)
multiply uint8 activations by int8 weights with VPMADDUBSW, which adds each pair of neighbouring
products into a saturating int16: two large activations on two large weights of one sign
(2 * 255 * 127 > 32767) are clipped. With VNNI (VPDPBUSD) or AMX the products go straight into
int32, exact. On a 2-core AMD EPYC with AVX2 only, the kit's MobileNetV2 export gave another
class than the reference runtime on 111 of 1,211 images (logit RMS error 0.67), and 22 once the
sums were exact. ONNX Runtime's session option `session.x64quantprecision` rewrites the int8
weights to uint8 (zero point 128) for its uint8 x uint8 kernels, which widen to int16 first:
exact, and slower (on that CPU below its FP32). So the kit asks for it only where the fast
kernels saturate; the exported file keeps int8 weights, the format VNNI CPUs run fastest.

The option costs only the layers that need it: ONNX Runtime rewrites (to uint8, for the exact
kernels) a weight tensor only where some weight lies outside +-64, and 2 * 255 * 64 = 32,640
fits int16, so a layer of 7 bits or fewer keeps the fast kernels, exactly. A w4a8 model then runs
only its 8-bit stem on the slower kernels (runtime.exact_kernel_layers counts them).
"""
from __future__ import annotations

import platform

# Instruction sets whose uint8 x int8 products accumulate in int32 (MLAS uses them when present).
EXACT_U8S8_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str] | None:
    """The first processor's flags, or None where the file is absent (not Linux)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as stream:
            for line in stream:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        return None
    return None


def u8s8_saturates(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True on x86-64 without VNNI or AMX (or where the flags cannot be read: the safe side)."""
    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686", "x86"):
        return False  # ARM's dot-product instructions accumulate in int32
    flags = cpu_flags(cpuinfo)
    return flags is None or not (flags & EXACT_U8S8_FLAGS)
