#!/usr/bin/env bash
# Issue 21 (written 2026-12-07, fifth session; not yet run): MobileNetV2 at 90% compression with
# 8-bit activations, `kl` widths, brecq at the papers' 20,000 iterations (the 2026-12-07 call had
# 5,000: 77.29, -4.46). brecq now takes about 166 s per 10,000 iterations on an H100, so 20,000 is
# about 330 s. Genie-D's images are read back from runs/cache when call 11
# (h200-speed-call11.sh) made them on this still-warm machine; otherwise made here (about 200 s
# cold), which the limit below still leaves room for.
# main.py runs through compile_report.py, which adds where torch.compile's seconds went (Genie-D's
# cold compile, when the images are made here) at the end of the log.
# Then here: tar xf runs.tar; python -m benchmarks.evaluate_artifacts runs/p90/*/model.safetensors
# --data ../shared/assets/imagenet/val
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps
ITERATIONS=${ITERATIONS:-20000}; LIMIT=${LIMIT:-580}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
label=brecq$ITERATIONS-90-kl; mkdir -p runs/p90/$label
pack() { tar cf "$OUT/runs.tar" --exclude='*.png' -C runs p90; }
( while sleep 20; do pack; done ) & packer=$!
TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c11 timeout $((LIMIT - 10)) python3 benchmarks/results/h200-speed/compile_report.py --model mobilenet_v2 --weights-dir .assets/weights \
  --data .assets/val-tiny --scheme w4a8 --generator genie --device cuda --reuse-synthetic --cache-dir runs/cache \
  --target-compression 90 --method brecq --method-arg iterations=$ITERATIONS --save-model runs/p90/$label/model.safetensors \
  > runs/p90/$label/output.txt 2> >(stdbuf -oL tr '\r' '\n' | grep --line-buffered -av "loss\|^\s*$" > runs/p90/$label/log.txt)
echo "$label rc $? at $SECONDS s"
sleep 1; kill $packer; pack
grep -ah "searched widths\|genie batch\|units in\|seconds:\|compile report" runs/p90/$label/log.txt | cut -c1-220
