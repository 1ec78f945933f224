#!/usr/bin/env bash
# Issue 21 (thirteenth session, 2026-12-07; call 30 of the fourteenth session got nothing back from
# it, two bugs since fixed; the fifteenth session ran it cut to `SCHEMES= CURVES=` in 320 s, which
# stopped brecq halfway: gpu-standins-2026-12-07.md): the stand-ins' two targets, 90% within 1.0 point and
# w4a4 within 2.0, never measured with reconstruction. For ResNet18 and ShuffleNetV2 (imagenette
# stand-ins), `benchmarks.frontier --targets 90 --schemes w4a4 --no-rtn`: FP32, the searched 90%
# widths with brecq (10,000, the default), and uniform w4a4 with brecq, Genie-D images shared by a
# model's runs; both models at once, two main.py each (their seconds are not speed figures).
# Carry .assets/half .assets/nette-w .assets/nette-tiny .pydeps (ResNet18 travels as float16:
# the 64 MiB limit; widened back to float32 here). Then here, per model:
#   tar xzf standins-M.tgz; python -m benchmarks.frontier --model M --out runs/frontier90-M \
#     --weights ../shared/assets/weights/standins/M-imagenette10.pth --data ../shared/assets/imagenette10 \
#     --classes ../shared/assets/imagenette10/wnids.txt --targets 90 --schemes w4a4 --no-rtn --rescore
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps
# For a short device budget (fifteenth session): SCHEMES= drops w4a4, and CURVES= adds the
# round-to-nearest run, which then makes the shared images first, so the brecq runs start together.
SCHEMES=${SCHEMES-w4a4} CURVES=${CURVES---no-rtn}
LIMIT=${LIMIT:-580}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
mkdir -p /tmp/w runs && cp .assets/nette-w/shufflenet_v2_x1_0-imagenette10.pth /tmp/w/ && python3 -c "
import torch
sd = torch.load('.assets/half/resnet18-imagenette10.half.pth', weights_only=True)
torch.save({k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()}, '/tmp/w/resnet18-imagenette10.pth')"
# One gzipped tar per model, without the FP32 run's artifact (44 MB for ResNet18; --rescore does
# not read it) or the plots: each returned file must stay under 16 MiB.
pack() { for m in resnet18 shufflenet_v2_x1_0; do
  tar czf "$OUT/standins-$m.tgz" --exclude='*.png' --exclude='*/fp32/model.safetensors' -C runs frontier90-$m frontier90-$m.log 2>/dev/null
done; }
( while sleep 20; do pack; done ) & packer=$!
for model in resnet18 shufflenet_v2_x1_0; do
  TORCHINDUCTOR_CACHE_DIR=/tmp/ind-$model timeout $((LIMIT - 15)) python3 -m benchmarks.frontier --model $model \
    --out runs/frontier90-$model --weights-dir /tmp/w --classes .assets/nette-tiny/wnids.txt --data .assets/nette-tiny \
    --targets 90 ${SCHEMES:+--schemes $SCHEMES} $CURVES --generator genie --method brecq --jobs 2 --device cuda \
    --cache-dir runs/cache-$model > runs/frontier90-$model.log 2>&1 &
  frontiers+=($!)
done
wait "${frontiers[@]}"  # not the packer: it never ends
echo "frontiers done at $SECONDS s"
kill $packer; pack
for model in resnet18 shufflenet_v2_x1_0; do grep -a "rc\|error\|Error\|seconds:" runs/frontier90-$model.log | tail -8; done
ls runs/frontier90-*/runs
