#!/usr/bin/env bash
# Not yet run (2026-12-06, fourth session: no GPU came); call 10b is its shorter cut.
# Issue 20, device call 10 (2026-12-06, fourth session), after two changes made from call 8's
# profile: the rounding regulariser summed per output channel (87% of the classifier's step was one
# unsplit kernel) and reconstruction's feature maps kept channels-last (depthwise convolutions on
# cuDNN's kernels, not PyTorch's own: 28% of features.2's step).
# 1. depthwise_layouts.py: the depthwise convolutions alone, both layouts.
# 2. brecq 2000 iterations on Gaussian batches (the data does not change the speed), contiguous
#    then channels-last: the whole-method ratio.
# 3. the whole MobileNetV2 `w4a8 genie brecq` command at the defaults, cold Inductor cache; compare
#    with call 6 (182.8 s Genie-D, 218.3 s brecq, 427 s whole, H100).
# Results are tarred under $OUT as they arrive (the device returns few files, no trap at its limit).
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps
RETURN_TO=$OUT; OUT=runs/c10; rm -rf "$OUT"; mkdir -p "$OUT"
keep() { tar cf "$RETURN_TO/c10.tar" --exclude="*.png" -C runs c10; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
( while sleep 20; do keep; done ) &
python3 benchmarks/results/h200-speed/depthwise_layouts.py --device cuda 2>&1 | tee $OUT/depthwise.txt
for L in contiguous channels_last; do
  TORCHINDUCTOR_CACHE_DIR=/tmp/ind-gauss timeout 150 python3 benchmarks/results/h200-speed/layout_trial.py $L \
    --model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator gaussian \
    --method brecq --method-arg iterations=2000 --device cuda --no-cache --save-model $OUT/gauss-$L.safetensors \
    > $OUT/gauss-$L.txt 2> $OUT/gauss-$L.log
  echo "$L rc $? elapsed $SECONDS s"; grep -a "units in\|seconds" $OUT/gauss-$L.log | cut -c1-200
done
keep
# Step 3 runs in whichever layout step 2 found faster.
secs() { grep -a "units in" $OUT/gauss-$1.log | sed 's/.*units in \([0-9.]*\) s.*/\1/'; }
BEST=$(python3 -c "import sys; a, b = (float(x or 1e9) for x in sys.argv[1:]); print('contiguous' if a < b else 'channels_last')" "$(secs contiguous)" "$(secs channels_last)")
echo "step 3 layout: $BEST"
TORCHINDUCTOR_CACHE_DIR=/tmp/ind-mnv2 timeout $((585 - SECONDS)) python3 -m benchmarks.pipeline_speed --via "benchmarks/results/h200-speed/layout_trial.py $BEST" --out $OUT/mnv2 --label mobilenet_v2-w4a8-genie-brecq -- \
  --model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 \
  --generator genie --method brecq --device cuda --save-model $OUT/mnv2/mobilenet_v2-w4a8-genie-brecq.safetensors
echo "rc $?"
keep
grep -a "units in\|generated\|seconds\|compiling\|rror" $OUT/mnv2/*.log | cut -c1-250
grep -a "^brecq [0-9]*/" $OUT/mnv2/*.log | cut -c1-160
head -12 $OUT/mnv2/pipeline_speed.md 2>/dev/null
echo "elapsed $SECONDS s"
