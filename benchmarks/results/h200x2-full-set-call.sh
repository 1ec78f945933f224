#!/usr/bin/env bash
# Not run yet (nvidia-h200-x2 was not lent): the two-GPU target of issue 9. Carry .assets/weights, .assets/imagenette10 and .whl (as h200-full-set-call.sh does), run on nvidia-h200-x2; compare the evaluate seconds of logs/warm.log and logs/nproc2.log.
set -u
python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl 2>/dev/null && export PYTHONPATH=/tmp/site
export PYTHONUNBUFFERED=1
R=/tmp/fs8; mkdir -p $R /tmp/w
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > $R/machine.txt; nproc >> $R/machine.txt
python3 -c "
import torch
sd = torch.load('.assets/weights/resnet18-imagenette10.fp16.pt', weights_only=True)
torch.save({k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()}, '/tmp/w/resnet18-imagenette10.pth')"
cp .assets/weights/mobilenet_v2-b0353104.pth .assets/weights/standins/shufflenet_v2_x1_0-imagenette10.pth /tmp/w/
N=.assets/imagenette10
SECONDS=0
export TRITON_CACHE_DIR=/tmp/triton-fresh
timeout 420 python3 benchmarks/full_set.py --weights-dir /tmp/w --out $R/full-set --images 50000 --tree /tmp/tree \
  --source $N --logs $R/logs --cache-dir /tmp/cache --nproc 2 --extra "--device cuda" > $R/full_set.out 2> $R/full_set.err
echo "full_set rc $? at $SECONDS s" >> $R/stages.txt
tar czf $OUT/fs8.tgz -C /tmp fs8
cat $R/machine.txt; tail -c 1200 $R/full_set.err; cat $R/stages.txt; cat $R/full-set.md 2>/dev/null; grep -h "seconds:" $R/logs/*.log | cut -c1-40,180-320
