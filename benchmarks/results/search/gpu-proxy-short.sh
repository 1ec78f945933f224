#!/usr/bin/env bash
# Issue 21, a shorter cut of gpu-proxy-next.sh for a call of about 450 s (2026-12-06, fourth
# session): kl against adaround-kl at 90% compression, MobileNetV2, 8-bit activations, Genie-D at
# the defaults made once (the rtn run) and reused, then brecq at 3,000 iterations (the issue's
# 90% row, -5.53, used 3,000) for both proxies side by side. Everything goes back as one tar,
# remade every 20 s (the device runs no trap at its limit).
# Then here: tar xf runs.tar; python -m benchmarks.evaluate_artifacts runs/p/*/model.safetensors
# --data ../shared/assets/imagenet/val (and the scorer: pack, check --verify).
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps
LIMIT=${LIMIT:-440}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
COMMON="--model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --target-compression 90 --generator genie --device cuda --reuse-synthetic --cache-dir runs/cache"
one() {  # label timeout options...
  label=$1; seconds=$2; shift 2
  mkdir -p runs/p/$label
  timeout $seconds python3 main.py $COMMON --save-model runs/p/$label/model.safetensors "$@" \
    > runs/p/$label/output.txt 2> >(tr '\r' '\n' | grep -av "loss\|^\s*$" > runs/p/$label/log.txt)
  echo "$label rc $? at $SECONDS s"
}
pack() { tar cf "$OUT/runs.tar" --exclude='*.png' -C runs p; }
( while sleep 20; do pack; done ) &
one rtn-90-kl 300 --method rtn
left=$((LIMIT - SECONDS))
one brecq3000-90-kl $left --method brecq --method-arg iterations=3000 &
one brecq3000-90-adaround-kl $left --method brecq --method-arg iterations=3000 --search-arg proxy=adaround-kl &
wait
pack
grep -ah "searched widths\|units in\|seconds:" runs/p/*/log.txt | cut -c1-220
