"""nvJPEG against PIL: do GPU-decoded images give the same top-1? (issue 9: within 0.05 points)

    python -m benchmarks.nvjpeg_agreement --model mobilenet_v2 --weights W --data DIR [--classes FILE]
        [--out PREFIX] [--workers N]

Decodes every image twice, with the kit's PIL path (data.EVAL_TRANSFORM in DataLoader workers)
and with challenge/nvjpeg.py on the GPU, timing each. Reports how far the pixels are apart and,
for the FP32 model and its int8 quantization (Gaussian calibration, round to nearest, under the
exact reference runtime as the kit evaluates), top-1 on each decoding and the images whose
predicted class changes. Needs CUDA. Writes PREFIX.json when --out is given.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from challenge import data, evaluate, nvjpeg, quant  # noqa: E402
from challenge.models import load_fp32_model  # noqa: E402
from challenge.process import seed_everything  # noqa: E402
from synth import get_generator  # noqa: E402


def timed(function):
    torch.cuda.synchronize()
    start = time.perf_counter()
    value = function()
    torch.cuda.synchronize()
    return value, time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--classes")
    parser.add_argument("--workers", type=int, default=data.default_workers())
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    seed_everything(0)
    device = torch.device("cuda")
    fp32 = load_fp32_model(args.model, args.weights)
    records = data.list_images(args.data, data.class_list_for(fp32.num_classes, args.classes))
    labels = [r.label for r in records]
    (pil, _), pil_s = timed(lambda: data.decode_all(data.ImageDataset(args.data, records), args.workers))
    gpu, gpu_s = timed(lambda: torch.cat(list(nvjpeg.decoded_batches(args.data, records, args.batch_size,
                                                                          args.workers, device))))
    diff = (pil.short() - gpu.short()).abs()
    result = {"model": args.model, "images": len(records), "data": args.data, "workers": args.workers,
              "gpu": torch.cuda.get_device_name(), "torch": torch.__version__,
              "decode_s": {"pil": round(pil_s, 2), "nvjpeg": round(gpu_s, 2)},
              "pixels": {"mean_abs_diff": round(diff.float().mean().item(), 4), "max_abs_diff": int(diff.max()),
                         "fraction_differing": round((diff > 0).float().mean().item(), 4),
                         "fraction_over_2": round((diff > 2).float().mean().item(), 5)}}
    fp32.model.to(device)
    calibration = get_generator("gaussian")(fp32.model, num_classes=fp32.num_classes, num_samples=32)
    int8 = quant.quantize_model(fp32.model, quant.get_scheme("int8"), calibration).to(device)
    for name, model, exact in (("fp32", fp32.model, False), ("int8", int8, True)):
        on_pil = evaluate.predict_tensor(model, pil, device, 256, exact=exact).classes
        on_gpu = evaluate.predict_tensor(model, gpu, device, 256, exact=exact).classes
        changed = [i for i, (a, b) in enumerate(zip(on_pil, on_gpu)) if a != b]
        top_pil, top_gpu = evaluate.top1(on_pil, labels), evaluate.top1(on_gpu, labels)
        result[name] = {"top1_pil": round(top_pil, 3), "top1_nvjpeg": round(top_gpu, 3),
                        "top1_gap": round(top_gpu - top_pil, 3), "changed_class": len(changed),
                        "within_0.05": abs(top_gpu - top_pil) <= 0.05}
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
