#!/usr/bin/env bash
# Issue 20, device call 2 (one H200): the Genie-D step profiled; brecq 500 iterations with the
# fake-quant chains compiled and not (DFQ_COMPILE=0); zeroq and gdfq after. Carried: .assets, .pydeps.
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps
W=.assets/weights
python3 benchmarks/results/h200-profile-genie.py $W/mobilenet_v2-b0353104.pth > $OUT/profile-genie.txt 2>&1
for c in 1 0; do
  /usr/bin/time -f "%e s wall" env DFQ_COMPILE=$c python3 main.py --model mobilenet_v2 --weights-dir $W --data .assets/val-tiny \
    --scheme w4a8 --method brecq --method-arg iterations=500 --num-samples 256 --device cuda > /dev/null 2> $OUT/brecq-compile$c.log
  grep -a "units in\|top-1\|Error\|error" $OUT/brecq-compile$c.log | tail -4
done
python3 -m benchmarks.generation_speed --out $OUT/gen --models mobilenet_v2,shufflenet_v2_x1_0 --generators zeroq,gdfq \
  --weights-dir $W --label after 2> $OUT/gen-after.log
cat $OUT/gen/*.md
grep -a -B2 -A26 "== auto" $OUT/profile-genie.txt | cut -c1-200
