"""Session of 2026-12-01, device call 2 (one H200): one Genie-D generation for MobileNetV2, then the
w4a8 width search for 86.72 % on those images + brecq 5,000, and w6a6 + brecq 5,000; artifacts saved to $OUT.
Run from the repository root: PYTHONPATH=. OUT=DIR python benchmarks/results/h200-genie-brecq-call2.py SECONDS
(DRY=1: the same on the CPU at tiny sizes). Kept as the record of how h200-genie-brecq.md was made.
It no longer runs: the runner's functions it imports were since reshaped into the pipeline's
stages (challenge/runner.py, challenge/search/stage.py). To measure the same today: `python
main.py --model mobilenet_v2 --scheme w4a8 --target-compression 86.72 --generator genie
--method brecq --method-arg iterations=5000 --reuse-synthetic ...`, then `--scheme w6a6` without
the target; the second run reads the first one's Genie-D images back."""
import os, sys, time, torch
from challenge import artifact, quant
from challenge.cli import parse_args
from challenge.runner import calibration_batches, quantize, search_space, searched_layer_rules, seed_everything, resolve_device

OUT = os.environ["OUT"]
budget_end = time.time() + float(sys.argv[1])
DRY = os.environ.get("DRY")  # a CPU check at tiny sizes
def args_for(scheme, extra=()):
    small = ["--gen-arg", "iterations=2", "--num-samples", "8", "--batch-size", "4", "--method-arg", "iterations=2",
             "--device", "cpu"] + (["--search-arg", "samples=2"] if "--target-compression" in extra else []) if DRY else []
    return parse_args(["--model", "mobilenet_v2", "--weights", ".assets/weights/mobilenet_v2-b0353104.pth",
                       "--data", ".assets/val-sub", "--scheme", scheme, "--generator", "genie", "--method", "brecq",
                       "--method-arg", "iterations=5000", "--device", "cuda", *extra, *small])
from challenge.models import load_fp32_model
def sync():
    if not DRY: torch.cuda.synchronize()
args = args_for("w6a6")
seed_everything(0); device = resolve_device(args.device)
fp32 = load_fp32_model("mobilenet_v2", args.weights); fp32.model.to(device)
t = time.perf_counter(); batches = list(calibration_batches(args, fp32, device)); sync()
print(f"genie {sum(len(b) for b in batches)} images {time.perf_counter() - t:.1f} s", flush=True)
def save(qmodel, args, name):
    path = f"{OUT}/{name}.safetensors"
    artifact.save_artifact(path, qmodel, arch="mobilenet_v2", num_classes=1000, scheme=args.scheme,
                           generator="genie", method="brecq", method_args=args.method_kwargs)
    print("saved", path, flush=True)
# (b) first: the searched config
sargs = args_for("w4a8", ["--target-compression", "86.72", "--save-model", f"{OUT}/search/mobilenet_v2.safetensors"])
os.makedirs(f"{OUT}/search", exist_ok=True)
t = time.perf_counter()
space = search_space(sargs, fp32, quant.get_scheme("w4a8"))
rules = searched_layer_rules(sargs, space, fp32, batches)
print(f"search {time.perf_counter() - t:.1f} s", flush=True)
t = time.perf_counter()
q = quantize(sargs, fp32, quant.get_scheme("w4a8"), rules, "brecq", device, batches); sync()
print(f"searched w4a8 brecq5000 {time.perf_counter() - t:.1f} s, peak {(torch.cuda.max_memory_allocated() / 2**30 if not DRY else 0):.1f} GiB", flush=True)
save(q, sargs, "searched-w4a8-brecq5000"); del q
if time.time() + 185 < budget_end:
    t = time.perf_counter()
    q = quantize(args, fp32, quant.get_scheme("w6a6"), None, "brecq", device, batches); sync()
    print(f"w6a6 brecq5000 {time.perf_counter() - t:.1f} s", flush=True)
    save(q, args, "w6a6-brecq5000")
else:
    print("no time left for w6a6", flush=True)
