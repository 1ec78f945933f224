"""Issue 20: where the seconds of compiling Genie-D go, on a cold and then a warm Inductor cache, on
the CPU (Inductor's C++ backend): MobileNetV2 (10 classes) at 32 px, two steps of 4 images.
  step   (sixth session): the whole step compiled, as the kit does on a GPU: 154 s cold, 9.4 s warm.
  layers (seventh session): compiled="layers", each BatchNorm's work one function compiled with
         dynamic shapes (synth/_fused_bn.py; the kit compiles it on CUDA only, forced here):
         25.5 s cold, 2.5 s warm, 2 frames.
Run it twice with the same fresh cache folder:
TORCHINDUCTOR_CACHE_DIR=/tmp/ind-warm python benchmarks/results/h200-speed/cpu_genie_compile_phases.py step|layers
"layers" was removed from the kit in the eighth session (Triton kernels replaced it): that mode
runs only at commit 6b27b89 or before."""
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

mode = sys.argv[1] if len(sys.argv) > 1 else "step"
if mode not in ("step", "layers"):
    sys.exit(f"error: the argument is step or layers, not {mode!r}")
if mode == "layers":
    dynamic_settings()
    fused_bn._normalise_and_match_compiled = torch.compile(fused_bn._normalise_and_match, dynamic=True)
torch.manual_seed(0)
model = torchvision.models.mobilenet_v2(num_classes=10).eval()
started = time.time()
settings = {"backend": "inductor"} if mode == "step" else {"compiled": "layers"}
with genie.Distiller(model, 1, "fp32", **settings) as distiller:
    distiller.batch(4, batch_size=4, input_shape=(3, 32, 32), seed=0, iterations=2, lr_latent=0.1,
                    lr_generator=0.01, decay=0.95, patience=100, min_lr=1e-4, latent_dim=16, eps=1e-6)
print("seconds", round(time.time() - started, 1))
for phase, seconds in sorted(utils.calculate_time_spent().items(), key=lambda item: -item[1]):
    print(f"  {phase}: {seconds:.1f}")
for group in ("inductor", "aot_autograd", "stats", "frames"):
    print(group, dict(utils.counters.get(group, {})))
print(utils.compile_times(repr="str", aggregate=True))
