#!/usr/bin/env bash
# Issue 20, device call 6 (2026-12-06): the whole w4a8 genie brecq command for MobileNetV2 at the
# final defaults (Genie-D compiled, bf16 on the GPU; brecq's chains compiled), on a cold Inductor
# cache as a new user meets it; then Genie-D again on the now warm cache; then, in the time left,
# the ShuffleNetV2 stand-in's Genie-D step eager and compiled. Carried: .assets, .pydeps.
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps
W=.assets/weights
G=benchmarks/results/h200-speed/genie_batches.py
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -m benchmarks.pipeline_speed --out $OUT/pipe --label mnv2-w4a8-genie-brecq -- --model mobilenet_v2 \
  --weights-dir $W --data .assets/val-tiny --scheme w4a8 --generator genie --method brecq --device cuda \
  --save-model $OUT/pipe/mnv2-w4a8-genie-brecq.safetensors
grep -a "units in\|generated\|seconds\|compiling\|rror" $OUT/pipe/*.log | cut -c1-250
grep -a -o "brecq [0-9]*/20 [a-z0-9._]*: [0-9.]* s" $OUT/pipe/*.log | awk '{printf "%s %s | ", $3, $4} END {print ""}'
cat $OUT/pipe/pipeline_speed.md 2>/dev/null | head -30
echo "elapsed $SECONDS s"
timeout 100 python3 $G mobilenet_v2 $W 512 40 auto 2>&1 | grep -a "genie\|rror" | tail -3
echo "elapsed $SECONDS s"
left=$((560 - SECONDS))
if [ $left -gt 60 ]; then
  DFQ_COMPILE=0 timeout 40 python3 $G shufflenet_v2_x1_0 .assets/nette-w 512 40 fp32 2>&1 | grep -a "genie\|rror" | tail -3
  left=$((570 - SECONDS))
  timeout $left python3 $G shufflenet_v2_x1_0 .assets/nette-w 512 40 auto 2>&1 | grep -a "genie\|rror" | tail -3
fi
echo "elapsed $SECONDS s"
