"""Issue 20 (2026-12-07, seventh session): main.py under cProfile; at exit, on stderr, the 45
functions with the most cumulative seconds and the 25 with the most own seconds.

Why: on a warm Inductor cache Genie-D's first step spent about 35 s in
PyCodeCache.load_by_key_path (call 13), yet neither loading kernels one by one
(async_compile.precompile) nor waiting for the worker pool (async_compile.wait: 0.01 s) appears
among torch.compile's timed phases. A profile of the whole process says which calls hold them.
Usage: python benchmarks/results/h200-speed/cprofile_report.py MAIN_ARGS..."""
import cProfile
import io
import pstats
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.argv[0] = str(ROOT / "main.py")
profiler = cProfile.Profile()
profiler.enable()
try:
    runpy.run_path(str(ROOT / "main.py"), run_name="__main__")
finally:
    profiler.disable()
    for key, count in (("cumulative", 45), ("tottime", 25)):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(key).print_stats(count)
        for line in text.getvalue().splitlines():
            if line.strip():
                print(f"cprofile {key}: {line[:240]}", file=sys.stderr)
