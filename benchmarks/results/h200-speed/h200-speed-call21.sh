#!/usr/bin/env bash
# Issue 20, device call 21 (written 2026-12-07, tenth session): where a brecq step's GPU time goes
# now (the third session's profile, call 8, predates channels-last, the fused QDrop draws and the
# per-row regulariser; with the activations absorbed into the fused quantizer chains, commit
# edb202e), then what call 20 was to measure. About 380 s:
# 1. profile_brecq_units.py: MobileNetV2 w4a8, Gaussian 256 images, brecq 300 iterations; 50
#    replayed steps of features.2, features.3, features.10, features.14 and features.17 under
#    torch.profiler (top 30 kernels each);
# 2. call 20: MobileNetV2 Genie-D 1,024 images at the defaults (eager steps) then int8 round to
#    nearest, artifact kept; the ResNet18 stand-in's whole `w4a8 genie brecq` command, artifact kept.
# Top-1 on the CPU machine: python -m benchmarks.evaluate_artifacts runs/c21/A.safetensors
# (--data ../shared/assets/imagenet/val for MobileNetV2). Tarred under $OUT every 20 s.
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c21 TRITON_CACHE_DIR=/tmp/triton-c21
RETURN_TO=$OUT; OUT=runs/c21; rm -rf "$OUT" /tmp/ind-c21 /tmp/triton-c21; mkdir -p "$OUT"
keep() { tar cf "$RETURN_TO/c21.tar" --exclude="*.png" -C runs c21; }
LIMIT=${LIMIT:-590}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
( while sleep 20; do keep; done ) & packer=$!
timeout 120 python3 benchmarks/results/h200-speed/profile_brecq_units.py features.2,features.3,features.10,features.14,features.17 \
  --model mobilenet_v2 --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator gaussian \
  --num-samples 256 --method brecq --method-arg iterations=300 --device cuda --no-cache > $OUT/profile.txt 2> $OUT/profile.log
echo "profile rc $? at $SECONDS s"; grep -a "brecq .*/20\|Self CUDA time total\|Error" $OUT/profile.log | cut -c1-200; keep
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
