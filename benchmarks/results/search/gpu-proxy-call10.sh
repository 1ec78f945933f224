#!/usr/bin/env bash
# Issue 21, device call 10 (2026-12-06, second session): does the reconstruction-aware search proxy
# (adaround-kl) pick better widths than kl at 90% compression? MobileNetV2, w4a8's 8-bit
# activations, Genie-D images at the defaults made once (the first run keeps them:
# --reuse-synthetic) and read back by the others; brecq at 5,000 iterations (half the default,
# to fit one call). The artifacts come back and are scored on this side's 1,211 shared images.
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
COMMON="--model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --target-compression 90 --generator genie --device cuda --reuse-synthetic --cache-dir runs/cache"
one() {  # label timeout options...
  label=$1; seconds=$2; shift 2
  mkdir -p $OUT/$label
  timeout $seconds python3 main.py $COMMON --save-model $OUT/$label/model.safetensors "$@" > $OUT/$label/output.txt 2> $OUT/$label/log.txt
  echo "$label rc $? at $SECONDS s"
}
one rtn-90-kl 300 --method rtn
grep -a "generated\|kept\|seconds\|search\|predicted\|rror" $OUT/rtn-90-kl/log.txt | cut -c1-220 | tail -8
left=$((575 - SECONDS))
one brecq5000-90-kl $left --method brecq --method-arg iterations=5000 &
one brecq5000-90-adaround-kl $left --method brecq --method-arg iterations=5000 --search-arg proxy=adaround-kl &
wait
for label in brecq5000-90-kl brecq5000-90-adaround-kl; do
  echo "== $label"; grep -a "reused\|seconds\|search\|predicted\|units in\|rror" $OUT/$label/log.txt | cut -c1-220 | tail -8
done
echo "elapsed $SECONDS s"
