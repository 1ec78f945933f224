"""Where a 90% MobileNetV2 loses its points (issue 21): the artifact's top-1 with groups of its
layers given back 8-bit weights (round to nearest, per channel, from the folded FP32 weights), all
else as saved. A diagnostic, not a submission: the restored model is larger. Runs on the CPU with
the reference runtime; halves A / B are the even and odd positions.

With `--synthetic N`, each row also gives what could be measured without data: the mean KL of the
quantized model's output from the FP32 model's (the search's `kl` proxy) on N synthetic images
(`--generator`, `--gen-iterations`), the question being whether it ranks the groups as the
labelled top-1 does.

    python benchmarks/results/search/cpu-90-layer-restore.py A.safetensors --data ../shared/assets/imagenet/val \
        [--synthetic 32 --generator zeroq --gen-iterations 100]
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
import torch  # noqa: E402

from benchmarks.generators import ASSETS, DEFAULT_SETUP  # noqa: E402
from challenge import evaluate  # noqa: E402
from challenge.artifact import load_artifact  # noqa: E402
from challenge.models import load_fp32_model  # noqa: E402
from challenge.quant.methods._capture import folded_fp32  # noqa: E402
from challenge.quant.modules import quant_layers  # noqa: E402
from challenge.quant.weights import quantize_with_scale, weight_scale  # noqa: E402
from challenge.quant.exact import exact_runtime  # noqa: E402
from challenge.search.proxies import get_proxy  # noqa: E402
from challenge.search.realdata import load_images  # noqa: E402
from synth import get_generator  # noqa: E402


def give_back_eight_bits(layers, folded, saved, names) -> None:
    """Layers in `names` get 8-bit weights (round to nearest, per channel, from the folded FP32
    weights); every other layer its saved integers and scales."""
    for name, layer in layers.items():
        if name in names:
            w = folded.get_submodule(name).weight.detach()
            scale = weight_scale(w, 8)
            layer.set_integer_weight(quantize_with_scale(w, scale, 8), scale)
        else:
            layer.set_integer_weight(*saved[name])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("artifact")
    parser.add_argument("--data", required=True)
    parser.add_argument("--synthetic", type=int, default=0, help="synthetic images for the KL column (0: none)")
    parser.add_argument("--generator", default="zeroq")
    parser.add_argument("--gen-iterations", type=int, default=100)
    args = parser.parse_args()
    qmodel, contents = load_artifact(args.artifact, "cpu")
    weights, _, _ = DEFAULT_SETUP[contents.arch]
    fp32 = load_fp32_model(contents.arch, ASSETS / weights).model
    folded = folded_fp32(fp32)
    synthetic = reference = None
    if args.synthetic:
        torch.manual_seed(0)
        synthetic = torch.cat(list(get_generator(args.generator)(fp32, num_classes=contents.num_classes,
                                                                 num_samples=args.synthetic,
                                                                 iterations=args.gen_iterations)))
        with torch.no_grad():
            reference = fp32(synthetic)
        kl = get_proxy("kl")
    images, labels = load_images(args.data, None, contents.num_classes, None, None)
    layers = quant_layers(qmodel)
    saved = {name: (layer.weight_int.clone(), layer.weight_scale.clone()) for name, layer in layers.items()}
    bits = {name: layer.spec.weight_bits for name, layer in layers.items()}
    sizes = {name: layer.weight_int.numel() for name, layer in layers.items()}
    groups = {"as saved": [],
              "classifier.1": ["classifier.1"],
              "features.18.0": ["features.18.0"],
              "every 2-bit layer": [n for n in layers if bits[n] == 2],
              "every 3-bit layer": [n for n in layers if bits[n] == 3],
              "every 2- and 3-bit layer": [n for n in layers if bits[n] in (2, 3)]}
    kl_column = f" KL on {args.synthetic} {args.generator} images |" if args.synthetic else ""
    print(f"| layers at 8 bits | weights restored | top-1 | half A | half B |{kl_column}")
    print("|---|---:|---:|---:|---:|" + ("---:|" if args.synthetic else ""))
    for label, names in groups.items():
        give_back_eight_bits(layers, folded, saved, names)
        classes = evaluate.predict_tensor(qmodel, images, "cpu", 64, label=label).classes
        truth = labels.tolist()
        top1 = [evaluate.top1(classes[start::step], truth[start::step]) for start, step in ((0, 1), (0, 2), (1, 2))]
        distance = ""
        if args.synthetic:
            with torch.no_grad(), exact_runtime():
                distance = f" {float(kl.distance(reference, qmodel(synthetic)).mean()):.4f} |"
        print(f"| {label} | {sum(sizes[n] for n in names):,} | {top1[0]:.2f} | {top1[1]:.2f} | {top1[2]:.2f} |{distance}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
