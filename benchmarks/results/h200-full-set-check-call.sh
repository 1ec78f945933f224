#!/usr/bin/env bash
# Session 5, call 6 (carried: .assets/weights, .assets/imagenette10, .whl). After the review fixes: every GPU-only test, then a 12,800-image full set (a regression check, not the figures).
set -u
python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl 2>/dev/null && export PYTHONPATH=/tmp/site
export PYTHONUNBUFFERED=1
R=/tmp/fs9; mkdir -p $R /tmp/w
python3 -c "
import torch
sd = torch.load('.assets/weights/resnet18-imagenette10.fp16.pt', weights_only=True)
torch.save({k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()}, '/tmp/w/resnet18-imagenette10.pth')"
cp .assets/weights/mobilenet_v2-b0353104.pth .assets/weights/standins/shufflenet_v2_x1_0-imagenette10.pth /tmp/w/
N=.assets/imagenette10
SECONDS=0
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/challenge/test_exact.py tests/challenge/test_exact_kernels.py tests/challenge/test_cuda_graph.py -k "gpu or replayed or with_and_without or short_evaluation" -rs > $R/gpu-tests.txt 2>&1
echo "gpu tests rc $? at $SECONDS s" >> $R/stages.txt
export TRITON_CACHE_DIR=/tmp/triton-fresh
timeout 200 python3 benchmarks/full_set.py --weights-dir /tmp/w --out $R/full-set --images 12800 --tree /tmp/tree \
  --source $N --logs $R/logs --cache-dir /tmp/cache --extra "--device cuda" > $R/full_set.out 2> $R/full_set.err
echo "full_set rc $? at $SECONDS s" >> $R/stages.txt
tar czf $OUT/fs9.tgz -C /tmp fs9
tail -15 $R/gpu-tests.txt | cut -c1-300; cat $R/stages.txt; cat $R/full-set.md 2>/dev/null; grep -h "seconds:\|note" $R/logs/*.log | cut -c1-60,150-330
