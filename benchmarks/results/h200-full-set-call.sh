#!/usr/bin/env bash
# Session 4, call 4: issue 9 on one H200: GPU evaluation speed, nvJPEG against PIL, the 50k-image full set.
set -u
python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
export PYTHONUNBUFFERED=1
R=/tmp/fs4; mkdir -p $R /tmp/w
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > $R/machine.txt; nproc >> $R/machine.txt; df -h /tmp >> $R/machine.txt
python3 -c "import torch, torchvision, PIL; print(torch.__version__, torchvision.__version__, PIL.__version__)" >> $R/machine.txt
# ResNet18 stand-in travelled as float16 (64 MiB carry); back to a float32 state_dict here.
python3 -c "
import torch
sd = torch.load('.assets/weights/resnet18-imagenette10.fp16.pt', weights_only=True)
torch.save({k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()}, '/tmp/w/resnet18-imagenette10.pth')"
cp .assets/weights/mobilenet_v2-b0353104.pth .assets/weights/standins/shufflenet_v2_x1_0-imagenette10.pth /tmp/w/
N=.assets/imagenette10
declare -A W=([resnet18]=/tmp/w/resnet18-imagenette10.pth [mobilenet_v2]=/tmp/w/mobilenet_v2-b0353104.pth [shufflenet_v2_x1_0]=/tmp/w/shufflenet_v2_x1_0-imagenette10.pth)
SECONDS=0
python3 -c "import time; t=time.time(); import torch, torchvision; t1=time.time(); torch.zeros(1, device='cuda'); t2=time.time(); print('import torch+torchvision', round(t1-t, 2), 's; first CUDA tensor', round(t2-t1, 2), 's')" > $R/startup.txt 2>&1
echo "startup done at $SECONDS s" >> $R/stages.txt
timeout 300 python3 benchmarks/full_set.py --weights-dir /tmp/w --out $R/full-set --images 50000 --tree /tmp/tree \
  --source $N --logs $R/logs --cache-dir /tmp/cache --extra "--device cuda" > $R/full_set.out 2> $R/full_set.err
echo "full_set rc $? at $SECONDS s" >> $R/stages.txt
# The warm run once more, with import times and the process's start and end stamped.
date +%s.%N > $R/breakdown.txt
timeout 100 python3 -X importtime main.py --model resnet18,mobilenet_v2,shufflenet_v2_x1_0 --data /tmp/tree \
  --classes $N/wnids.txt --weights-dir /tmp/w --cache-dir /tmp/cache --device cuda --save-dir /tmp/models > /tmp/breakdown-output.txt 2> $R/importtime.log
date +%s.%N >> $R/breakdown.txt
cmp /tmp/breakdown-output.txt $R/logs/one.out.txt >> $R/breakdown.txt 2>&1; echo "cmp rc $?" >> $R/breakdown.txt
echo "breakdown done at $SECONDS s" >> $R/stages.txt
timeout 60 python3 .assets/crosscheck.py /tmp/breakdown-output.txt /tmp/tree /tmp/cache /tmp/models 5120 $N/wnids.txt > $R/crosscheck.txt 2>&1
echo "crosscheck done at $SECONDS s" >> $R/stages.txt
tar czf $OUT/fs4.tgz -C /tmp fs4
tail -c 2500 $R/full_set.err; cat $R/stages.txt; cat $R/full-set.md 2>/dev/null; cat $R/startup.txt $R/breakdown.txt; tail -2 $R/crosscheck.txt; grep -v '^import time' $R/importtime.log | tail -4; grep '^import time' $R/importtime.log | sort -t'|' -k2 -n | tail -3
