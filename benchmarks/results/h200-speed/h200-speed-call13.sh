#!/usr/bin/env bash
# Issue 20, device call 13 (written 2026-12-07, seventh session): Genie-D with compiled="layers"
# (synth/_fused_bn.py: each BatchNorm's normalisation, activation and statistics distance is one
# function, compiled once with dynamic shapes for every layer and model; the step itself eager).
# On the CPU it compiles in 25.5 s cold against 154 s for the whole step. Here, on the GPU:
# 1. MobileNetV2 Genie-D alone (1,024 images, --method rtn), fresh Inductor cache (cold).
# 2. The same on that cache (warm).  3. The ShuffleNetV2 stand-in's Genie-D on that cache (do the
# shared graphs serve another model?).  4. MobileNetV2's whole `w4a8 genie brecq` command with
# compiled=layers, artifact kept (top-1 evaluated on the CPU machine).
# Writes runs/c13/genie_mode.txt: "layers" if its cold generate stage beat the whole step's 185.7 s
# (sixth session, H100), else "step"; call 11 reads it. Tarred under $OUT every 20 s.
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c13
RETURN_TO=$OUT; OUT=runs/c13; rm -rf "$OUT" /tmp/ind-c13; mkdir -p "$OUT"
keep() { tar cf "$RETURN_TO/c13.tar" --exclude="*.png" -C runs c13; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
( while sleep 20; do keep; done ) & packer=$!
speed() {  # label seconds main.py options...
  label=$1; seconds=$2; shift 2
  timeout $seconds python3 -m benchmarks.pipeline_speed --via benchmarks/results/h200-speed/compile_report.py --out $OUT --label $label -- "$@"
  echo "$label rc $? elapsed $SECONDS s"
  grep -a "genie batch\|units in\|seconds:\|top-1\|compile report:  \|counters\[inductor\]" $OUT/$label.log | cut -c1-220
}
MNV2="--model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator genie
  --gen-arg compiled=layers --device cuda --no-cache"
speed mnv2-layers-cold 200 $MNV2 --method rtn
keep
generate=$(python3 -c "import json; print([r for r in json.load(open('$OUT/pipeline_speed.json'))
  if r['label'] == 'mnv2-layers-cold'][0]['stages'].get('generate', 999))" 2>/dev/null)
python3 -c "print('layers' if float('${generate:-999}') < 185.7 else 'step')" > $OUT/genie_mode.txt
echo "cold generate ${generate} s -> $(cat $OUT/genie_mode.txt)"
speed mnv2-layers-warm 150 $MNV2 --method rtn
keep
speed shufflenet-layers 120 --model shufflenet_v2_x1_0 --weights-dir .assets/nette-w --classes .assets/nette-tiny/wnids.txt \
  --data .assets/nette-tiny --scheme w4a8 --generator genie --gen-arg compiled=layers --device cuda --no-cache --method rtn
keep
speed mnv2-layers-brecq $((590 - SECONDS)) $MNV2 --method brecq --save-model $OUT/mnv2-layers-brecq.safetensors
kill $packer; keep
cat $OUT/pipeline_speed.md 2>/dev/null | tail -8
echo "elapsed $SECONDS s"
