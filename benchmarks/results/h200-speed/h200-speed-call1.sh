#!/usr/bin/env bash
# Issue 20, device call 1 (one H200): generator speed after (bf16, graphed) and before (the code at
# bf0ba1a unpacked in .before/, fewer steps: seconds a step), the fp32/bf16 Genie-D pair for quality,
# and a short brecq run with the compiled fake-quant chains. Carried: .assets (weights, 13 images), .before.
set -x
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch, torchvision, triton; print(torch.__version__, torchvision.__version__, triton.__version__)"
W=.assets/weights
# A short brecq first: does the compiled step capture? (ShuffleNetV2 stand-in, gaussian, 100 iterations)
python3 main.py --model shufflenet_v2_x1_0 --weights-dir $W --data .assets/nette-tiny --classes .assets/wnids.txt \
  --scheme w4a8 --method brecq --method-arg iterations=100 --num-samples 64 --device cuda > /dev/null 2> $OUT/brecq-check.log
tail -3 $OUT/brecq-check.log
python3 -m benchmarks.generation_speed --out $OUT/gen --models mobilenet_v2,shufflenet_v2_x1_0 --generators genie,zeroq,gdfq \
  --weights-dir $W --save-models mobilenet_v2 --label after
python3 -m benchmarks.generation_speed --out $OUT/gen --models mobilenet_v2,shufflenet_v2_x1_0 --generators genie,zeroq,gdfq \
  --code .before --gen-arg genie.iterations=50 --gen-arg genie.num_samples=256 --gen-arg zeroq.iterations=100 \
  --gen-arg gdfq.iterations=200 --weights-dir $W --label before
python3 -m benchmarks.generation_speed --out $OUT/gen --models mobilenet_v2 --generators genie --precisions fp32 \
  --weights-dir $W --save-models mobilenet_v2 --label fp32
cat $OUT/gen/*.md
tar -cf $OUT/gen-models.tar -C $OUT/gen models && rm -r $OUT/gen/models
