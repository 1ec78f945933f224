#!/usr/bin/env bash
# Issue 21 (written 2026-12-07, fifth session; not yet run): the frontier of one model on the GPU,
# scored later on the machine that has the images (`benchmarks/frontier.py --rescore`).
#   MODEL=mobilenet_v2 bash benchmarks/results/search/gpu-frontier.sh      (one device call, <= 590 s)
# Runs `python -m benchmarks.frontier` with the 13 images that travel as --data, brecq at the
# default 10,000 iterations, two main.py at once on the GPU, until the call's time is nearly up;
# a rerun resumes (finished runs are skipped). OUT goes back as one tar every 20 s; if the machine
# went cold between calls, untar it here and carry runs/frontier-$MODEL with the next call.
# Each run is about 170 s of brecq on an H100 (alone), the first also about 200 s of Genie-D
# (kept in runs/cache and read back by the others while the machine stays warm).
# Then here:
#   tar xf frontier.tar
#   python -m benchmarks.frontier --model mobilenet_v2 --out runs/frontier-mobilenet_v2 \
#     --weights-dir .assets/weights --data ../shared/assets/imagenet/val --rescore
#     (and the same --targets / --method-arg as below)
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps
MODEL=${MODEL:-mobilenet_v2}; LIMIT=${LIMIT:-580}
case $MODEL in
  mobilenet_v2) DATA="--weights-dir .assets/weights --data .assets/val-tiny" ;;
  *) DATA="--weights-dir .assets/nette-w --classes .assets/nette-tiny/wnids.txt --data .assets/nette-tiny" ;;
esac
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
mkdir -p runs/frontier-$MODEL
pack() { tar cf "$OUT/frontier.tar" --exclude='*.png' -C runs frontier-$MODEL; }
( while sleep 20; do pack; done ) & packer=$!
TORCHINDUCTOR_CACHE_DIR=/tmp/ind-frontier timeout $((LIMIT - 15)) python3 -m benchmarks.frontier --model $MODEL \
  --out runs/frontier-$MODEL $DATA --targets 80,85,87,90,92 --generator genie --method brecq --jobs 2 \
  --device cuda --cache-dir runs/cache
echo "frontier rc $? at $SECONDS s"
pkill -f "main.py --model" || true  # runs the timeout cut off (the frontier's children): resumed next call
kill $packer; pack
grep -h "top-1\|failed" runs/frontier-$MODEL/runs/*/result.json 2>/dev/null | head -20
ls runs/frontier-$MODEL/runs
