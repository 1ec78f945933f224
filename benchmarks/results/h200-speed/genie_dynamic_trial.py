"""Issue 20: main.py with Genie-D's step compiled with shape-generic kernels ("dynamic") or as in
the kit ("static"), or static with Inductor's combo kernels ("combo": independent small kernels
launched as one), through compile_report.py (where the compile's seconds went, at exit).

Why: on a warm Inductor cache Genie-D's first step still takes about 42 s on an H100, 33 s of it
loading the step's 726 distinct Triton kernels (2026-12-07, sixth session). Kernels whose sizes
are arguments rather than constants are the same source for every layer of the same kind, so far
fewer would be loaded. What it may cost: a slower cold compile (on the CPU, 264 s against 183 s)
and a slower step (less specialised kernels). This trial measures the three on a GPU.
Usage: python benchmarks/results/h200-speed/genie_dynamic_trial.py static|dynamic|combo MAIN_ARGS..."""
import functools
import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))
import torch  # noqa: E402

from challenge.compiling import dynamic_settings  # noqa: E402

mode = sys.argv.pop(1)
if mode not in ("static", "dynamic", "combo"):
    sys.exit(f"error: the first argument is static, dynamic or combo, not {mode!r}")
if mode == "dynamic":
    dynamic_settings()  # parameters' shapes unguarded, no duck sizing: one graph for every layer size
    torch.compile = functools.partial(torch.compile, dynamic=True)
if mode == "combo":
    import torch._inductor.config

    torch._inductor.config.combo_kernels = True
print(f"genie step compiled: {mode} shapes", file=sys.stderr)
sys.argv[0] = str(HERE / "compile_report.py")
runpy.run_path(str(HERE / "compile_report.py"), run_name="__main__")
