#!/usr/bin/env bash
# Issue 20, device call 14 (written 2026-12-07, seventh session; not yet run): Genie-D with each
# BatchNorm's work done by two hand-written Triton kernels (compiled="kernels", synth/_bn_kernels.py;
# no Inductor), against the same work compiled by Inductor (compiled="layers", synth/_fused_bn.py).
# Call 13 ran "layers" out of GPU memory (record hooks kept every step's feature maps; mended),
# but measured its compiling on an H100: 56 s cold, 38 s warm (PyCodeCache.load_by_key_path 35.8 s
# for about 64 kernels: fixed costs, not per kernel), against 121-139 s and 42 s for the whole step.
# 0. The kernels against their PyTorch twin on the GPU, compiled (the tests run them under Triton's
#    CPU interpreter only), with MobileNetV2's largest maps at batch 256 (tests/synth/bn_kernel_cases.py).
#    If that fails, steps 1, 2 and 4 time "layers" instead and step 3 is skipped.
# 1. MobileNetV2 Genie-D alone (1,024 images, --method rtn), "kernels", fresh Triton cache (cold).
# 2. The same, warm.  3. "layers", 512 images, fresh Inductor cache: its steps against the kernels'.
# 4. If at least 300 s are left: MobileNetV2's whole `w4a8 genie brecq` command with "kernels",
#    artifact kept (top-1 on the CPU machine:
#    python -m benchmarks.evaluate_artifacts runs/c14/*.safetensors --data ../shared/assets/imagenet/val).
# 5. If time is left: "layers" warm under cProfile (cprofile_report.py), 512 images: where its
#    warm 35 s go.
# Tarred under $OUT every 20 s.
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c14 TRITON_CACHE_DIR=/tmp/triton-c14
RETURN_TO=$OUT; OUT=runs/c14; rm -rf "$OUT" /tmp/ind-c14 /tmp/triton-c14; mkdir -p "$OUT"
keep() { tar cf "$RETURN_TO/c14.tar" --exclude="*.png" -C runs c14; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
( while sleep 20; do keep; done ) & packer=$!
REPORT=benchmarks/results/h200-speed/compile_report.py
speed() {  # label seconds via main.py options...
  label=$1; seconds=$2; via=$3; shift 3
  timeout $seconds python3 -m benchmarks.pipeline_speed --via "$via" --out $OUT --label $label -- "$@"
  echo "$label rc $? elapsed $SECONDS s"
  grep -a "genie batch\|units in\|seconds:\|top-1\|compile report:  \|counters\[inductor\]\|PyCodeCache\|Error" \
    $OUT/$label.log | cut -c1-220
}
MNV2="--model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator genie
  --device cuda --no-cache"
timeout 120 python3 -m tests.synth.bn_kernel_cases cuda > $OUT/kernel-cases.json 2> $OUT/kernel-cases.log
cases=$?; echo "kernel cases rc $cases at $SECONDS s"; cut -c1-1500 $OUT/kernel-cases.json; tail -3 $OUT/kernel-cases.log
MODE=kernels; [ $cases -ne 0 ] && MODE=layers  # kernels that fail on the GPU: the rest of the call times "layers"
echo "timing compiled=$MODE" | tee $OUT/mode.txt
rm -rf /tmp/triton-c14  # the timing below starts cold
speed $MODE-cold 150 "$REPORT" $MNV2 --gen-arg compiled=$MODE --method rtn; keep
speed $MODE-warm 120 "$REPORT" $MNV2 --gen-arg compiled=$MODE --method rtn; keep
if [ $MODE = kernels ]; then
  speed layers-cold 130 "$REPORT" $MNV2 --gen-arg compiled=layers --method rtn --num-samples 512; keep
fi
if [ $((590 - SECONDS)) -ge 300 ]; then
  speed $MODE-brecq $((590 - SECONDS)) "$REPORT" $MNV2 --gen-arg compiled=$MODE --method brecq \
    --save-model $OUT/mnv2-$MODE-brecq.safetensors
  keep
fi
if [ $((590 - SECONDS)) -ge 60 ]; then
  speed layers-warm-cprofile $((590 - SECONDS)) benchmarks/results/h200-speed/cprofile_report.py $MNV2 \
    --gen-arg compiled=layers --method rtn --num-samples 512
  grep -a "cprofile" $OUT/layers-warm-cprofile.log | head -60 | cut -c1-200
fi
kill $packer; keep
tail -8 $OUT/pipeline_speed.md
echo "elapsed $SECONDS s"
