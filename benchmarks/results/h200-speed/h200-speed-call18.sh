#!/usr/bin/env bash
# Issue 20, device call 18 (written 2026-12-07, eighth session): Genie-D with compiled="kernels"
# (now the default) and its steps replayed as a CUDA graph (three eager steps, a capture, then
# replays; the swing's shifts read from the device as a one-hot depthwise convolution). Call 14
# measured the same kernels with eager steps: 104-124 ms a MobileNetV2 step at batch 256, GPU busy
# 65% of the time. MobileNetV2 alone, LIMIT seconds (default 80): 512 images (two batches of 256),
# round to nearest, fresh Triton cache. Says whether the capture worked ("note: CUDA graph capture
# failed" otherwise) and the ms a step.
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps TRITON_CACHE_DIR=/tmp/triton-c18
rm -rf /tmp/triton-c18
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
timeout ${LIMIT:-80} python3 main.py --model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny \
  --scheme w4a8 --generator genie --num-samples ${SAMPLES:-512} --method rtn --device cuda --no-cache \
  2> >(stdbuf -oL tr '\r' '\n' | grep --line-buffered -a "genie\|note\|rror\|seconds\|top-1" | cut -c1-300) > /dev/null
echo "rc $? elapsed $SECONDS s"
