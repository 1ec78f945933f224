#!/usr/bin/env bash
# Issue 20, device call 18 (written 2026-12-07, eighth session; not yet run): Genie-D with
# compiled="kernels" (the default since then) and its steps replayed as a CUDA graph (three eager
# steps, a capture, replays; the swing's shifts read from the device as a one-hot depthwise
# convolution). Call 14 measured the same kernels with eager steps: 104-124 ms a MobileNetV2 step at
# batch 256, the GPU busy 65% of the time. About 420 s:
# 1. the GPU test of graphed against eager steps (tests/synth/test_genie_compiled.py);
# 2. genie_kernels_profile.py: 100 steps graphed, eager, graphed again (ms a step), then where an
#    eager step's GPU time goes, by kernel;
# 3. if at least 300 s are left: MobileNetV2's whole `w4a8 genie brecq` command at the defaults,
#    fresh caches, artifact kept (top-1 on the CPU machine:
#    python -m benchmarks.evaluate_artifacts runs/c18/mnv2-w4a8-genie-brecq.safetensors --data ../shared/assets/imagenet/val).
# Tarred under $OUT every 20 s.
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c18 TRITON_CACHE_DIR=/tmp/triton-c18
RETURN_TO=$OUT; OUT=runs/c18; rm -rf "$OUT" /tmp/ind-c18 /tmp/triton-c18; mkdir -p "$OUT"
keep() { tar cf "$RETURN_TO/c18.tar" --exclude="*.png" -C runs c18; }
LIMIT=${LIMIT:-590}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
( while sleep 20; do keep; done ) & packer=$!
timeout 90 python3 -m pytest -q -p no:cacheprovider tests/synth/test_genie_compiled.py > $OUT/gpu-tests.txt 2>&1
echo "gpu tests rc $? at $SECONDS s"; tail -3 $OUT/gpu-tests.txt
timeout 150 python3 benchmarks/results/h200-speed/genie_kernels_profile.py .assets/weights 100 > $OUT/profile.txt 2>&1
echo "profile rc $? at $SECONDS s"; grep -a "DFQ_CUDA_GRAPHS\|note\|Error" $OUT/profile.txt | cut -c1-200
grep -a -A36 "Name" $OUT/profile.txt | cut -c1-200 | head -40; keep
if [ $((LIMIT - SECONDS)) -ge 300 ]; then
  timeout $((LIMIT - SECONDS)) python3 -m benchmarks.pipeline_speed --out $OUT --label mnv2 -- --model mobilenet_v2 \
    --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator genie --method brecq \
    --device cuda --no-cache --save-model $OUT/mnv2-w4a8-genie-brecq.safetensors
  echo "mnv2 rc $? at $SECONDS s"
  grep -a "genie batch\|units in\|seconds:\|top-1\|note\|Error" $OUT/mnv2.log | cut -c1-220
fi
kill $packer; keep
tail -4 $OUT/pipeline_speed.md 2>/dev/null
echo "elapsed $SECONDS s"
