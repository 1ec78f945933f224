#!/usr/bin/env bash
# Device call 27 (twelfth session), about 180 s: the ShuffleNetV2 stand-in's whole `w4a8 genie
# brecq` command at the defaults with fresh caches, on the code after the slice fix (call 24
# measured its units at 3,000 iterations) and the exact kernels' fewer compilations (call 26).
# Top-1 here: python -m benchmarks.evaluate_artifacts runs/c27/shufflenet_v2_x1_0-w4a8-genie-brecq.safetensors
export PYTHONUNBUFFERED=1 PYTHONPATH=.pydeps TORCHINDUCTOR_CACHE_DIR=/tmp/ind-c27 TRITON_CACHE_DIR=/tmp/triton-c27
RETURN_TO=$OUT; OUT=runs/c27; rm -rf "$OUT"; mkdir -p "$OUT"
keep() { tar cf "$RETURN_TO/c27.tar" --exclude="*.png" -C runs c27; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
( while sleep 15; do keep; done ) & packer=$!
timeout $((${LIMIT:-225} - SECONDS)) python3 -m benchmarks.pipeline_speed --out $OUT --label shufflenet -- \
  --model shufflenet_v2_x1_0 --weights-dir .assets/nette-w --classes .assets/nette-tiny/wnids.txt \
  --data .assets/nette-tiny --scheme w4a8 --generator genie --method brecq --device cuda --no-cache \
  --save-model $OUT/shufflenet_v2_x1_0-w4a8-genie-brecq.safetensors
echo "shufflenet rc $? at $SECONDS s"; grep -a "genie batch\|brecq .*/19\|units in\|seconds:\|Error" $OUT/shufflenet.log | cut -c1-200
kill $packer; keep
tail -3 $OUT/pipeline_speed.md 2>/dev/null
echo "elapsed $SECONDS s"
