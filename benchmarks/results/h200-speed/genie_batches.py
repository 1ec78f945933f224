"""Genie-D batch by batch on a GPU (issue 20, 2026-12-06 calls): seconds for each batch of one run,
the first including compilation. Usage: python benchmarks/results/h200-speed/genie_batches.py
MODEL WEIGHTS_DIR SAMPLES ITERATIONS PRECISION (DFQ_COMPILE=0 for the eager step; GENIE_DYNAMIC=1
compiles the step with dynamic shapes, parameters' included: a trial of whether kernels shared
between layers compile faster)."""
import functools
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
import torch  # noqa: E402

import synth  # noqa: E402
from challenge.models import load_fp32_model  # noqa: E402

if os.environ.get("GENIE_DYNAMIC") == "1":
    import synth.genie
    from challenge.compiling import dynamic_settings

    dynamic_settings()
    synth.genie.torch.compile = functools.partial(torch.compile, dynamic=True)

name, weights_dir, samples, iterations, precision = sys.argv[1:6]
fp32 = load_fp32_model(name, weights_dir=weights_dir)
model = fp32.model.cuda()
start = last = time.perf_counter()
batches = synth.get_generator("genie")(model, num_classes=fp32.num_classes, num_samples=int(samples), batch_size=256,
                                        iterations=int(iterations), precision=precision)
for number, batch in enumerate(batches, 1):
    torch.cuda.synchronize()
    now = time.perf_counter()
    print(f"{name} genie {precision} batch {number}: {now - last:.1f} s ({(now - last) / int(iterations):.4f} s a step)",
          flush=True)
    last = now
print(f"{name} genie {precision}: {samples} images, {iterations} steps a batch, {last - start:.1f} s; "
      f"peak memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB", flush=True)
