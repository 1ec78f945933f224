"""Which kernels a brecq step spends its time in, for the units named (issue 20): main.py with the
step loop patched so that, for those units, 50 steps (graph replays on a GPU) run under
torch.profiler after the first steps; the top kernels by device time are printed to stderr.
Usage: python benchmarks/results/h200-speed/profile_brecq_units.py UNIT[,UNIT...] MAIN_ARGS...
e.g. features.2,features.10,classifier --model mobilenet_v2 ... --method brecq --method-arg iterations=200"""
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
import torch  # noqa: E402

from challenge.quant.methods import _reconstruct, _trainer  # noqa: E402

wanted = set(sys.argv[1].split(","))
current = {"unit": None}
plain_install = _reconstruct._install


def install(qmodel, fp_model, unit, settings):
    current["unit"] = unit
    return plain_install(qmodel, fp_model, unit, settings)


plain_run_steps = _trainer.run_steps


def run_steps(step, iterations, device, **kwargs):
    times = plain_run_steps(step, iterations, device, **kwargs)
    if current["unit"] in wanted:
        from torch.profiler import ProfilerActivity, profile

        # 51 more steps (the capture, 50 replays) re-run the last ones of the schedule; the
        # learned values are put back after, so the unit's result is the loop's own.
        trainer = step.__self__
        params = [p for o in trainer.optimisers for g in o.param_groups for p in g["params"]]
        saved = [p.detach().clone() for p in params]
        trainer.counter.fill_(max(0, iterations - 51))
        graph = torch.cuda.CUDAGraph() if device.type == "cuda" else None
        if graph is not None:  # the step as the loop replays it
            kwargs.get("zero_grad", lambda: None)()
            with torch.cuda.graph(graph):
                step()
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        with profile(activities=activities, record_shapes=True) as prof:
            for _ in range(50):
                graph.replay() if graph is not None else step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
        # A replayed graph records no operators: 5 eager steps name the operators (and shapes)
        # behind the kernels, the copies and the elementwise kernels outside the chains.
        with profile(activities=activities, record_shapes=True) as eager:
            trainer.counter.fill_(max(0, iterations - 5))
            for _ in range(5):
                kwargs.get("zero_grad", lambda: None)()
                step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
        with torch.no_grad():
            for p, value in zip(params, saved):
                p.copy_(value)
        key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
        print(f"== profile of 50 steps, unit {current['unit']}\n"
              + prof.key_averages().table(sort_by=key, row_limit=30, max_name_column_width=90), file=sys.stderr)
        print(f"== operators by input shapes, 5 eager steps, unit {current['unit']}\n"
              + eager.key_averages(group_by_input_shape=True).table(sort_by=key, row_limit=40, max_name_column_width=50,
                                                                    max_shapes_column_width=100), file=sys.stderr)
    return times


_reconstruct._install = install
_trainer.run_steps = run_steps
sys.argv = [str(ROOT / "main.py")] + sys.argv[2:]
runpy.run_path(str(ROOT / "main.py"), run_name="__main__")
