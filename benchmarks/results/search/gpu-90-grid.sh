#!/usr/bin/env bash
# Issue 21 (thirteenth session, 2026-12-07; run by the fourteenth as call 29: gpu-90-grid-2026-12-07.md): weights below 8 bits
# on every b-bit code ([-2^(b-1), 2^(b-1)-1]: four levels at 2 bits, eight at 3) instead of the
# symmetric grid, and the MSE clipping that also counts a channel's summed error, as
# weight-grid-full.patch makes them (applied here first; see weight-grid-full.md). MobileNetV2
# w4a8, Genie-D images as before (the generator does not depend on the grid), brecq 10,000, two runs
# one after the other (B reads A's images back: --reuse-synthetic), so that A's result comes back
# even if the call's time runs out during B:
#   A. the papers' run's fixed 90% widths (gpu-90-papers-2026-12-07/model.layers.toml): only the
#      patch differs from the 78.28 of calls 22, 26 and 28;
#   B. the whole command at 90%: the search (kl proxy) on the new grid, then brecq.
# $EXTRA goes to both (e.g. "--num-samples 2048"). Carry .assets/weights .assets/val-tiny .pydeps.
# Then here: python -m benchmarks.evaluate_artifacts a-*.safetensors b-*.safetensors --data ../shared/assets/imagenet/val
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps TORCHINDUCTOR_CACHE_DIR=/tmp/ind-p90g
LIMIT=${LIMIT:-590}
P=benchmarks/results/search/weight-grid-full.patch
patch -p1 -N < $P || git apply $P || { echo "could not apply $P"; exit 1; }
python3 -c "from challenge.size import weight_grid; assert weight_grid(2) == (-2, 1)" || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
mkdir -p runs/p90g/a-fixed runs/p90g/b-search
COMMON="--model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator genie
  --device cuda --cache-dir runs/cache --reuse-synthetic --method brecq $EXTRA"
run() {  # label options...
  label=$1; shift
  timeout $((LIMIT - 10 - SECONDS)) python3 main.py $COMMON "$@" --save-model runs/p90g/$label/model.safetensors \
    > runs/p90g/$label/output.txt 2> >(stdbuf -oL tr '\r' '\n' | grep --line-buffered -av "loss\|^\s*$" > runs/p90g/$label/log.txt)
  echo "$label rc $? at $SECONDS s"
  cp runs/p90g/$label/model.safetensors "$OUT/$label.safetensors"
  cp runs/p90g/$label/model.layers.toml "$OUT/$label.layers.toml" 2>/dev/null
}
run a-fixed --layer-config benchmarks/results/search/gpu-90-papers-2026-12-07/model.layers.toml
tar czf "$OUT/logs.tgz" runs/p90g
run b-search --target-compression 90
tar czf "$OUT/logs.tgz" runs/p90g
grep -ah "genie batch\|units in\|seconds:\|compression\|Predicted\|predicted" runs/p90g/*/log.txt | cut -c1-200
echo "elapsed $SECONDS s"
