"""Genie-D step compiled on the CPU (Inductor, C++) with static against dynamic shapes: kernels generated
and seconds to compile and run two steps (issue 20, 2026-12-06): does compiling shape-generic
kernels, shared between layers, cut the compile? Usage (fresh cache each):
TORCHINDUCTOR_CACHE_DIR=/tmp/a PYTHONPATH=. python benchmarks/results/h200-speed/cpu_genie_compile_trial.py static|dynamic"""
import sys, time, functools, torch, torchvision
import torch._inductor.metrics as metrics
import synth.genie as G
from challenge.compiling import dynamic_settings
mode = sys.argv[1]
if mode == "dynamic":
    dynamic_settings()
    G.torch.compile = functools.partial(torch.compile, dynamic=True)
torch.manual_seed(0)
model = torchvision.models.mobilenet_v2(num_classes=10).eval()
t = time.time()
with G.Distiller(model, 1, "fp32", backend="inductor") as d:
    d.batch(4, batch_size=4, input_shape=(3, 32, 32), seed=0, iterations=2, lr_latent=0.1, lr_generator=0.01,
            decay=0.95, patience=100, min_lr=1e-4, latent_dim=16, eps=1e-6)
print(mode, "kernels", metrics.generated_kernel_count, "cpp/triton", metrics.generated_cpp_vec_kernel_count if hasattr(metrics,'generated_cpp_vec_kernel_count') else '-', "seconds", round(time.time() - t, 1), flush=True)
