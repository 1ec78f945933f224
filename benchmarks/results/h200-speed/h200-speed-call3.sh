#!/usr/bin/env bash
# Issue 20, device call 3 (one H200): Genie-D per step with the host-offset swing and statistics
# without a float32 copy (one batch of 256, bf16 and fp32); brecq 500 iterations compiled (one graph
# per chain) and not; then, if the compiled run worked, the whole w4a8 genie brecq command.
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps
W=.assets/weights
python3 -m benchmarks.generation_speed --out $OUT/gen --models mobilenet_v2 --generators genie --precisions auto,fp32 \
  --gen-arg genie.num_samples=256 --weights-dir $W --label step 2> $OUT/gen-step.log
cat $OUT/gen/generation_speed-step.md
for c in 1 0; do
  /usr/bin/time -f "%e s wall" env DFQ_COMPILE=$c python3 main.py --model mobilenet_v2 --weights-dir $W --data .assets/val-tiny \
    --scheme w4a8 --method brecq --method-arg iterations=500 --num-samples 256 --device cuda > /dev/null 2> $OUT/brecq-compile$c.log
  grep -a "units in\|wall\|Error" $OUT/brecq-compile$c.log | tail -3
done
if grep -q "units in" $OUT/brecq-compile1.log; then
  python3 -m benchmarks.pipeline_speed --out $OUT/pipe --label mnv2-w4a8-genie-brecq -- --model mobilenet_v2 --weights-dir $W \
    --data .assets/val-tiny --scheme w4a8 --generator genie --method brecq --device cuda --save-model $OUT/pipe/mnv2-w4a8-genie-brecq.safetensors
fi
