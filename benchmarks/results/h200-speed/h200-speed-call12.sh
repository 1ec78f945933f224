#!/usr/bin/env bash
# Issue 20, device call 12 (written 2026-12-07, sixth session): does channels-last cost quality, or
# is 79.27 (against 80.02 before it) the spread of brecq's seed? MobileNetV2 w4a8, the same Genie-D
# images (read back from runs/cache, which call 11 left on this machine if it is still warm; made
# once here otherwise), brecq at the defaults (10,000 iterations) with its own seed 1 and 2 channels-last
# and 0 and 1 contiguous (seed 0 channels-last is the 79.27 of call 10). The four runs share
# the GPU at once (brecq keeps it about half busy alone), so their seconds are not speed figures:
# this call measures quality only. Its first run (seventh session, after call 11 on the same
# machine) was cut at 579 s with nothing back: four runs at once need more than that, and the
# logs were empty because tr and grep buffered them (now line-buffered). So RUNS defaults to the
# two channels-last seeds (about 300 s when the images are cached); RUNS="contiguous:0
# contiguous:1" is the other half. Artifacts come back; top-1 is evaluated on the CPU machine:
# python -m benchmarks.evaluate_artifacts runs/c12/*.safetensors --data ../shared/assets/imagenet/val
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c11
RETURN_TO=$OUT; OUT=runs/c12; rm -rf "$OUT"; mkdir -p "$OUT"
keep() { tar cf "$RETURN_TO/c12.tar" -C runs c12; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
( while sleep 20; do keep; done ) & packer=$!
MODE=$(cat runs/c13/genie_mode.txt 2>/dev/null || echo step)  # as call 11 made the images (seventh session)
MNV2="--model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator genie
  --gen-arg compiled=$MODE --device cuda --reuse-synthetic --cache-dir runs/cache"
if ! ls runs/cache/synthetic/*.safetensors >/dev/null 2>&1; then
  timeout 300 python3 main.py $MNV2 --method rtn > /dev/null 2> $OUT/generate.log
  echo "generated at $SECONDS s"
fi
pids=()
for run in ${RUNS:-channels_last:1 channels_last:2}; do
  layout=${run%:*}; seed=${run#*:}
  timeout $((585 - SECONDS)) python3 benchmarks/results/h200-speed/layout_trial.py $layout $MNV2 --method brecq \
    --method-arg seed=$seed --save-model $OUT/$layout-seed$seed.safetensors > $OUT/$layout-seed$seed.txt \
    2> >(stdbuf -oL tr '\r' '\n' | grep --line-buffered -av "loss\|^\s*$" > $OUT/$layout-seed$seed.log) &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait $pid; echo "run $pid rc $? at $SECONDS s"; done
kill $packer; keep
grep -a "units in\|seconds:\|top-1" $OUT/*.log | cut -c1-200
echo "elapsed $SECONDS s"
