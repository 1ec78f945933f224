"""Issue 20, call 18: Genie-D with compiled="kernels" (the default since the eighth session), MobileNetV2
at batch 256 in bf16: the seconds of a batch with its steps replayed as a CUDA graph and run eagerly
(DFQ_CUDA_GRAPHS=0), then where an eager step's GPU time goes, by kernel (torch.profiler, 6 steps).
Run from the repository root: python benchmarks/results/h200-speed/genie_kernels_profile.py WEIGHTS_DIR [STEPS]
On the CPU (no GPU) it runs float32 steps, to check the script itself."""
import os
import sys

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, ".")
from challenge.models import load_fp32_model  # noqa: E402
from synth import genie  # noqa: E402

device = "cuda" if torch.cuda.is_available() else "cpu"
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 100
batch_size, side = (256, 224) if device == "cuda" else (4, 32)
model = load_fp32_model("mobilenet_v2", weights_dir=sys.argv[1]).model.to(device)
settings = dict(batch_size=batch_size, input_shape=(3, side, side), lr_latent=0.1, lr_generator=0.01, decay=0.95,
                patience=100, min_lr=1e-4, latent_dim=256, eps=1e-6)


def batch(iterations: int):  # graphed where DFQ_CUDA_GRAPHS=1 (cuda_graph: off by default since call 19)
    graphs = os.environ.get("DFQ_CUDA_GRAPHS") == "1"
    with genie.Distiller(model, 1, "auto", compiled="kernels", cuda_graph=graphs) as distiller:
        distiller.batch(batch_size, seed=0, iterations=iterations, **settings)
        return distiller.graphed, distiller.times


for graphs in ("1", "0", "1"):  # graphed twice: the first run also compiles the kernels
    os.environ["DFQ_CUDA_GRAPHS"] = graphs
    graphed, times = batch(steps)
    print(f"DFQ_CUDA_GRAPHS={graphs}: graphed {graphed}, {steps} steps: {times.describe()}", flush=True)
os.environ["DFQ_CUDA_GRAPHS"] = "0"
activities = [ProfilerActivity.CUDA] if device == "cuda" else [ProfilerActivity.CPU]
with profile(activities=activities) as prof:
    batch(6)
sort = "self_cuda_time_total" if device == "cuda" else "self_cpu_time_total"
print(prof.key_averages().table(sort_by=sort, row_limit=32, max_name_column_width=110), flush=True)
