#!/usr/bin/env bash
# Issue 20, device call 10b (2026-12-06, fourth session): call 10 cut to the few device minutes
# left after the failed starts. 1. the depthwise convolutions alone, both layouts; 2. brecq 2,000
# iterations on Gaussian batches (the data does not change the speed), contiguous then
# channels-last; 3. brecq at the default 10,000 iterations, channels-last, on Gaussian batches:
# the reconstruct stage to compare with call 6's 218.3 s (per-unit seconds are logged as they
# finish, so a cut run still says where it got). Tarred under $OUT every 15 s. Written after the
# activation quantizer was made to keep channels-last maps (67c2a69); not yet run (no GPU came).
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps
RETURN_TO=$OUT; OUT=runs/c10; rm -rf "$OUT"; mkdir -p "$OUT"
keep() { tar cf "$RETURN_TO/c10.tar" --exclude="*.png" -C runs c10; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
( while sleep 15; do keep; done ) &
python3 benchmarks/results/h200-speed/depthwise_layouts.py --device cuda 2>&1 | tee $OUT/depthwise.txt
gauss() {  # layout iterations seconds
  TORCHINDUCTOR_CACHE_DIR=/tmp/ind-gauss timeout $3 python3 benchmarks/results/h200-speed/layout_trial.py $1 \
    --model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator gaussian \
    --method brecq --method-arg iterations=$2 --device cuda --no-cache > $OUT/gauss-$1-$2.txt 2> $OUT/gauss-$1-$2.log
  echo "$1 $2 rc $? elapsed $SECONDS s"; grep -a "units in\|seconds:" $OUT/gauss-$1-$2.log | cut -c1-200
}
gauss contiguous 2000 100
gauss channels_last 2000 100
keep
gauss channels_last 10000 400
keep
grep -a "^brecq [0-9]*/" $OUT/gauss-channels_last-10000.log | cut -c1-160
