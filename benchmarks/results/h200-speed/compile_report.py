"""Issue 20: main.py, then where torch.compile's seconds went (Dynamo tracing, AOTAutograd,
Inductor lowering, Triton/C++ kernel compiling, cache hits) and how many kernels it made, on
stderr at exit. Why: Genie-D's first step takes about 100 s on a cold Inductor cache and 46 s on
a warm one, and which phase that is decides what could cut it (fewer graphs, fewer kernels, a
carried cache).
Usage: python benchmarks/results/h200-speed/compile_report.py MAIN_ARGS..."""
import atexit
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))


def report():
    from torch._dynamo import utils

    print("compile report: phases (seconds, summed over graphs)", file=sys.stderr)
    for phase, seconds in sorted(utils.calculate_time_spent().items(), key=lambda item: -item[1]):
        print(f"compile report:   {phase}: {seconds:.1f}", file=sys.stderr)
    print("compile report: timed functions\n" + (utils.compile_times(repr="str", aggregate=True) or ""), file=sys.stderr)
    for group in ("stats", "inductor", "aot_autograd", "frames"):
        counts = dict(utils.counters.get(group, {}))
        if counts:
            print(f"compile report: counters[{group}] = {counts}", file=sys.stderr)


atexit.register(report)
sys.argv[0] = str(ROOT / "main.py")
runpy.run_path(str(ROOT / "main.py"), run_name="__main__")
