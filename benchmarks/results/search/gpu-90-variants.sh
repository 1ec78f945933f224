#!/usr/bin/env bash
# Issue 21 (written 2026-12-07, seventh session; not yet run): what closes the 90% gap, more or
# better synthetic data? MobileNetV2 w4a8 on the 90% widths of the papers' run
# (gpu-90-papers-2026-12-07/model.layers.toml, fixed, so only the data differ), brecq at the
# default 10,000 iterations, two runs side by side (their brecq seconds are not speed figures):
#   A. Genie-D at the defaults (1,024 images, 200 steps a batch);
#   B. Genie-D with $VARIANT: "--num-samples 2048" by default (seed 0 makes A's 1,024 and 1,024
#      more); VARIANT="--gen-arg iterations=800" tries 4x the steps (the paper: 4,000 a batch).
# Genie-D compiled as GENIE_COMPILED says (default kernels, the kit's default since the eighth
# session; step is the whole step compiled, as before). Then here: tar xf runs.tar;
# python -m benchmarks.evaluate_artifacts runs/p90v/*/model.safetensors --data ../shared/assets/imagenet/val
# (and frontier --rescore for the scorer's check of the better one).
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps TORCHINDUCTOR_CACHE_DIR=/tmp/ind-p90v
LIMIT=${LIMIT:-590}; VARIANT=${VARIANT:---num-samples 2048}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
mkdir -p runs/p90v/a-defaults runs/p90v/b-variant
echo "$VARIANT" > runs/p90v/b-variant/variant.txt
pack() { tar cf "$OUT/runs.tar" --exclude='*.png' -C runs p90v; }
( while sleep 20; do pack; done ) & packer=$!
COMMON="--model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator genie
  --gen-arg compiled=${GENIE_COMPILED:-kernels} --device cuda --no-cache --method brecq
  --layer-config benchmarks/results/search/gpu-90-papers-2026-12-07/model.layers.toml"
run() {  # label options...
  label=$1; shift
  timeout $((LIMIT - 5 - SECONDS)) python3 main.py $COMMON "$@" --save-model runs/p90v/$label/model.safetensors \
    > runs/p90v/$label/output.txt 2> >(stdbuf -oL tr '\r' '\n' | grep --line-buffered -av "loss\|^\s*$" > runs/p90v/$label/log.txt)
  echo "$label rc $? at $SECONDS s"
}
run a-defaults & a=$!
run b-variant $VARIANT & b=$!
wait $a $b
kill $packer; pack
grep -ah "genie batch\|units in\|seconds:\|compression" runs/p90v/*/log.txt | cut -c1-200
echo "elapsed $SECONDS s"
