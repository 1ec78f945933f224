#!/usr/bin/env bash
# Issue 21 (fourteenth session, 2026-12-07; not run: no device time was left). Call 29
# (gpu-90-grid.sh) measured weight-grid-full.patch with brecq 10,000 at the papers' fixed 90% widths:
# 77.37 against the symmetric grid's 78.28. The patch makes two changes; this call tells which one
# loses under reconstruction, at the same fixed widths, Genie-D images and brecq 10,000, one after
# the other on the same tree (B reads A's images back: the generator does not depend on either):
#   A. weight-grid-only.patch: every b-bit code a level below 8 bits, clipping by squared error as before;
#   B. sum-clipping.patch: the symmetric grid, clipping by squared error plus squared summed error.
# Carry .assets/weights .assets/val-tiny .pydeps. Then here, each in a tree with its patch applied
# (the grid-only artifact needs kit 1.1.0 to load):
#   python -m benchmarks.evaluate_artifacts a-grid.safetensors --data ../shared/assets/imagenet/val
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps TORCHINDUCTOR_CACHE_DIR=/tmp/ind-p90s
LIMIT=${LIMIT:-590}
D=benchmarks/results/search
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
mkdir -p runs/p90s/a-grid runs/p90s/b-clip
COMMON="--model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator genie
  --device cuda --cache-dir runs/cache --reuse-synthetic --method brecq
  --layer-config $D/gpu-90-papers-2026-12-07/model.layers.toml $EXTRA"
run() {  # label patch
  label=$1 patch=$2
  patch -p1 -N < $D/$patch || git apply $D/$patch || { echo "could not apply $patch"; return 1; }
  timeout $((LIMIT - 10 - SECONDS)) python3 main.py $COMMON --save-model runs/p90s/$label/model.safetensors \
    > runs/p90s/$label/output.txt 2> >(stdbuf -oL tr '\r' '\n' | grep --line-buffered -av "loss\|^\s*$" > runs/p90s/$label/log.txt)
  echo "$label rc $? at $SECONDS s"
  patch -p1 -R < $D/$patch || git apply -R $D/$patch
  cp runs/p90s/$label/model.safetensors "$OUT/$label.safetensors"
  tar czf "$OUT/logs.tgz" --exclude='*.safetensors' runs/p90s
}
run a-grid weight-grid-only.patch
run b-clip sum-clipping.patch
grep -ah "genie batch\|units in\|seconds:\|compression" runs/p90s/*/log.txt | cut -c1-200
echo "elapsed $SECONDS s"
