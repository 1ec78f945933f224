#!/usr/bin/env bash
# Issue 21 (written 2026-12-07, seventh session; not yet run): does more synthetic data close the
# 90% gap? MobileNetV2 w4a8, --target-compression 90 (kl widths), brecq at the default 10,000
# iterations, Genie-D compiled as GENIE_COMPILED says (default step, the kit's default; kernels
# once call 14 of issue 20 has shown it on a GPU), twice:
#   A. 1,024 images (the default): searches the widths and saves them beside its artifact;
#   B. 2,048 images, the same widths (--layer-config A's), its own images (seed 0 makes A's
#      1,024 plus 1,024 more).
# B starts once A's widths exist; their brecq runs share the GPU (the seconds are not speed figures).
# Then here: tar xf runs.tar; python -m benchmarks.evaluate_artifacts runs/p90data/*/model.safetensors
# --data ../shared/assets/imagenet/val   (and both halves; frontier --rescore for the scorer's check)
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps TORCHINDUCTOR_CACHE_DIR=/tmp/ind-p90data
LIMIT=${LIMIT:-590}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
mkdir -p runs/p90data/a1024 runs/p90data/b2048
pack() { tar cf "$OUT/runs.tar" --exclude='*.png' -C runs p90data; }
( while sleep 20; do pack; done ) & packer=$!
COMMON="--model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator genie
  --gen-arg compiled=${GENIE_COMPILED:-step} --device cuda --no-cache --method brecq"
run() {  # label options...
  label=$1; shift
  timeout $((LIMIT - 5 - SECONDS)) python3 main.py $COMMON "$@" --save-model runs/p90data/$label/model.safetensors \
    > runs/p90data/$label/output.txt 2> >(stdbuf -oL tr '\r' '\n' | grep --line-buffered -av "loss\|^\s*$" > runs/p90data/$label/log.txt)
  echo "$label rc $? at $SECONDS s"
}
run a1024 --target-compression 90 & a=$!
while [ ! -f runs/p90data/a1024/model.layers.toml ] && kill -0 $a 2>/dev/null; do sleep 2; done
sleep 3; echo "widths at $SECONDS s"
if [ -f runs/p90data/a1024/model.layers.toml ]; then
  run b2048 --num-samples 2048 --layer-config runs/p90data/a1024/model.layers.toml & b=$!
  wait $b
fi
wait $a
kill $packer; pack
grep -ah "searched widths\|genie batch\|units in\|seconds:" runs/p90data/*/log.txt | cut -c1-200
echo "elapsed $SECONDS s"
