#!/usr/bin/env bash
# Issue 20, device call 15 (written 2026-12-07, seventh session; not yet run): what cuDNN's
# determinism costs. The kit sets cudnn.deterministic (challenge/process.py: the same command, the
# same output.txt); brecq's every step runs weight gradients through cuDNN (AdaRound learns the
# weights' rounding), where deterministic algorithms can be much slower.
# 1-2. MobileNetV2 brecq 2,000 iterations on Gaussian batches (no generator compile), cuDNN free,
#      then deterministic; the per-unit ms a step are what to compare (both on the same warm
#      Inductor cache after a first run compiles the chains: the first run is a warm-up, repeated).
# 3-4. Genie-D compiled=kernels, 512 images, free then deterministic (eager convolutions: input
#      gradients only).
# About 400 s. Tarred under $OUT every 20 s.
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c15
RETURN_TO=$OUT; OUT=runs/c15; rm -rf "$OUT"; mkdir -p "$OUT"
keep() { tar cf "$RETURN_TO/c15.tar" --exclude="*.png" -C runs c15; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
( while sleep 20; do keep; done ) & packer=$!
speed() {  # label seconds mode main.py options...
  label=$1; seconds=$2; mode=$3; shift 3
  timeout $seconds python3 -m benchmarks.pipeline_speed --via "benchmarks/results/h200-speed/cudnn_trial.py $mode" \
    --out $OUT --label $label -- "$@"
  echo "$label rc $? elapsed $SECONDS s"
  grep -a "cudnn\|genie batch\|brecq [0-9]*/\|units in\|seconds:\|Error" $OUT/$label.log | cut -c1-160
}
BRECQ="--model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator gaussian
  --device cuda --no-cache --method brecq --method-arg iterations=2000"
speed brecq-warmup 100 deterministic $BRECQ; keep
speed brecq-free 90 free $BRECQ; keep
speed brecq-deterministic 90 deterministic $BRECQ; keep
GENIE="--model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator genie
  --gen-arg compiled=kernels --num-samples 512 --device cuda --no-cache --method rtn"
speed genie-free 120 free $GENIE; keep
speed genie-deterministic $((590 - SECONDS)) deterministic $GENIE
kill $packer; keep
tail -7 $OUT/pipeline_speed.md
echo "elapsed $SECONDS s"
