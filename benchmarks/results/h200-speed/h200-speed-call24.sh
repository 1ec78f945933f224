#!/usr/bin/env bash
# Issue 20, device call 24 (eleventh session; not run: two starts failed, then too little device time
# was left; run it next on main, 0ff1a3c or later), written for the last 343 s of the session's
# device time: the ShuffleNetV2 stand-in's brecq steps after call 22 (whose per-row
# step-size sums made its units up to 7x slower a step: its branches' channel slices were
# flattened per sample, 32 long rows) and the fix (slices read per pixel). About 200 s:
# 1. brecq 3,000 iterations on 256 Gaussian images (the per-unit ms a step is what is compared);
# 2. profile_brecq_units.py on stage2.0 and stage2.1 (at most 60 s);
# 3. if 150 s are left: the whole `w4a8 genie brecq` command at the defaults, fresh caches.
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c24 TRITON_CACHE_DIR=/tmp/triton-c24
RETURN_TO=$OUT; OUT=runs/c24; rm -rf "$OUT" /tmp/ind-c24* /tmp/triton-c24*; mkdir -p "$OUT"
keep() { tar cf "$RETURN_TO/c24.tar" --exclude="*.png" -C runs c24; }
LIMIT=${LIMIT:-200}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
( while sleep 10; do keep; done ) & packer=$!
SHUFFLE="--model shufflenet_v2_x1_0 --weights-dir .assets/nette-w --classes .assets/nette-tiny/wnids.txt --data .assets/nette-tiny --scheme w4a8 --device cuda --no-cache"
timeout $((LIMIT - SECONDS - 5)) python3 main.py $SHUFFLE --generator gaussian --num-samples 256 --method brecq \
  --method-arg iterations=3000 > $OUT/shufflenet-3000.output.txt 2> $OUT/shufflenet-3000.log
echo "shufflenet 3000 rc $? at $SECONDS s"; grep -a "brecq .*/19\|units in\|seconds:\|Error" $OUT/shufflenet-3000.log | cut -c1-150; keep
# Where stage2.0's step goes (2.10 ms in call 22 against 1.09 in call 19, though it takes whole
# channels-last maps, no slices) and stage2.1's after the fix: 50 replayed and 5 eager steps each.
timeout $((LIMIT - SECONDS < 60 ? LIMIT - SECONDS : 60)) python3 benchmarks/results/h200-speed/profile_brecq_units.py \
  stage2.0,stage2.1 $SHUFFLE --generator gaussian --num-samples 256 --method brecq --method-arg iterations=300 \
  > $OUT/profile.txt 2> $OUT/profile.log
echo "profile rc $? at $SECONDS s"; grep -a -A14 "== profile\|== operators" $OUT/profile.log | cut -c1-100,190-260; keep
if [ $((LIMIT - SECONDS)) -ge 150 ]; then
  timeout $((LIMIT - SECONDS - 3)) python3 -m benchmarks.pipeline_speed --out $OUT --label shufflenet -- $SHUFFLE \
    --generator genie --method brecq --save-model $OUT/shufflenet_v2_x1_0-w4a8-genie-brecq.safetensors
  echo "shufflenet whole rc $? at $SECONDS s"; grep -a "genie batch\|units in\|seconds:\|Error" $OUT/shufflenet.log | cut -c1-200
fi
kill $packer; keep
echo "elapsed $SECONDS s"
