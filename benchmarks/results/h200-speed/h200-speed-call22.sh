#!/usr/bin/env bash
# Issue 20, device call 22 (written 2026-12-07, tenth session, when no machine came; run in the
# eleventh session on branch per-row-step-grad, main plus 22f09c4, which re-applies 37b5e9d):
# besides call 21's changes, the activation chain's step-size gradient is summed per pixel
# row (call 21's profile: in the 112x112 blocks the chain's backward was a pointwise kernel plus a
# reduction to one number reading x, the gradient and the mask again). About 480 s:
# 1. MobileNetV2's whole `w4a8 genie brecq` command at the defaults, fresh caches, artifact kept;
# 2. profile_brecq_units.py: features.2 and features.10, 50 replayed steps and 5 eager steps
#    whose operators are grouped by input shapes (MobileNetV2 w4a8, Gaussian 256 images, brecq 300
#    iterations; warm caches);
# 3. if at least 200 s are left: the ShuffleNetV2 stand-in's whole command, fresh caches, artifact kept.
# Top-1 on the CPU machine: python -m benchmarks.evaluate_artifacts runs/c22/A.safetensors
# (--data ../shared/assets/imagenet/val for MobileNetV2). Tarred under $OUT every 20 s.
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c22 TRITON_CACHE_DIR=/tmp/triton-c22
RETURN_TO=$OUT; OUT=runs/c22; rm -rf "$OUT" /tmp/ind-c22* /tmp/triton-c22*; mkdir -p "$OUT"
keep() { tar cf "$RETURN_TO/c22.tar" --exclude="*.png" -C runs c22; }
LIMIT=${LIMIT:-590}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
( while sleep 20; do keep; done ) & packer=$!
timeout $((LIMIT - SECONDS - 40)) python3 -m benchmarks.pipeline_speed --out $OUT --label mnv2 -- --model mobilenet_v2 \
  --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator genie --method brecq \
  --device cuda --no-cache --save-model $OUT/mnv2-w4a8-genie-brecq.safetensors
echo "mnv2 rc $? at $SECONDS s"
grep -a "genie batch\|brecq .*/20\|units in\|seconds:\|top-1\|note\|Error" $OUT/mnv2.log | cut -c1-160; keep
timeout $((LIMIT - SECONDS < 70 ? LIMIT - SECONDS : 70)) python3 benchmarks/results/h200-speed/profile_brecq_units.py \
  features.2,features.10 --model mobilenet_v2 --weights-dir .assets/weights \
  --data .assets/val-tiny --scheme w4a8 --generator gaussian --num-samples 256 --method brecq \
  --method-arg iterations=300 --device cuda --no-cache > $OUT/profile.txt 2> $OUT/profile.log
echo "profile rc $? at $SECONDS s"; grep -a -A14 "== profile\|== operators" $OUT/profile.log | cut -c1-100,190-260; keep
if [ $((LIMIT - SECONDS)) -ge 200 ]; then
  TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c22-s TRITON_CACHE_DIR=/tmp/triton-c22-s timeout $((LIMIT - SECONDS)) \
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
