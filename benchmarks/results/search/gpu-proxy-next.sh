#!/usr/bin/env bash
# Ready for the next session (written after call 10, whose artifacts were lost).
# Issue 21, for the next device call (call 10 lost its artifacts: the device returns only a few
# files under $OUT, so everything goes back as ONE tar): kl against adaround-kl at 90% compression,
# MobileNetV2, w4a8's 8-bit activations, Genie-D at the defaults made once and reused, brecq 5,000.
# Timeline (H100, call 10): generate + kl search + rtn 240 s; the adaround-kl search (112 s) runs
# while the kl run reconstructs; each brecq 5,000 is about 130 s alone, twice that shared.
# Then here: tar xf runs.tar; python -m benchmarks.evaluate_artifacts runs/*/model.safetensors
# --data ../shared/assets/imagenet/val (and the scorer: pack, check --verify).
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
COMMON="--model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --target-compression 90 --generator genie --device cuda --reuse-synthetic --cache-dir runs/cache"
one() {  # label timeout options...
  label=$1; seconds=$2; shift 2
  mkdir -p runs/p/$label
  timeout $seconds python3 main.py $COMMON --save-model runs/p/$label/model.safetensors "$@" \
    > runs/p/$label/output.txt 2> >(tr '\r' '\n' | grep -av "loss\|^\s*$" > runs/p/$label/log.txt)
  echo "$label rc $? at $SECONDS s"
}
pack() { tar cf "$OUT/runs.tar" --exclude='*.png' -C runs p; echo "packed at $SECONDS s"; }
trap pack EXIT
one rtn-90-kl 300 --method rtn
left=$((560 - SECONDS))
one brecq5000-90-kl $left --method brecq --method-arg iterations=5000 &
one brecq5000-90-adaround-kl $left --method brecq --method-arg iterations=5000 --search-arg proxy=adaround-kl &
wait
grep -ah "searched widths\|units in\|seconds:" runs/p/*/log.txt | cut -c1-220
