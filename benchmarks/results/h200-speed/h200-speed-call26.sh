#!/usr/bin/env bash
# Device call 26 (twelfth session), about 580 s, two parts:
# 1. Issue 20: the exact runtime's cold evaluation before and after its Triton kernels stopped
#    specializing on sizes, padding and steps and the self-check took the models' shapes (23
#    compilations for MobileNetV2 before, 12 after: cpu_exact_kernel_variants.py). Each tree
#    (/tmp/old: this tree with .assets/c26/old's two files; this tree) evaluates call 25's
#    MobileNetV2 artifact on 13 images with fresh Triton and Inductor caches, then again warm
#    (exact_eval_cold.py, one JSON line each).
# 2. Issue 21: benchmarks/results/search/gpu-90-variants.sh with VARIANT="--gen-arg iterations=800"
#    (Genie-D at 4x its steps against the defaults, MobileNetV2 at the 90% widths, brecq 10,000,
#    side by side) in the time left.
# Carry .assets (with c26/) and .pydeps. .assets/c26 was made here with:
#   mkdir -p .assets/c26/old; for f in triton_kernels exact_kernels; do
#     git show f6e8368:challenge/quant/$f.py > .assets/c26/old/$f.py; done
#   cp runs/c25/mnv2-cold-w4a8-genie-brecq.safetensors .assets/c26/mnv2.safetensors   # call 25's artifact
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps
RETURN_TO=$OUT; mkdir -p runs/c26
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee runs/c26/gpu.txt
mkdir -p /tmp/old && cp -r challenge benchmarks main.py /tmp/old/ && ln -s "$PWD/.assets" /tmp/old/.assets
cp .assets/c26/old/triton_kernels.py .assets/c26/old/exact_kernels.py /tmp/old/challenge/quant/
for tree in /tmp/old "$PWD"; do
  name=$(basename "$tree")
  for cache in cold warm; do
    TRITON_CACHE_DIR=/tmp/triton-c26-$name TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c26-$name timeout 120 \
      python3 "$tree/benchmarks/results/h200-speed/exact_eval_cold.py" .assets/c26/mnv2.safetensors \
      --data .assets/val-tiny 2> runs/c26/eval-$name-$cache.log | sed "s/^/$name $cache: /" | tee -a runs/c26/eval.txt
  done
done
echo "eval part done at $SECONDS s"; cp runs/c26/eval.txt "$RETURN_TO/"
OUT=$RETURN_TO LIMIT=$((585 - SECONDS)) VARIANT="--gen-arg iterations=800" bash benchmarks/results/search/gpu-90-variants.sh
echo "elapsed $SECONDS s"
