#!/usr/bin/env bash
# Issue 20, device call 4 (one H200): the whole w4a8 genie brecq command for MobileNetV2 at the
# defaults, with the sub-pixel Genie-D generator and the reconstruction chains compiled without
# duck sizing; the artifact comes back for evaluation on the shared images elsewhere.
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps
python3 -m benchmarks.pipeline_speed --out $OUT/pipe --label mnv2-w4a8-genie-brecq -- --model mobilenet_v2 \
  --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator genie --method brecq --device cuda \
  --save-model $OUT/pipe/mnv2-w4a8-genie-brecq.safetensors
grep -a "units in\|generated\|top-1\|note" $OUT/pipe/*.log | cut -c1-250
grep -a -o "brecq [0-9]*/20 [a-z0-9._]*: [0-9.]* s" $OUT/pipe/*.log | awk '{printf "%s %s | ", $3, $4} END {print ""}'
