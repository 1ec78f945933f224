#!/usr/bin/env bash
# Quantize and evaluate the three challenge models in turn; output.txt goes to stdout.
#   bash run.bash [main.py options] > output.txt
# Every option is passed to main.py for each model (see `python main.py --help`); with
# --save-dir DIR each quantized model is written to DIR/<model>.safetensors.
# Stops with main.py's non-zero exit code at the first error.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
for arg in "$@"; do
  if [[ "$arg" == --model || "$arg" == --model=* || "$arg" == --save-model || "$arg" == --save-model=* ]]; then
    echo "error: run.bash runs all three models; drop $arg (use --save-dir DIR to save them)" >&2
    exit 2
  fi
  if [[ "$arg" == --export-onnx || "$arg" == --export-onnx=* ]]; then
    echo "error: run.bash runs all three models; drop $arg (use --save-dir DIR, then python -m challenge.export DIR/<model>.safetensors --out <model>.onnx)" >&2
    exit 2
  fi
done
for model in resnet18 mobilenet_v2 shufflenet_v2_x1_0; do
  "${PYTHON:-python3}" main.py --model "$model" "$@"
done
