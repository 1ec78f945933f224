#!/usr/bin/env bash
# Builds the git-ignored folders a device call carries (only the repo travels to the GPU machine,
# 64 MiB at most, and ../shared does not), from ../shared/assets:
#   .assets/weights     MobileNetV2's ImageNet checkpoint
#   .assets/val-tiny    13 labelled ImageNet images (one from each of the first 13 classes): main.py needs --data
#   .assets/nette-w     the ShuffleNetV2 stand-in's checkpoint
#   .assets/half        the ResNet18 stand-in as float16 (44 MB in float32; the scripts widen it back)
#   .assets/nette-tiny  2 imagenette images of each of the 10 classes, and wnids.txt
#   .pydeps             the `progress` package, which the device machine lacks
# Then name them in `carry`, e.g. [".assets/weights", ".assets/val-tiny", ".pydeps"].
#   bash benchmarks/device_assets.sh [ASSETS_DIR]   (default ../shared/assets)
set -euo pipefail
cd "$(dirname "$0")/.."
A=${1:-../shared/assets}
[ -f "$A/MANIFEST.md" ] || { echo "error: no assets at $A (pass the folder holding MANIFEST.md)" >&2; exit 2; }
rm -rf .assets.new && mkdir -p .assets.new/{weights,val-tiny,nette-w,half,nette-tiny}
cp "$A/weights/mobilenet_v2-b0353104.pth" .assets.new/weights/
cp "$A/weights/standins/shufflenet_v2_x1_0-imagenette10.pth" .assets.new/nette-w/
first() { find "$1" -maxdepth 1 -type f | sort | head -n "$2"; }
for d in $(find "$A/imagenet/val" -mindepth 1 -maxdepth 1 -type d | sort | head -13); do
  mkdir -p ".assets.new/val-tiny/$(basename "$d")" && cp $(first "$d" 1) ".assets.new/val-tiny/$(basename "$d")/"
done
for d in $(find "$A/imagenette10" -mindepth 1 -maxdepth 1 -type d | sort); do
  mkdir -p ".assets.new/nette-tiny/$(basename "$d")" && cp $(first "$d" 2) ".assets.new/nette-tiny/$(basename "$d")/"
done
cp "$A/imagenette10/wnids.txt" .assets.new/nette-tiny/
"${PYTHON:-python3}" - "$A/weights/standins/resnet18-imagenette10.pth" .assets.new/half/resnet18-imagenette10.half.pth <<'PY'
import sys
import torch
state = torch.load(sys.argv[1], weights_only=True)
torch.save({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, sys.argv[2])
PY
rm -rf .assets && mv .assets.new .assets
[ -d .pydeps/progress ] || "${PYTHON:-python3}" -m pip install -q --target .pydeps progress
du -sh .assets/* .pydeps >&2
