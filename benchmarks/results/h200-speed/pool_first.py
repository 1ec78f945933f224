"""Issue 20 (2026-12-07, seventh session): start Inductor's pool of compile worker processes and wait
until it answers, say how long that took, then run SCRIPT (e.g. compile_report.py) with its arguments.

Why: on a warm Inductor cache Genie-D's first step spent 33-36 s in PyCodeCache.load_by_key_path
whether it loaded 726 kernels (the whole step) or about 64 (compiled="layers"), but only 1.9-7.8 s
on a cold cache, where tens of seconds of code generation come first. Inductor hands a kernel to
the pool only once the pool answers (AsyncCompile.use_process_pool does not wait), else loads it
in this process, one after another. If that is the warm cost, a pool made ready first removes it.
Usage: python benchmarks/results/h200-speed/pool_first.py SCRIPT ARGS..."""
import runpy
import sys
import time

started = time.perf_counter()
from torch._inductor.async_compile import AsyncCompile  # noqa: E402

AsyncCompile.warm_pool()
if hasattr(AsyncCompile, "wait_pool_ready"):
    AsyncCompile.wait_pool_ready()
else:  # older releases: the same readiness future, awaited by hand
    AsyncCompile.use_process_pool()
    if getattr(AsyncCompile, "_ready_future", None) is not None:
        AsyncCompile._ready_future.result(timeout=120)
print(f"pool first: compile workers ready in {time.perf_counter() - started:.1f} s", file=sys.stderr)
script = sys.argv.pop(1)
sys.argv[0] = script
runpy.run_path(script, run_name="__main__")
