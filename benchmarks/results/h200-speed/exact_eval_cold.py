"""The exact runtime's first evaluation on a GPU, split: loading the artifact, the Triton kernels'
self-check (their first compilations), the first evaluation of the images (the model's own
compilations, cuBLAS's first int8 products) and a second one (issue 20: main.py's evaluate stage
took 10.4 s on 13 images with cold caches on an H100, 0.9 s with warm ones). Run it with fresh
TRITON_CACHE_DIR and TORCHINDUCTOR_CACHE_DIR for the cold figures; one JSON line on stdout.

    python benchmarks/results/h200-speed/exact_eval_cold.py A.safetensors --data DIR [--classes FILE]
"""
import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
import torch  # noqa: E402

from challenge import evaluate  # noqa: E402
from challenge.artifact import load_artifact  # noqa: E402
from challenge.quant import exact_kernels  # noqa: E402
from challenge.search.realdata import load_images  # noqa: E402


def clock() -> float:
    torch.cuda.synchronize()
    return time.perf_counter()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("artifact")
    parser.add_argument("--data", required=True)
    parser.add_argument("--classes")
    args = parser.parse_args()
    device = torch.device("cuda")
    torch.zeros(1, device=device)
    seconds, started = {}, clock()
    qmodel, contents = load_artifact(args.artifact, device)
    seconds["load"] = clock() - started
    images, labels = load_images(args.data, args.classes, contents.num_classes, None, None)
    started = clock()
    seconds["kernels_enabled"] = exact_kernels.enabled(device)
    seconds["self_check"] = clock() - started
    for run in ("first_evaluation", "second_evaluation"):
        started = clock()
        classes = evaluate.predict_tensor(qmodel, images, device, 256, label=run).classes
        seconds[run] = clock() - started
    seconds["images"], seconds["top1"] = len(labels), evaluate.top1(classes, labels.tolist())
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in seconds.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
