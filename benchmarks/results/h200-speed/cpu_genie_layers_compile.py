"""Issue 20 (2026-12-07, seventh session): Genie-D with each BatchNorm's work compiled once for every
layer (compiled="layers", synth/_fused_bn.py) on the CPU, forced through Inductor's C++ backend
(the kit compiles it on CUDA only): how long compiling takes, cold and warm, and how many graphs.
MobileNetV2 (10 classes) at 32 px, two steps of 4 images; compare cpu_genie_compile_phases.py
(the whole step compiled: 154 s cold, 9.4 s warm). Run twice with the same fresh cache folder:
TORCHINDUCTOR_CACHE_DIR=/tmp/ind-layers python benchmarks/results/h200-speed/cpu_genie_layers_compile.py"""
import sys
import time
from pathlib import Path

import torch
import torchvision
from torch._dynamo import utils

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
import synth._fused_bn as fused_bn  # noqa: E402
import synth.genie as genie  # noqa: E402
from challenge.compiling import dynamic_settings  # noqa: E402

dynamic_settings()
fused_bn._normalise_and_match_compiled = torch.compile(fused_bn._normalise_and_match, dynamic=True)
torch.manual_seed(0)
model = torchvision.models.mobilenet_v2(num_classes=10).eval()
started = time.time()
with genie.Distiller(model, 1, "fp32", compiled="layers") as distiller:
    distiller.batch(4, batch_size=4, input_shape=(3, 32, 32), seed=0, iterations=2, lr_latent=0.1,
                    lr_generator=0.01, decay=0.95, patience=100, min_lr=1e-4, latent_dim=16, eps=1e-6)
print("seconds", round(time.time() - started, 1))
for phase, seconds in sorted(utils.calculate_time_spent().items(), key=lambda item: -item[1]):
    print(f"  {phase}: {seconds:.1f}")
for group in ("inductor", "aot_autograd", "stats", "frames"):
    print(group, dict(utils.counters.get(group, {})))
