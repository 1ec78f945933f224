"""Issue 20, device call 2: where a Genie-D step's GPU time goes (MobileNetV2, batch 256), by kernel,
for precision auto (bf16, channels-last) and fp32; eager steps under torch.profiler.
Run from the repository root: python benchmarks/results/h200-profile-genie.py WEIGHTS"""
import sys
import time

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, ".")
from challenge.models import load_fp32_model  # noqa: E402
from synth.genie import distill_batch  # noqa: E402

model = load_fp32_model("mobilenet_v2", sys.argv[1]).model.cuda()
settings = dict(input_shape=(3, 224, 224), seed=0, lr_latent=0.1, lr_generator=0.01, decay=0.95, patience=100,
                min_lr=1e-4, latent_dim=256, eps=1e-6, jitter=1)
print("cudnn", torch.backends.cudnn.version(), "benchmark", torch.backends.cudnn.benchmark,
      "deterministic", torch.backends.cudnn.deterministic, "allow_tf32", torch.backends.cudnn.allow_tf32)
for precision in ("auto", "fp32"):
    distill_batch(model, 256, iterations=3, precision=precision, cuda_graph=False, **settings)
    torch.cuda.synchronize()
    started = time.perf_counter()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        distill_batch(model, 256, iterations=5, precision=precision, cuda_graph=False, **settings)
        torch.cuda.synchronize()
    print(f"== {precision}: 5 eager steps in {time.perf_counter() - started:.2f} s (profiled)")
    print(prof.key_averages().table(sort_by="self_cuda_time_total", row_limit=22, max_name_column_width=90))
