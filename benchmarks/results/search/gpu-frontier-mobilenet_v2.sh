#!/usr/bin/env bash
# Issue 21, acceptance 1 (fifteenth session, 2026-12-07): MobileNetV2's frontier on one GPU,
# `benchmarks.frontier` over 80, 85, 87, 90 and 92% with brecq at its defaults (10,000) and with
# round to nearest on the same widths search, Genie-D images made once and shared by every run;
# TARGETS narrows them (a short device budget); SCHEMES (e.g. w6a6,w4a4) adds fixed schemes. A
# rerun with OUT carried resumes: finished runs are skipped. Six main.py at once (seconds are not
# speed figures). METHOD=gptq (sixteenth session) makes the best curve with gptq instead, minutes
# in all; a later brecq call carrying OUT then skips the shared rtn runs. Not run yet (fifteenth session: no machine started in time). Carry .assets/weights
# .assets/val-tiny .pydeps (and runs/frontier-mobilenet_v2 to resume). Then here:
#   for f in frontier-mobilenet_v2-*.tgz; do tar xzf $f -C runs; done; python -m benchmarks.frontier --model mobilenet_v2 \
#     --out runs/frontier-mobilenet_v2 --weights ../shared/assets/weights/mobilenet_v2-b0353104.pth \
#     --data ../shared/assets/imagenet/val --rescore [--method gptq] [--schemes ...]
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps TORCHINDUCTOR_CACHE_DIR=/tmp/ind-frontier
LIMIT=${LIMIT:-585} METHOD=${METHOD:-brecq}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
mkdir -p runs
# Three gzipped tars, each under the 16 MiB a returned file may have: packed sub-8-bit weights
# hardly compress (gzip 0.9 of w4a8, 0.96 of w6a6), and a curve's five artifacts are about 9 MB.
pack() {
  F=frontier-mobilenet_v2
  tar czf "$OUT/$F-$METHOD.tgz" -C runs $(cd runs && ls -d $F/runs/$METHOD-[0-9]* 2>/dev/null) 2>/dev/null
  tar czf "$OUT/$F-rtn.tgz" -C runs $(cd runs && ls -d $F/runs/rtn-* 2>/dev/null) 2>/dev/null
  tar czf "$OUT/$F-rest.tgz" --exclude='*.png' --exclude="$F/runs/$METHOD-[0-9]*" --exclude="$F/runs/rtn-*" \
    -C runs $F $F.log 2>/dev/null
}
( while sleep 20; do pack; done ) & packer=$!
timeout $((LIMIT - 15)) python3 -m benchmarks.frontier --model mobilenet_v2 --out runs/frontier-mobilenet_v2 \
  --weights-dir .assets/weights --data .assets/val-tiny --targets ${TARGETS:-80,85,87,90,92} ${SCHEMES:+--schemes $SCHEMES} \
  --generator genie --method $METHOD --jobs ${JOBS:-6} --device cuda --cache-dir runs/cache \
  >> runs/frontier-mobilenet_v2.log 2>&1
echo "frontier rc $? at $SECONDS s"
kill $packer; pack
grep -a "started\|top-1\|error\|failed\|skipped" runs/frontier-mobilenet_v2.log | tail -30
ls -la runs/frontier-mobilenet_v2/runs/*/model.safetensors
nvidia-smi --query-gpu=memory.used --format=csv,noheader
