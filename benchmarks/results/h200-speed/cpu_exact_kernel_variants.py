"""How many Triton compilations the exact runtime's first GPU evaluation of an artifact asks for
(issue 20: the evaluate stage took 10.4 s cold on 13 images on an H100, 0.8 s warm).

Triton compiles a kernel once per specialization key (tests/challenge/kernel_cases.py's
record_specializations). This runs the evaluation of one image on the CPU under Triton's
interpreter, which compiles nothing, with the int8 products taken where a GPU takes them, and
counts the distinct keys per kernel, the self-check's included.

    TRITON_INTERPRET=1 python benchmarks/results/h200-speed/cpu_exact_kernel_variants.py A.safetensors [--images N]
"""
import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
import torch  # noqa: E402

from challenge.artifact import load_artifact  # noqa: E402
from challenge.quant import exact_int8, exact_kernels  # noqa: E402
from challenge.quant.exact import exact_runtime  # noqa: E402
from challenge.quant.modules import quant_layers  # noqa: E402
from tests.challenge.kernel_cases import record_specializations  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("artifact")
    parser.add_argument("--images", type=int, default=1)
    args = parser.parse_args()
    if os.environ.get("TRITON_INTERPRET") != "1":
        sys.exit("error: run under TRITON_INTERPRET=1 (Triton's interpreter: nothing is compiled)")
    keys = record_specializations()
    exact_kernels.enabled("cpu")  # the self-check's launches
    checked = {name: set(found) for name, found in keys.items()}
    on_gpu = exact_int8.applies  # the int8 products where a GPU takes them
    exact_int8.applies = lambda layer, device: on_gpu(layer, torch.device("cuda"))
    qmodel, _ = load_artifact(args.artifact, "cpu")
    with torch.no_grad(), exact_runtime():
        qmodel(torch.randn(args.images, 3, 224, 224))
    caches = [layer._exact_cache for layer in quant_layers(qmodel).values()]
    print("layers through the kernels: " + ", ".join(
        f"{sum(c[kind] is not None for c in caches)} {kind}" for kind in ("int8", "depthwise")))
    for name, found in sorted(keys.items()):
        print(f"{name}: {len(found)} keys, {len(checked.get(name, ()))} of them from the self-check")
    print(f"total: {sum(len(found) for found in keys.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
