#!/usr/bin/env bash
# Session 5, call 4 (the call behind h200-full-set.md; carried: .assets/weights, .assets/imagenette10, .whl): the fused Triton kernels and CUDA-graph replay: GPU tests, the full set, a timeline, a cross-check with kernels and graphs off.
set -u
python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
export PYTHONUNBUFFERED=1
R=/tmp/fs7; mkdir -p $R /tmp/w
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > $R/machine.txt; nproc >> $R/machine.txt
python3 -c "import torch, torchvision, PIL, triton; print(torch.__version__, torchvision.__version__, PIL.__version__, 'triton', triton.__version__)" >> $R/machine.txt 2>&1
python3 -c "
import torch
sd = torch.load('.assets/weights/resnet18-imagenette10.fp16.pt', weights_only=True)
torch.save({k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()}, '/tmp/w/resnet18-imagenette10.pth')"
cp .assets/weights/mobilenet_v2-b0353104.pth .assets/weights/standins/shufflenet_v2_x1_0-imagenette10.pth /tmp/w/
N=.assets/imagenette10
SECONDS=0
timeout 200 python3 -m pytest -q -p no:cacheprovider tests/challenge/test_exact.py tests/challenge/test_exact_kernels.py tests/challenge/test_cuda_graph.py -k "gpu or replayed or with_and_without" -rs > $R/gpu-tests.txt 2>&1
echo "gpu tests rc $? at $SECONDS s" >> $R/stages.txt
export TRITON_CACHE_DIR=/tmp/triton-fresh  # the cold run compiles the kernels too
timeout 330 python3 benchmarks/full_set.py --weights-dir /tmp/w --out $R/full-set --images 50000 --tree /tmp/tree \
  --source $N --logs $R/logs --cache-dir /tmp/cache --extra "--device cuda" > $R/full_set.out 2> $R/full_set.err
echo "full_set rc $? at $SECONDS s" >> $R/stages.txt
date +%s.%N > $R/timeline.txt
timeout 90 python3 benchmarks/results/h200-full-set-timeline.py --model resnet18,mobilenet_v2,shufflenet_v2_x1_0 --data /tmp/tree \
  --classes $N/wnids.txt --weights-dir /tmp/w --cache-dir /tmp/cache --device cuda --save-dir /tmp/models > /tmp/timeline-output.txt 2> $R/timeline.log
date +%s.%N >> $R/timeline.txt
cmp /tmp/timeline-output.txt $R/logs/one.out.txt >> $R/timeline.txt 2>&1; echo "cmp rc $?" >> $R/timeline.txt
echo "timeline done at $SECONDS s" >> $R/stages.txt
DFQ_EXACT_KERNELS=0 DFQ_CUDA_GRAPHS=0 timeout 60 python3 benchmarks/results/h200-full-set-crosscheck.py /tmp/timeline-output.txt /tmp/tree /tmp/cache /tmp/models 5120 $N/wnids.txt > $R/crosscheck.txt 2>&1
echo "crosscheck done at $SECONDS s" >> $R/stages.txt
tar czf $OUT/fs7.tgz -C /tmp fs7
cat $R/machine.txt; tail -25 $R/gpu-tests.txt | cut -c1-300; tail -c 1500 $R/full_set.err; cat $R/stages.txt; cat $R/full-set.md 2>/dev/null; cat $R/timeline.txt; grep TIMELINE $R/timeline.log; tail -2 $R/crosscheck.txt
