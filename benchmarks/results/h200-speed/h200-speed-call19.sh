#!/usr/bin/env bash
# Issue 20, device call 19 (written 2026-12-07, ninth session): Genie-D after call 18's profile.
# Call 18 found an eager MobileNetV2 step (102.7 ms at batch 256, bf16, the GPU busy) spending
# 43 ms in the generator's BatchNorms (channels-first kernels, one thread block per channel),
# 8.7 ms in reflection pads and 18 ms in layout copies, and its CUDA-graph replay slower (114 ms).
# Now the generator runs channels-last (synth/_subpixel.py) and the swing shifts by reflected
# windows in the map's layout (synth/_reflect_window.py). And brecq's step launches fewer
# kernels: QDrop's draws made inside the fused chains, the loss fused, the schedules' products
# precomputed (challenge/quant/methods/_fused.py, _trainer.py). About 560 s:
# 1. GPU tests: graphed against eager steps (cuDNN deterministic), the new windows, and QDrop's
#    in-kernel draws drawing anew at every replay of a captured step;
# 2. genie_kernels_profile.py: 100 steps graphed, eager, graphed again (ms a step), then an eager
#    step's GPU time by kernel;
# 3. if at least 280 s are left: MobileNetV2's whole `w4a8 genie brecq` command at the defaults,
#    fresh caches, artifact kept (top-1 on the CPU machine:
#    python -m benchmarks.evaluate_artifacts runs/c19/mnv2-w4a8-genie-brecq.safetensors --data ../shared/assets/imagenet/val);
# 4. if at least 200 s are left: the ShuffleNetV2 stand-in's whole command (top-1 here:
#    python -m benchmarks.evaluate_artifacts runs/c19/shufflenet_v2_x1_0-w4a8-genie-brecq.safetensors).
# Tarred under $OUT every 20 s.
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c19 TRITON_CACHE_DIR=/tmp/triton-c19
RETURN_TO=$OUT; OUT=runs/c19; rm -rf "$OUT" /tmp/ind-c19 /tmp/triton-c19; mkdir -p "$OUT"
keep() { tar cf "$RETURN_TO/c19.tar" --exclude="*.png" -C runs c19; }
LIMIT=${LIMIT:-590}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
( while sleep 20; do keep; done ) & packer=$!
timeout 100 python3 -m pytest -q -p no:cacheprovider tests/synth/test_genie_compiled.py tests/synth/test_reflect_window.py \
  tests/synth/test_precision.py tests/challenge/test_fused.py > $OUT/gpu-tests.txt 2>&1
echo "gpu tests rc $? at $SECONDS s"; grep -a "passed\|failed\|Error\|assert" $OUT/gpu-tests.txt | head -8
timeout 150 python3 benchmarks/results/h200-speed/genie_kernels_profile.py .assets/weights 100 > $OUT/profile.txt 2>&1
echo "profile rc $? at $SECONDS s"; grep -a "DFQ_CUDA_GRAPHS\|note\|Error" $OUT/profile.txt | cut -c1-200
grep -a -A30 "Name" $OUT/profile.txt | cut -c1-120 | head -34; grep -a "Self CUDA time total" $OUT/profile.txt; keep
if [ $((LIMIT - SECONDS)) -ge 280 ]; then
  timeout $((LIMIT - SECONDS)) python3 -m benchmarks.pipeline_speed --out $OUT --label mnv2 -- --model mobilenet_v2 \
    --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator genie --method brecq \
    --device cuda --no-cache --save-model $OUT/mnv2-w4a8-genie-brecq.safetensors
  echo "mnv2 rc $? at $SECONDS s"
  grep -a "genie batch\|units in\|seconds:\|top-1\|note\|Error" $OUT/mnv2.log | cut -c1-220
fi
if [ $((LIMIT - SECONDS)) -ge 200 ]; then
  TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c19-s TRITON_CACHE_DIR=/tmp/triton-c19-s timeout $((LIMIT - SECONDS)) \
    python3 -m benchmarks.pipeline_speed --out $OUT --label shufflenet -- --model shufflenet_v2_x1_0 \
    --weights-dir .assets/nette-w --classes .assets/nette-tiny/wnids.txt --data .assets/nette-tiny --scheme w4a8 \
    --generator genie --method brecq --device cuda --no-cache \
    --save-model $OUT/shufflenet_v2_x1_0-w4a8-genie-brecq.safetensors
  echo "shufflenet rc $? at $SECONDS s"
  grep -a "genie batch\|units in\|seconds:\|top-1\|Error" $OUT/shufflenet.log | cut -c1-220
fi
kill $packer; keep
tail -3 $OUT/pipeline_speed.md 2>/dev/null
echo "elapsed $SECONDS s"
