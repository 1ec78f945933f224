#!/usr/bin/env bash
# Issue 20, device call 17 (written 2026-12-07, seventh session; not yet run): the before/after
# top-1 rows at int8 (acceptance 3: no accuracy traded away silently). Genie-D's images made the way
# the kit made them before the speed work (eager float32: DFQ_COMPILE=0 --gen-arg precision=fp32)
# and the way it makes them now (bf16, GENIE_COMPILED: kernels by default), then int8 calibration
# (round to nearest), for MobileNetV2 and the ShuffleNetV2 stand-in. About 560 s (the eager float32
# generation is about 150 s a model). Artifacts come back; top-1 on the CPU machine:
# python -m benchmarks.evaluate_artifacts runs/c17/mobilenet_v2-*.safetensors --data ../shared/assets/imagenet/val
# python -m benchmarks.evaluate_artifacts runs/c17/shufflenet_v2_x1_0-*.safetensors
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c17
RETURN_TO=$OUT; OUT=runs/c17; rm -rf "$OUT"; mkdir -p "$OUT"
keep() { tar cf "$RETURN_TO/c17.tar" --exclude="*.png" -C runs c17; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
( while sleep 20; do keep; done ) & packer=$!
run() {  # label seconds compile-flag model-options...
  label=$1; seconds=$2; flag=$3; shift 3
  DFQ_COMPILE=$flag timeout $seconds python3 main.py "$@" --scheme int8 --generator genie --device cuda --no-cache \
    --save-model $OUT/$label.safetensors > $OUT/$label.output.txt 2> >(stdbuf -oL tr '\r' '\n' | grep --line-buffered -av "loss\|^\s*$" > $OUT/$label.log)
  echo "$label rc $? at $SECONDS s"; sleep 1
  grep -a "genie batch\|seconds:\|top-1" $OUT/$label.log | cut -c1-200
  keep
}
MNV2="--model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny"
SHUF="--model shufflenet_v2_x1_0 --weights-dir .assets/nette-w --classes .assets/nette-tiny/wnids.txt --data .assets/nette-tiny"
AFTER="--gen-arg compiled=${GENIE_COMPILED:-kernels}"
run mobilenet_v2-int8-before 200 0 $MNV2 --gen-arg precision=fp32
run mobilenet_v2-int8-after 120 1 $MNV2 $AFTER
run shufflenet_v2_x1_0-int8-before 160 0 $SHUF --gen-arg precision=fp32
run shufflenet_v2_x1_0-int8-after $((590 - SECONDS)) 1 $SHUF $AFTER
kill $packer; keep
echo "elapsed $SECONDS s"
