#!/usr/bin/env bash
# Issue 20, device call 20 (written 2026-12-07, ninth session): what call 19 left unmeasured, at
# the defaults since then (Genie-D's steps eager: cuda_graph=False). About 260 s:
# 1. MobileNetV2, Genie-D 1,024 images at the defaults, then int8 round to nearest (acceptance 3:
#    the int8 row of call 17 again), artifact kept; its generate seconds are the Genie-D target's;
# 2. the ResNet18 stand-in's whole `w4a8 genie brecq` command (weights travel in float16 and are
#    widened back, as in call 16), artifact kept.
# Top-1 on the CPU machine: python -m benchmarks.evaluate_artifacts runs/c20/A.safetensors
# (--data ../shared/assets/imagenet/val for MobileNetV2). Tarred under $OUT every 20 s.
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c20 TRITON_CACHE_DIR=/tmp/triton-c20
RETURN_TO=$OUT; OUT=runs/c20; rm -rf "$OUT" /tmp/ind-c20 /tmp/triton-c20; mkdir -p "$OUT"
keep() { tar cf "$RETURN_TO/c20.tar" --exclude="*.png" -C runs c20; }
LIMIT=${LIMIT:-590}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
( while sleep 20; do keep; done ) & packer=$!
mkdir -p /tmp/r18 && python3 -c "
import torch
sd = torch.load('.assets/half/resnet18-imagenette10.half.pth', weights_only=True)
torch.save({k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()}, '/tmp/r18/resnet18-imagenette10.pth')"
timeout 110 python3 -m benchmarks.pipeline_speed --out $OUT --label mnv2-int8 -- --model mobilenet_v2 \
  --weights-dir .assets/weights --data .assets/val-tiny --scheme int8 --generator genie --device cuda --no-cache \
  --save-model $OUT/mnv2-int8-genie-rtn.safetensors
echo "mnv2-int8 rc $? at $SECONDS s"
grep -a "genie batch\|seconds:\|top-1\|Error" $OUT/mnv2-int8.log | cut -c1-220; keep
timeout $((LIMIT - SECONDS)) python3 -m benchmarks.pipeline_speed --out $OUT --label resnet18 -- --model resnet18 \
  --weights-dir /tmp/r18 --classes .assets/nette-tiny/wnids.txt --data .assets/nette-tiny --scheme w4a8 \
  --generator genie --method brecq --device cuda --no-cache --save-model $OUT/resnet18-w4a8-genie-brecq.safetensors
echo "resnet18 rc $? at $SECONDS s"
grep -a "genie batch\|units in\|seconds:\|top-1\|Error" $OUT/resnet18.log | cut -c1-220
kill $packer; keep
tail -3 $OUT/pipeline_speed.md 2>/dev/null
echo "elapsed $SECONDS s"
