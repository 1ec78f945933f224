#!/usr/bin/env bash
# Build the example submission with the baseline on the shared imagenette10 images and the
# stand-in weights, then pack and check it. Nothing it makes is committed (weights are large).
#
#   bash submissions/make_example.sh [LIMIT]     # about 3 minutes on 2 CPU cores for LIMIT=50
#
# The stand-ins are 10-class ResNet18 and ShuffleNetV2 (no 10-class MobileNetV2 exists), so the
# example challenge has those two models: submissions/example/challenge.toml says so, which is
# how organizers run the scorer on another set of models.
#
# Writes submissions/example/{output.txt,models/,ground_truth.csv,challenge.toml} and
# submissions/inbox/example-team/baseline.zip, ready for `python -m scorer run`.
set -euo pipefail
cd "$(dirname "$0")/.."
LIMIT="${1:-50}"
ASSETS="${ASSETS:-../shared/assets}"
DATA="$ASSETS/imagenette10"
OUT=submissions/example
MODELS=(resnet18 shufflenet_v2_x1_0)
mkdir -p "$OUT/models" submissions/inbox/example-team
: > "$OUT/output.txt"
for model in "${MODELS[@]}"; do
  "${PYTHON:-python3}" main.py --model "$model" --data "$DATA" --weights "$ASSETS/weights/standins/$model-imagenette10.pth" \
    --classes "$DATA/wnids.txt" --limit "$LIMIT" --save-model "$OUT/models/$model.safetensors" >> "$OUT/output.txt"
done
# The ground truth of the images evaluated: the first LIMIT of labels.csv in canonical (sorted) order.
"${PYTHON:-python3}" - "$DATA/labels.csv" "$LIMIT" "$OUT/ground_truth.csv" <<'PY'
import csv, sys
rows = sorted(csv.DictReader(open(sys.argv[1], encoding="utf-8")), key=lambda r: r["file"])[: int(sys.argv[2])]
with open(sys.argv[3], "w", encoding="utf-8") as out:
    out.write("file,index\n" + "".join(f"{r['file']},{r['index']}\n" for r in rows))
PY
cat > "$OUT/challenge.toml" <<TOML
[challenge]
models = ["resnet18", "shufflenet_v2_x1_0"]
num_classes = 10
ground_truth = "ground_truth.csv"
images = "$(cd "$DATA" && pwd)"
TOML
"${PYTHON:-python3}" -m scorer pack --config "$OUT/challenge.toml" --output "$OUT/output.txt" --models "$OUT/models" \
  --code synth --out submissions/inbox/example-team/baseline.zip
echo "now: python -m scorer run --config $OUT/challenge.toml --out submissions/leaderboard"
