#!/usr/bin/env bash
# NOT RUN on 2026-12-06: no device machine could be had for it that session; ready for the next.
# Issue 20, device call 9 (2026-12-06, second session): the whole `w4a8 genie brecq` command at the
# defaults for the ResNet18 and ShuffleNetV2 stand-ins, each on a cold Inductor cache as a new
# user meets it (the stage table and per-unit breakdown; the artifacts come back and are scored
# on this side's 1,670 imagenette images). The ResNet18 stand-in travels in float16 (the transfer
# limit) and is widened back to float32 here: its top-1 is then that of weights rounded to fp16.
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps
# The device returns only a few files under $OUT (call 10 lost its artifacts that way): the
# runs write under runs/c9 and go back as one tar, made on exit (a timeout included).
RETURN_TO=$OUT; OUT=runs/c9; rm -rf "$OUT"; mkdir -p "$OUT"
trap 'tar cf "$RETURN_TO/c9.tar" --exclude="*.png" -C runs c9' EXIT
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
mkdir -p /tmp/r18 && python3 -c "
import torch
sd = torch.load('.assets/half/resnet18-imagenette10.half.pth', weights_only=True)
torch.save({k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()}, '/tmp/r18/resnet18-imagenette10.pth')"
run() {  # model weights-dir seconds
  TORCHINDUCTOR_CACHE_DIR=/tmp/ind-$1 timeout $3 python3 -m benchmarks.pipeline_speed --out $OUT/$1 --label $1-w4a8-genie-brecq -- \
    --model $1 --weights-dir $2 --classes .assets/nette-tiny/wnids.txt --data .assets/nette-tiny --scheme w4a8 \
    --generator genie --method brecq --device cuda --save-model $OUT/$1/$1-w4a8-genie-brecq.safetensors
  echo "rc $?"
  grep -a "units in\|generated\|seconds\|compiling\|rror" $OUT/$1/*.log | cut -c1-250
  grep -a "^brecq [0-9]*/" $OUT/$1/*.log | cut -c1-160
  head -8 $OUT/$1/pipeline_speed.md 2>/dev/null
  echo "elapsed $SECONDS s"
}
run resnet18 /tmp/r18 330
run shufflenet_v2_x1_0 .assets/nette-w $((590 - SECONDS))
