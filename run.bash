#!/usr/bin/env bash
# Quantize and evaluate the three challenge models in turn; output.txt goes to stdout.
#   bash run.bash [main.py options] > output.txt
# Every option is passed to main.py, which runs the three models one after another in one
# process (see `python main.py --help`): Python, PyTorch and the GPU start once, not three
# times. With --save-dir DIR each quantized model is written to DIR/<model>.safetensors.
# --nproc-per-node N runs them as N processes (python -m challenge.launch: torchrun, one GPU
# each on CUDA, gloo on the CPU), after main.py --check-processes N has checked the inputs, so
# a mistake is one error line, not torchrun's report. The models share the decoded-image cache
# (--cache-dir): the first decodes the images, the next two read them. With --reuse-synthetic
# each model's synthetic calibration images are kept there too, and the next run.bash that asks
# the same generator, arguments and seed reads them back instead of generating them again.
# Stops with main.py's non-zero exit code at the first error.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
nproc=""
args=()
while (($#)); do
  case "$1" in
    --nproc-per-node) nproc="${2:-(nothing)}"; shift $(($# > 1 ? 2 : 1)) ;;
    --nproc-per-node=*) nproc="${1#*=}"; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
if [[ -n "$nproc" ]] && ! [[ "$nproc" =~ ^[1-9][0-9]*$ ]]; then
  echo "error: --nproc-per-node needs a number of processes, at least 1 (got '$nproc')" >&2
  exit 2
fi
set -- ${args[@]+"${args[@]}"}
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
python="${PYTHON:-python3}"
if [[ -n "$nproc" ]]; then  # rank 0 calibrates with these threads, not torchrun's 1: the same artifact
  export DFQ_SINGLE_PROCESS_THREADS="${DFQ_SINGLE_PROCESS_THREADS:-$("$python" -c 'import torch; print(torch.get_num_threads())')}"
fi
models=resnet18,mobilenet_v2,shufflenet_v2_x1_0
if [[ -n "$nproc" ]]; then
  "$python" main.py --model "$models" "$@" --check-processes "$nproc"
  "$python" -m challenge.launch --nproc-per-node "$nproc" main.py --model "$models" "$@"
else
  "$python" main.py --model "$models" "$@"
fi
