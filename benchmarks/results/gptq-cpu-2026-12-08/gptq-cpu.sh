#!/usr/bin/env bash
# Issue 21 (sixteenth session, 2026-12-08, no GPU lent): gptq against round to nearest on this 2-core
# CPU, on the same synthetic images. One process at a time; the first run makes the 64 ZeroQ images
# (50 iterations: ZeroQ's 500 take about 12 s a step for MobileNetV2 here, 100 minutes) and keeps
# them, the others read them back. Then: python benchmarks/results/gptq-cpu-2026-12-08/score.py $RUNS NAME ...
# Usage: RUNS=/work/runs bash benchmarks/results/gptq-cpu-2026-12-08/gptq-cpu.sh [NAME ...] (default: all)
cd "$(dirname "$0")/../../.."
RUNS=${RUNS:-runs/gptq-cpu}
mkdir -p "$RUNS"
A=../shared/assets
M="--device cpu --reuse-synthetic --cache-dir $RUNS/cache --generator zeroq --gen-arg iterations=50"
MN="--model mobilenet_v2 --weights $A/weights/mobilenet_v2-b0353104.pth --data $A/imagenet/val $M"
SH="--model shufflenet_v2_x1_0 --weights $A/weights/standins/shufflenet_v2_x1_0-imagenette10.pth --data $A/imagenette10 --classes $A/imagenette10/wnids.txt $M"
L90=benchmarks/results/search/gpu-90-papers-2026-12-07/model.layers.toml  # MobileNetV2's 90% widths (brecq 78.28)
RN="--model resnet18 --weights $A/weights/standins/resnet18-imagenette10.pth --data $A/imagenette10 --classes $A/imagenette10/wnids.txt $M"
LR90=benchmarks/results/search/gpu-standins-2026-12-07/rtn-90-resnet18.layers.toml
LS90=benchmarks/results/search/gpu-standins-2026-12-07/rtn-90-shufflenet_v2_x1_0.layers.toml
# mnv2-90-gptq-asym (--method-arg asymmetric=True) ran at commit 8d82589, whose gptq had that option.
declare -A RUN=(
  [mnv2-w4a8-rtn]="$MN --scheme w4a8 --method rtn"
  [mnv2-w4a8-gptq]="$MN --scheme w4a8 --method gptq"
  [mnv2-90-rtn]="$MN --scheme w4a8 --layer-config $L90 --method rtn"
  [mnv2-90-gptq]="$MN --scheme w4a8 --layer-config $L90 --method gptq"
  [mnv2-90-gptq-act]="$MN --scheme w4a8 --layer-config $L90 --method gptq --method-arg act_order=True"
  [shuf-90-rtn]="$SH --scheme w4a8 --layer-config $LS90 --method rtn"
  [shuf-90-gptq]="$SH --scheme w4a8 --layer-config $LS90 --method gptq"
  [res-90-rtn]="$RN --scheme w4a8 --layer-config $LR90 --method rtn"
  [res-90-gptq]="$RN --scheme w4a8 --layer-config $LR90 --method gptq"
  [shuf-w4a4-rtn]="$SH --scheme w4a4 --method rtn"
  [shuf-w4a4-gptq]="$SH --scheme w4a4 --method gptq"
  [res-w4a4-rtn]="$RN --scheme w4a4 --method rtn"
  [res-w4a4-gptq]="$RN --scheme w4a4 --method gptq"
)
ORDER="mnv2-w4a8-rtn mnv2-w4a8-gptq mnv2-90-rtn mnv2-90-gptq mnv2-90-gptq-act
       shuf-90-rtn shuf-90-gptq res-90-rtn res-90-gptq
       shuf-w4a4-rtn shuf-w4a4-gptq res-w4a4-rtn res-w4a4-gptq"
for name in ${@:-$ORDER}; do
  echo "main.py ${RUN[$name]} --save-model $RUNS/$name.safetensors" > "$RUNS/$name.command"
  echo "$(date +%T) start $name"
  python main.py ${RUN[$name]} --save-model "$RUNS/$name.safetensors" > "$RUNS/$name.txt" 2> "$RUNS/$name.log"
  echo "$(date +%T) end $name rc $? $(grep -o 'top-1 [0-9.]*%' "$RUNS/$name.log" | tail -1)"
done
