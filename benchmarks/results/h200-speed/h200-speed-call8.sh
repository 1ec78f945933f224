#!/usr/bin/env bash
# NOT RUN on 2026-12-06: no device machine could be had for it that session; ready for the next.
# Issue 20, device call 8 (2026-12-06, second session): where brecq's seconds go per unit (the new
# log line: inputs cached, first steps, ms a step), the kernels of three units' steps (profiled:
# why does the classifier, one Linear, take 1.5 ms a step?), float32 against bf16 autocast block forwards;
# (The Genie-D dynamic-shape trial planned here was answered on the CPU instead: 474 kernels and
# 264.6 s to compile against 428 and 183.3 s static; see h200-speed.md.)
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps
# The device returns only a few files under $OUT (call 10 lost its artifacts that way): the
# runs write under runs/c8 and go back as one tar, made on exit (a timeout included).
RETURN_TO=$OUT; OUT=runs/c8; rm -rf "$OUT"; mkdir -p "$OUT"
pack() { tar cf "$RETURN_TO/c8.tar" --exclude="*.png" -C runs c8; }
trap pack EXIT  # and after each experiment: a call cut off by the device's limit gets no trap
R=benchmarks/results/h200-speed
W=.assets/weights; D=.assets/val-tiny
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, triton, os; print(torch.__version__, triton.__version__, os.cpu_count(), 'cpus')"
BRECQ="--model mobilenet_v2 --weights-dir $W --data $D --scheme w4a8 --generator gaussian --num-samples 1024 --method brecq --method-arg iterations=2000 --device cuda"
echo "== E0 which kernels a step spends its time in: features.2 (large maps), features.10 (small), classifier"
timeout 150 python3 $R/profile_brecq_units.py features.2,features.10,classifier ${BRECQ/iterations=2000/iterations=200} > "$OUT/e0.txt" 2> "$OUT/e0.log"; echo "rc $?"
tr '\r' '\n' < "$OUT/e0.log" | grep -a -A18 "== profile" | cut -c1-200
echo "elapsed $SECONDS s"; pack
echo "== E1 brecq 2000 float32 (TF32 convs), gaussian 1024"
timeout 140 python3 main.py $BRECQ > "$OUT/e1.txt" 2> "$OUT/e1.log"; echo "rc $?"
grep -a "^brecq\|stage\|rror" "$OUT/e1.log" | tail -24
echo "elapsed $SECONDS s"; pack
echo "== E2 brecq 2000 bf16 autocast"
timeout 120 python3 $R/bf16_brecq.py $BRECQ > "$OUT/e2.txt" 2> "$OUT/e2.log"; echo "rc $?"
grep -a "^brecq\|stage\|rror" "$OUT/e2.log" | tail -24
echo "elapsed $SECONDS s"; pack
