#!/usr/bin/env bash
# Issue 20, device call 5 (2026-12-06): Genie-D with the whole step compiled (generator, teacher
# forward, statistics; swing as a one-hot stencil) against the eager step, MobileNetV2 at batch
# 256, two batches of 40 steps (the first includes compiling; fresh Inductor cache per run);
# then brecq 2,000 iterations on gaussian data to count the compile overhead after the
# recompilation fix. Carried: .assets (weights, images), .pydeps (progress).
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps
W=.assets/weights
G=benchmarks/results/h200-speed/genie_batches.py
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, torchvision, triton; print(torch.__version__, torchvision.__version__, triton.__version__)"
DFQ_COMPILE=0 timeout 60 python3 $G mobilenet_v2 $W 512 40 fp32 2>&1 | grep -a "genie\|Error"
TORCHINDUCTOR_CACHE_DIR=/tmp/ind-fp32 timeout 240 python3 $G mobilenet_v2 $W 512 40 fp32 2>&1 | grep -a "genie\|Error" | tail -4
TORCHINDUCTOR_CACHE_DIR=/tmp/ind-bf16 timeout 200 python3 $G mobilenet_v2 $W 512 40 bf16 2>&1 | grep -a "genie\|Error" | tail -4
/usr/bin/time -f "%e s wall" timeout 150 python3 main.py --model mobilenet_v2 --weights-dir $W --data .assets/val-tiny \
  --scheme w4a8 --method brecq --method-arg iterations=2000 --num-samples 256 --device cuda > /dev/null 2> $OUT/brecq-2000.log
grep -a "units in\|wall\|Error\|error" $OUT/brecq-2000.log | tail -3
grep -a -o "brecq [0-9]*/20 [a-z0-9._]*: [0-9.]* s" $OUT/brecq-2000.log | awk '{printf "%s %s | ", $3, $4} END {print ""}'
