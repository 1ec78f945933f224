#!/usr/bin/env bash
# Issue 20, device call 14 (written 2026-12-07, seventh session; not yet run): Genie-D with
# compiled="layers" (synth/_fused_bn.py), after call 13's run of it ran out of GPU memory (record
# hooks kept every step's feature maps; mended). Call 13 still measured its compiling on an H100:
# 2 graphs (forward and backward each), 56 s cold, and 38 s warm, of which
# PyCodeCache.load_by_key_path took 35.8 s for about 64 kernels; the whole step's warm load took
# 33.4 s for 726, and on a cold cache that load took only 1.9-7.8 s (call 11). So the warm cost is
# not per kernel. Is it kernels loaded one by one in this process while Inductor's worker pool is
# still starting? Three warm runs on the same cache answer it:
#   default; pool_first.py (the pool started and awaited before main.py); one compile thread.
# 1. MobileNetV2 Genie-D alone (1,024 images, --method rtn), fresh Inductor cache.  2-4. Warm, as above.
# 5. MobileNetV2's whole `w4a8 genie brecq` command, compiled=layers, in the fastest warm setting,
#    artifact kept (top-1 on the CPU machine:
#    python -m benchmarks.evaluate_artifacts runs/c14/*.safetensors --data ../shared/assets/imagenet/val).
# Tarred under $OUT every 20 s.
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c14
RETURN_TO=$OUT; OUT=runs/c14; rm -rf "$OUT" /tmp/ind-c14; mkdir -p "$OUT"
keep() { tar cf "$RETURN_TO/c14.tar" --exclude="*.png" -C runs c14; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
nproc | tee $OUT/nproc.txt
( while sleep 20; do keep; done ) & packer=$!
REPORT=benchmarks/results/h200-speed/compile_report.py
FIRST="benchmarks/results/h200-speed/pool_first.py $REPORT"
speed() {  # label seconds via threads main.py options...
  label=$1; seconds=$2; via=$3; threads=$4; shift 4
  env ${threads:+TORCHINDUCTOR_COMPILE_THREADS=$threads} timeout $seconds \
    python3 -m benchmarks.pipeline_speed --via "$via" --out $OUT --label $label -- "$@"
  echo "$label rc $? elapsed $SECONDS s"
  grep -a "pool first\|genie batch\|units in\|seconds:\|top-1\|compile report:  \|counters\[inductor\]\|PyCodeCache\|Error" \
    $OUT/$label.log | cut -c1-220
}
MNV2="--model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator genie
  --gen-arg compiled=layers --device cuda --no-cache"
speed layers-cold 150 "$REPORT" "" $MNV2 --method rtn; keep
speed layers-warm 110 "$REPORT" "" $MNV2 --method rtn; keep
speed layers-warm-pool-first 110 "$FIRST" "" $MNV2 --method rtn; keep
speed layers-warm-1thread 110 "$REPORT" 1 $MNV2 --method rtn; keep
generate() { python3 -c "import json; print([r for r in json.load(open('$OUT/pipeline_speed.json'))
  if r['label'] == '$1'][0]['wall_seconds'])" 2>/dev/null || echo 999; }
best=$(python3 -c "w = {'default': float('$(generate layers-warm)'), 'pool': float('$(generate layers-warm-pool-first)'),
  'one': float('$(generate layers-warm-1thread)')}; print(min(w, key=w.get))")
via=$REPORT; threads=""
[ "$best" = pool ] && via=$FIRST
[ "$best" = one ] && threads=1
echo "whole command with the $best warm setting"
speed layers-brecq $((590 - SECONDS)) "$via" "$threads" $MNV2 --method brecq --save-model $OUT/mnv2-layers-brecq.safetensors
kill $packer; keep
tail -9 $OUT/pipeline_speed.md
echo "elapsed $SECONDS s"
