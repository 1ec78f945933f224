#!/usr/bin/env bash
# Issue 20, device call 11 (written 2026-12-07, fifth session, after call 10 measured channels-last
# on an H100; not yet run). 1. The ShuffleNetV2 stand-in's whole `w4a8 genie brecq` command, cold
# Inductor cache (the third model of the before/after table; call 9 ran out before it twice).
# 2. MobileNetV2 Genie-D alone (--method rtn), cold, keeping its images in runs/cache
# (--reuse-synthetic), so that issue 21's call after it (search/gpu-90-papers.sh) reads them
# back while the machine stays warm. 3. The same again without reuse if time is left: Genie-D
# on a warm Inductor cache. Genie-D now logs each batch with its first (compiling) step apart.
# Every run goes through compile_report.py, which prints at exit where torch.compile's seconds
# went (tracing, lowering, kernel compiling) and how many kernels it made.
# Tarred under $OUT every 20 s (no trap runs at the device's limit); the loop is killed at the end.
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps
RETURN_TO=$OUT; OUT=runs/c11; rm -rf "$OUT"; mkdir -p "$OUT"
keep() { tar cf "$RETURN_TO/c11.tar" --exclude="*.png" -C runs c11; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
( while sleep 20; do keep; done ) & packer=$!
# Seventh session: Genie-D compiles per layer (compiled=layers) if call 13, just before on this
# machine, found it faster than the whole step; the whole step otherwise (or if call 13 did not run).
MODE=$(cat runs/c13/genie_mode.txt 2>/dev/null || echo step); echo "genie compiled=$MODE" | tee $OUT/genie_mode.txt
speed() {  # label seconds main.py options...
  label=$1; seconds=$2; shift 2
  TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c11 timeout $seconds python3 -m benchmarks.pipeline_speed --via benchmarks/results/h200-speed/compile_report.py --out $OUT --label $label -- "$@"
  echo "$label rc $? elapsed $SECONDS s"
  grep -a "genie batch\|units in\|seconds:\|top-1\|compile report" $OUT/$label.log | cut -c1-220
}
speed shufflenet-w4a8-genie-brecq 330 --model shufflenet_v2_x1_0 --weights-dir .assets/nette-w \
  --classes .assets/nette-tiny/wnids.txt --data .assets/nette-tiny --scheme w4a8 --generator genie --gen-arg compiled=$MODE --method brecq \
  --device cuda --save-model $OUT/shufflenet-w4a8-genie-brecq.safetensors
keep
MNV2="--model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator genie
  --gen-arg compiled=$MODE --device cuda"
speed mnv2-genie-cold $((560 - SECONDS)) $MNV2 --method rtn --reuse-synthetic --cache-dir runs/cache
keep
if [ $((585 - SECONDS)) -gt 120 ]; then speed mnv2-genie-warm $((585 - SECONDS)) $MNV2 --method rtn --no-cache; fi
keep
kill $packer
# How large the compiled kernels are: could a later call carry them (64 MiB in all) and start warm?
du -sh /tmp/ind-c11 2>/dev/null; du -sh /tmp/ind-c11/* 2>/dev/null | sort -h | tail -4
cat $OUT/pipeline_speed.md
echo "elapsed $SECONDS s"
