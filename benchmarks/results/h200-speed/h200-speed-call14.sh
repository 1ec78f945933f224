#!/usr/bin/env bash
# Issue 20, device call 14 (written 2026-12-07, seventh session; not yet run): Genie-D with
# compiled="layers" (synth/_fused_bn.py), after call 13's run of it ran out of GPU memory (record
# hooks kept every step's feature maps; mended). Call 13 still measured its compiling on an H100:
# 2 graphs (fwd + bwd each), 56 s cold, and 38 s warm of which PyCodeCache.load_by_key_path took
# 35.8 s for about 64 kernels; the whole step's warm load took 33.4 s for 726. So the warm cost is
# not per kernel: is it Inductor's pool of compile worker processes starting? Hence the same runs
# with TORCHINDUCTOR_COMPILE_THREADS=1 (kernels compiled and loaded in this process).
# 1-2. MobileNetV2 Genie-D alone (1,024 images, --method rtn): fresh Inductor cache, then warm.
# 3-4. The same with one compile thread (its own fresh cache, then warm).
# 5. MobileNetV2's whole `w4a8 genie brecq` command, compiled=layers, on the faster warm setting's
#    cache, artifact kept (top-1 on the CPU machine:
#    python -m benchmarks.evaluate_artifacts runs/c14/*.safetensors --data ../shared/assets/imagenet/val).
# Tarred under $OUT every 20 s.
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps
RETURN_TO=$OUT; OUT=runs/c14; rm -rf "$OUT" /tmp/ind-c14-*; mkdir -p "$OUT"
keep() { tar cf "$RETURN_TO/c14.tar" --exclude="*.png" -C runs c14; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
nproc | tee $OUT/nproc.txt
( while sleep 20; do keep; done ) & packer=$!
speed() {  # label seconds cache threads main.py options...
  label=$1; seconds=$2; cache=$3; threads=$4; shift 4
  env TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c14-$cache ${threads:+TORCHINDUCTOR_COMPILE_THREADS=$threads} timeout $seconds \
    python3 -m benchmarks.pipeline_speed --via benchmarks/results/h200-speed/compile_report.py --out $OUT --label $label -- "$@"
  echo "$label rc $? elapsed $SECONDS s"
  grep -a "genie batch\|units in\|seconds:\|top-1\|compile report:  \|counters\[inductor\]\|PyCodeCache\|Error" $OUT/$label.log | cut -c1-220
}
MNV2="--model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator genie
  --gen-arg compiled=layers --device cuda --no-cache"
speed layers-cold 150 pool "" $MNV2 --method rtn; keep
speed layers-warm 120 pool "" $MNV2 --method rtn; keep
speed layers-1thread-cold 150 one 1 $MNV2 --method rtn; keep
speed layers-1thread-warm 120 one 1 $MNV2 --method rtn; keep
warm() { python3 -c "import json; print([r for r in json.load(open('$OUT/pipeline_speed.json'))
  if r['label'] == '$1'][0]['stages'].get('generate', 999))" 2>/dev/null || echo 999; }
best=pool; threads=""
python3 -c "import sys; sys.exit(0 if float('$(warm layers-1thread-warm)') < float('$(warm layers-warm)') else 1)" && best=one threads=1
echo "whole command on the $best cache"
speed layers-brecq $((590 - SECONDS)) $best "$threads" $MNV2 --method brecq --save-model $OUT/mnv2-layers-brecq.safetensors
kill $packer; keep
tail -9 $OUT/pipeline_speed.md
echo "elapsed $SECONDS s"
