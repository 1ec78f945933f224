#!/usr/bin/env bash
# Issue 20, device call 13b (written 2026-12-07, sixth session; not yet run): Genie-D's step with
# shape-generic kernels against the kit's static ones, each on a fresh Inductor cache (cold) and
# again on it (warm): the first step's seconds (compiling, or loading what was compiled), the ms a
# step, and compile_report's phases and kernel counts. MobileNetV2, 512 images (2 batches of 256,
# 200 steps), --method rtn. About 450 s. MODES="combo static" (or all three, about 650 s: split
# over two calls) tries Inductor's combo kernels instead.
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps
RETURN_TO=$OUT; OUT=runs/c13b; rm -rf "$OUT"; mkdir -p "$OUT"
keep() { tar cf "$RETURN_TO/c13b.tar" -C runs c13b; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
( while sleep 20; do keep; done ) & packer=$!
MNV2="--model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator genie
  --num-samples 512 --device cuda --method rtn --no-cache"
for mode in ${MODES:-dynamic static}; do
  for cache in cold warm; do
    TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c13b-$mode timeout $((590 - SECONDS)) python3 \
      benchmarks/results/h200-speed/genie_dynamic_trial.py $mode $MNV2 > $OUT/$mode-$cache.txt \
      2> >(stdbuf -oL tr '\r' '\n' | grep --line-buffered -av "loss\|^\s*$" > $OUT/$mode-$cache.log)
    echo "$mode $cache rc $? at $SECONDS s"
    sleep 1; grep -a "genie batch\|seconds:\|compile report:  \|counters\[inductor\]" $OUT/$mode-$cache.log | cut -c1-250
  done
done
kill $packer; keep
echo "elapsed $SECONDS s"
