#!/usr/bin/env bash
# Issue 20, device call 7 (2026-12-06, the session's last device minutes): Genie-D a step for the
# ResNet18 and ShuffleNetV2 stand-ins, eager (float32) and compiled (bf16), two batches of 40 steps
# of 256, the first including compiling on a cold cache. The ResNet18 stand-in travels in float16
# (45 MB in float32 does not fit the transfer beside the rest) and is widened back to float32
# here: the same architecture and shapes, weights rounded to float16 (speed only).
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps
G=benchmarks/results/h200-speed/genie_batches.py
mkdir -p /tmp/r18 && python3 -c "
import torch
sd = torch.load('.assets/half/resnet18-imagenette10.half.pth', weights_only=True)
torch.save({k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()}, '/tmp/r18/resnet18-imagenette10.pth')"
DFQ_COMPILE=0 timeout 30 python3 $G resnet18 /tmp/r18 512 40 fp32 2>&1 | grep -a "genie\|rror" | tail -3
timeout 110 python3 $G shufflenet_v2_x1_0 .assets/nette-w 512 40 auto 2>&1 | grep -a "genie\|rror" | tail -3
echo "elapsed $SECONDS s"
timeout $((215 - SECONDS)) python3 $G resnet18 /tmp/r18 512 40 auto 2>&1 | grep -a "genie\|rror" | tail -3
echo "elapsed $SECONDS s"
