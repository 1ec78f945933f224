#!/usr/bin/env bash
# Issue 20, device call 16 (written 2026-12-07, seventh session; not yet run; after call 14 shows
# that Genie-D's compiled=kernels runs and is faster): the two stand-ins' whole `w4a8 genie brecq`
# command with GENIE_COMPILED (default kernels), fresh Triton and Inductor caches, as a new user
# meets it; the rows of the three-model table next to call 9 (ResNet18, 292.3 s) and call 11
# (ShuffleNetV2, 293.9 s), both with the whole step compiled. The ResNet18 stand-in travels in
# float16 (the transfer limit) and is widened back to float32 here, as in call 9: its top-1 is that
# of weights rounded to fp16. Artifacts come back; top-1 on this side's 1,670 imagenette images:
# python -m benchmarks.evaluate_artifacts runs/c16/*.safetensors
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps
RETURN_TO=$OUT; OUT=runs/c16; rm -rf "$OUT"; mkdir -p "$OUT"
keep() { tar cf "$RETURN_TO/c16.tar" --exclude="*.png" -C runs c16; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
( while sleep 20; do keep; done ) & packer=$!
mkdir -p /tmp/r18 && python3 -c "
import torch
sd = torch.load('.assets/half/resnet18-imagenette10.half.pth', weights_only=True)
torch.save({k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()}, '/tmp/r18/resnet18-imagenette10.pth')"
run() {  # model weights-dir seconds
  rm -rf /tmp/ind-c16-$1 /tmp/triton-c16-$1
  TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c16-$1 TRITON_CACHE_DIR=/tmp/triton-c16-$1 timeout $3 \
    python3 -m benchmarks.pipeline_speed --via benchmarks/results/h200-speed/compile_report.py --out $OUT --label $1 -- \
    --model $1 --weights-dir $2 --classes .assets/nette-tiny/wnids.txt --data .assets/nette-tiny --scheme w4a8 \
    --generator genie --gen-arg compiled=${GENIE_COMPILED:-kernels} --method brecq --device cuda \
    --save-model $OUT/$1-w4a8-genie-brecq.safetensors
  echo "$1 rc $? elapsed $SECONDS s"
  grep -a "genie batch\|units in\|seconds:\|top-1\|Error" $OUT/$1.log | cut -c1-220
  keep
}
run resnet18 /tmp/r18 290
run shufflenet_v2_x1_0 .assets/nette-w $((590 - SECONDS))
kill $packer; keep
tail -4 $OUT/pipeline_speed.md
echo "elapsed $SECONDS s"
