#!/usr/bin/env bash
# Issue 20, device call 21 (written 2026-12-07, tenth session), on the code of commit 4a33381 and
# after: brecq's activations absorbed into the fused quantizer chains, each layer's soft weight
# and regulariser in one chain; Genie-D's steps eager (the default since call 19). About 560 s:
# 1. MobileNetV2's whole `w4a8 genie brecq` command at the defaults, fresh Inductor/Triton caches,
#    Genie-D's images kept (--reuse-synthetic), artifact kept: the targets' row;
# 2. profile_brecq_units.py: MobileNetV2 w4a8, Gaussian 256 images, brecq 300 iterations, 50
#    replayed steps of features.2, features.3, features.10, features.14 and features.17 under
#    torch.profiler (top 30 kernels each);
# 3. if at least 220 s are left: the ResNet18 stand-in's whole command, artifact kept;
# 4. if at least 60 s are left: MobileNetV2 int8 round to nearest on step 1's Genie-D images
#    (acceptance 3's int8 row), artifact kept.
# Top-1 on the CPU machine: python -m benchmarks.evaluate_artifacts runs/c21/A.safetensors
# (--data ../shared/assets/imagenet/val for MobileNetV2). Tarred under $OUT every 20 s.
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c21 TRITON_CACHE_DIR=/tmp/triton-c21
RETURN_TO=$OUT; OUT=runs/c21; rm -rf "$OUT" /tmp/ind-c21 /tmp/triton-c21 /tmp/cache-c21; mkdir -p "$OUT"
keep() { tar cf "$RETURN_TO/c21.tar" --exclude="*.png" -C runs c21; }
LIMIT=${LIMIT:-590}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
( while sleep 20; do keep; done ) & packer=$!
timeout $((LIMIT - SECONDS - 100)) python3 -m benchmarks.pipeline_speed --out $OUT --label mnv2 -- --model mobilenet_v2 \
  --weights-dir .assets/weights --data .assets/val-tiny --scheme w4a8 --generator genie --method brecq \
  --device cuda --cache-dir /tmp/cache-c21 --reuse-synthetic --save-model $OUT/mnv2-w4a8-genie-brecq.safetensors
echo "mnv2 rc $? at $SECONDS s"
grep -a "genie batch\|units in\|seconds:\|top-1\|note\|Error" $OUT/mnv2.log | cut -c1-220; keep
timeout $((LIMIT - SECONDS < 110 ? LIMIT - SECONDS : 110)) python3 benchmarks/results/h200-speed/profile_brecq_units.py \
  features.2,features.3,features.10,features.14,features.17 --model mobilenet_v2 --weights-dir .assets/weights \
  --data .assets/val-tiny --scheme w4a8 --generator gaussian --num-samples 256 --method brecq \
  --method-arg iterations=300 --device cuda --no-cache > $OUT/profile.txt 2> $OUT/profile.log
echo "profile rc $? at $SECONDS s"; grep -a "brecq .*/20\|Self CUDA time total\|Error" $OUT/profile.log | cut -c1-200; keep
if [ $((LIMIT - SECONDS)) -ge 220 ]; then
  mkdir -p /tmp/r18 && python3 -c "
import torch
sd = torch.load('.assets/half/resnet18-imagenette10.half.pth', weights_only=True)
torch.save({k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()}, '/tmp/r18/resnet18-imagenette10.pth')"
  timeout $((LIMIT - SECONDS - 60)) python3 -m benchmarks.pipeline_speed --out $OUT --label resnet18 -- --model resnet18 \
    --weights-dir /tmp/r18 --classes .assets/nette-tiny/wnids.txt --data .assets/nette-tiny --scheme w4a8 \
    --generator genie --method brecq --device cuda --no-cache --save-model $OUT/resnet18-w4a8-genie-brecq.safetensors
  echo "resnet18 rc $? at $SECONDS s"
  grep -a "genie batch\|units in\|seconds:\|top-1\|Error" $OUT/resnet18.log | cut -c1-220; keep
fi
if [ $((LIMIT - SECONDS)) -ge 60 ]; then
  timeout $((LIMIT - SECONDS)) python3 -m benchmarks.pipeline_speed --out $OUT --label mnv2-int8 -- --model mobilenet_v2 \
    --weights-dir .assets/weights --data .assets/val-tiny --scheme int8 --generator genie --device cuda \
    --cache-dir /tmp/cache-c21 --reuse-synthetic --save-model $OUT/mnv2-int8-genie-rtn.safetensors
  echo "mnv2-int8 rc $? at $SECONDS s"
  grep -a "genie batch\|seconds:\|top-1\|Error" $OUT/mnv2-int8.log | cut -c1-220
fi
kill $packer; keep
tail -4 $OUT/pipeline_speed.md 2>/dev/null
echo "elapsed $SECONDS s"
