#!/usr/bin/env bash
# Issue 20, device call 23 (eleventh session), on branch bias-in-chain: MobileNetV2's whole
# `w4a8 genie brecq` command at the defaults after call 22 (per-row step-size gradients, ShuffleNetV2's
# channel slices read per pixel, convolution biases added in the chains after them), and the
# time-quality curve of brecq's iterations toward the papers' 20,000 (BRECQ, QDrop) on the same
# Genie-D images (generated once at the defaults, then --reuse-synthetic). About 520 s:
# 1. iterations=10000 (the default), fresh caches, the images written to the synthetic cache;
# 2. iterations=20000, then 5000 if time is left, the same images. Artifacts kept.
# Top-1 on the CPU machine: python -m benchmarks.evaluate_artifacts runs/c23/mnv2-*.safetensors
#   --data ../shared/assets/imagenet/val. Tarred under $OUT every 20 s.
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c23 TRITON_CACHE_DIR=/tmp/triton-c23
RETURN_TO=$OUT; OUT=runs/c23; rm -rf "$OUT" /tmp/ind-c23* /tmp/triton-c23* /tmp/cache-c23; mkdir -p "$OUT"
keep() { tar cf "$RETURN_TO/c23.tar" --exclude="*.png" -C runs c23; }
LIMIT=${LIMIT:-590}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
( while sleep 20; do keep; done ) & packer=$!
for n in 10000 20000 5000; do
  left=$((LIMIT - SECONDS))
  [ $left -ge $((n * 135 / 10000 + 40)) ] || { echo "skipped iterations=$n: $left s left"; continue; }
  timeout $left python3 -m benchmarks.pipeline_speed --out $OUT --label mnv2-i$n -- --model mobilenet_v2 \
    --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator genie --method brecq \
    --method-arg iterations=$n --device cuda --cache-dir /tmp/cache-c23 --reuse-synthetic \
    --save-model $OUT/mnv2-w4a8-genie-brecq-i$n.safetensors
  echo "iterations=$n rc $? at $SECONDS s"
  grep -a "genie batch\|units in\|seconds:\|Error" $OUT/mnv2-i$n.log | cut -c1-200; keep
done
kill $packer; keep
tail -4 $OUT/pipeline_speed.md 2>/dev/null
echo "elapsed $SECONDS s"
