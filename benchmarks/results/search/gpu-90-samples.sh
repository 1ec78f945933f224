#!/usr/bin/env bash
# Issue 21 (thirteenth session, 2026-12-07): does more synthetic data close the 90% gap? MobileNetV2
# w4a8 on the papers' run's fixed 90% widths (gpu-90-papers-2026-12-07/model.layers.toml), brecq at
# the default 10,000 iterations, two runs side by side (their seconds are not speed figures):
#   A. Genie-D at the defaults (1,024 images): call 26's a-defaults again, for the CPU diagnostics;
#   B. Genie-D with --num-samples 2048 (seed 0 makes A's 1,024 and 1,024 more).
# B keeps its images (--reuse-synthetic); images 1,024-1,119, which A never saw, come back as
# heldout-{0,1}.safetensors (float16, 48 each) for data-free proxies measured on CPU.
# Carry .assets .pydeps. Then here: python -m benchmarks.evaluate_artifacts */model.safetensors --data ../shared/assets/imagenet/val
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps TORCHINDUCTOR_CACHE_DIR=/tmp/ind-p90s
LIMIT=${LIMIT:-590}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
mkdir -p runs/p90s/a-defaults runs/p90s/b-2048
COMMON="--model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator genie
  --device cuda --method brecq --layer-config benchmarks/results/search/gpu-90-papers-2026-12-07/model.layers.toml"
run() {  # label options...
  label=$1; shift
  timeout $((LIMIT - 40 - SECONDS)) python3 main.py $COMMON "$@" --save-model runs/p90s/$label/model.safetensors \
    > runs/p90s/$label/output.txt 2> >(stdbuf -oL tr '\r' '\n' | grep --line-buffered -av "loss\|^\s*$" > runs/p90s/$label/log.txt)
  echo "$label rc $? at $SECONDS s"
  cp runs/p90s/$label/model.safetensors "$OUT/$label.safetensors"
}
run a-defaults --no-cache & a=$!
run b-2048 --num-samples 2048 --reuse-synthetic --cache-dir runs/cache & b=$!
wait $a $b
python3 - <<'PY'
import glob, os
from safetensors.torch import load_file, save_file
import torch
path, = glob.glob("runs/cache/synthetic/synthetic-*.safetensors")
tensors = load_file(path)
images = torch.cat([tensors[k] for k in sorted(tensors)])
print("cached images", tuple(images.shape))
held = images[1024:1120].to(torch.float16).contiguous()
for i in range(2):
    save_file({"images": held[48 * i:48 * (i + 1)].contiguous()}, os.path.join(os.environ["OUT"], f"heldout-{i}.safetensors"))
PY
tar czf "$OUT/logs.tgz" runs/p90s
grep -ah "genie batch\|units in\|seconds:\|compression" runs/p90s/*/log.txt | cut -c1-200
echo "elapsed $SECONDS s"
