#!/usr/bin/env bash
# Written after call 10 (whose artifacts were lost); run on 2026-12-07 with ITERATIONS=5000 LIMIT=540
# (results: gpu-proxy-2026-12-07.md).
# Issue 21: kl against adaround-kl at 90% compression, MobileNetV2, w4a8's 8-bit activations,
# Genie-D at the defaults made once (the rtn run) and reused, then brecq for both proxies side
# by side. ITERATIONS (default 5,000) and LIMIT (the seconds the whole script may take, default
# 560): a short call can run ITERATIONS=3000 LIMIT=440 (the 90% row, -5.53, used 3,000).
# Timeline (H100, call 10): generate + kl search + rtn 240 s; the adaround-kl search (112 s) runs
# while the kl run reconstructs; each brecq 5,000 is about 130 s alone, twice that shared.
# Everything goes back as ONE tar under $OUT (the device returns only a few files), remade every
# 20 s (the device runs no trap at its limit).
# Then here: tar xf runs.tar; python -m benchmarks.evaluate_artifacts runs/p/*/model.safetensors
# --data ../shared/assets/imagenet/val (and the scorer: pack, check --verify).
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps
ITERATIONS=${ITERATIONS:-5000}; LIMIT=${LIMIT:-560}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
COMMON="--model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --target-compression 90 --generator genie --device cuda --reuse-synthetic --cache-dir runs/cache"
one() {  # label timeout options...
  label=$1; seconds=$2; shift 2
  mkdir -p runs/p/$label
  timeout $seconds python3 main.py $COMMON --save-model runs/p/$label/model.safetensors "$@" \
    > runs/p/$label/output.txt 2> >(stdbuf -oL tr '\r' '\n' | grep --line-buffered -av "loss\|^\s*$" > runs/p/$label/log.txt)
  echo "$label rc $? at $SECONDS s"
}
pack() { tar cf "$OUT/runs.tar" --exclude='*.png' -C runs p; }
( while sleep 20; do pack; done ) &
one rtn-90-kl 300 --method rtn
left=$((LIMIT - SECONDS))
one brecq$ITERATIONS-90-kl $left --method brecq --method-arg iterations=$ITERATIONS & first=$!
one brecq$ITERATIONS-90-adaround-kl $left --method brecq --method-arg iterations=$ITERATIONS --search-arg proxy=adaround-kl & second=$!
# The two runs only: a bare `wait` also waits for the packing loop, which never ends (on
# 2026-12-07 that held the call to its limit, 117 s after both runs had finished).
wait $first $second
pack
grep -ah "searched widths\|units in\|seconds:" runs/p/*/log.txt | cut -c1-220
