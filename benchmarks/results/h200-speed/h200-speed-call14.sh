#!/usr/bin/env bash
# Issue 20, device call 14 (written 2026-12-07, seventh session; not yet run): Genie-D with
# compiled="layers" (synth/_fused_bn.py), after call 13's run of it ran out of GPU memory (record
# hooks kept every step's feature maps; mended). Call 13 still measured its compiling on an H100:
# 2 graphs (forward and backward each), 56 s cold, and 38 s warm, of which
# PyCodeCache.load_by_key_path took 35.8 s for about 64 kernels; the whole step's warm load took
# 33.4 s for 726, and on a cold cache that load took only 1.9-7.8 s (call 11). So the warm cost is
# not per kernel. Is it kernels loaded one by one in this process while Inductor's worker pool is
# still starting? Neither per-kernel loading nor waiting on the pool shows among torch.compile's
# timed phases, so two warm runs on the same cache answer it: the pool started and awaited before
# main.py (pool_first.py), and the plain warm run under cProfile (cprofile_report.py).
# 1. MobileNetV2 Genie-D alone (1,024 images, --method rtn), fresh Inductor cache.  2. Warm.
# 3. Warm, pool first (512 images).  4. Warm under cProfile (512 images).
# 5. If at least 330 s are left: MobileNetV2's whole `w4a8 genie brecq` command, compiled=layers,
#    warm, pool first if that was faster, artifact kept (top-1 on the CPU machine:
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
speed layers-cold 170 "$REPORT" "" $MNV2 --method rtn; keep
speed layers-warm 130 "$REPORT" "" $MNV2 --method rtn; keep
speed layers-warm-pool-first 100 "$FIRST" "" $MNV2 --method rtn --num-samples 512; keep
speed layers-warm-cprofile 100 benchmarks/results/h200-speed/cprofile_report.py "" $MNV2 --method rtn --num-samples 512
grep -a "cprofile" $OUT/layers-warm-cprofile.log | head -60 | cut -c1-200; keep
first() { python3 -c "import json; print([r for r in json.load(open('$OUT/pipeline_speed.json'))
  if r['label'] == '$1'][0]['generator_batches'][0]['first_s'])" 2>/dev/null || echo 999; }
via=$REPORT
wait_s=$(grep -ao "compile workers ready in [0-9.]*" $OUT/layers-warm-pool-first.log | grep -o "[0-9.]*$" || echo 999)
python3 -c "import sys; sys.exit(0 if float('$(first layers-warm-pool-first)') + float('$wait_s') < float('$(first layers-warm)') else 1)" \
  && via=$FIRST
if [ $((590 - SECONDS)) -ge 330 ]; then
  echo "whole command via $via"
  speed layers-brecq $((590 - SECONDS)) "$via" "" $MNV2 --method brecq --save-model $OUT/mnv2-layers-brecq.safetensors
fi
kill $packer; keep
tail -9 $OUT/pipeline_speed.md
echo "elapsed $SECONDS s"
