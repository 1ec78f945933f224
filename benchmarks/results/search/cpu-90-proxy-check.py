"""Which output distance, measured without labels, ranks the cost of a 90% model's low-bit layers
as the labelled top-1 does (issue 21)? For groups of the artifact's layers given back 8-bit
weights (as cpu-90-layer-restore.py), one row each: the labelled top-1 (halves A / B: even and
odd positions), and each distance from the FP32 model's output, mean over images, measured twice:
on the real images (labels unused) and on held-out synthetic images (float tensors saved as
safetensors, key "images", e.g. gpu-90-samples.sh's heldout-*.safetensors).

If a distance ranks the groups on the real images but not on the synthetic ones, the images are
what misleads a data-free search; if it misranks on both, the distance is.

    python benchmarks/results/search/cpu-90-proxy-check.py A.safetensors --data ../shared/assets/imagenet/val \
        --images heldout-0.safetensors heldout-1.safetensors
"""
import argparse
import contextlib
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from benchmarks.generators import ASSETS, DEFAULT_SETUP  # noqa: E402
from challenge import evaluate  # noqa: E402
from challenge.artifact import load_artifact  # noqa: E402
from challenge.data import normalize  # noqa: E402
from challenge.models import load_fp32_model  # noqa: E402
from challenge.quant.exact import exact_runtime, normalize_exact  # noqa: E402
from challenge.quant.methods._capture import folded_fp32  # noqa: E402
from challenge.quant.modules import quant_layers  # noqa: E402
from challenge.search.realdata import load_images  # noqa: E402

_spec = importlib.util.spec_from_file_location("layer_restore", Path(__file__).with_name("cpu-90-layer-restore.py"))
_restore = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_restore)
give_back_eight_bits = _restore.give_back_eight_bits  # the same restoring as cpu-90-layer-restore.py


def distances(reference: torch.Tensor, logits: torch.Tensor) -> dict[str, float]:
    """Mean over images of each candidate distance (float64)."""
    p_log = torch.log_softmax(reference.double(), dim=1)
    q_log = torch.log_softmax(logits.double(), dim=1)
    top = p_log.argmax(dim=1, keepdim=True)
    top5 = p_log.topk(5, dim=1).indices
    p5 = torch.log_softmax(reference.double().gather(1, top5), dim=1)
    q5 = torch.log_softmax(logits.double().gather(1, top5), dim=1)
    others = logits.double().scatter(1, top, float("-inf")).amax(dim=1)
    return {
        "kl": float((p_log.exp() * (p_log - q_log)).sum(1).mean()),
        "kl-top5": float((p5.exp() * (p5 - q5)).sum(1).mean()),
        "nll-top1": float((p_log.gather(1, top) - q_log.gather(1, top)).mean()),
        "flips %": float(100 * (logits.argmax(1, keepdim=True) != top).double().mean()),
        "margin-loss": float((others - logits.double().gather(1, top).squeeze(1)).clamp(min=-5).mean()),
        "mse": float((logits.double() - reference.double()).pow(2).mean()),
    }


def logits_of(model, batches, exact: bool) -> torch.Tensor:
    with torch.no_grad(), (exact_runtime() if exact else contextlib.nullcontext()):
        return torch.cat([model(b) for b in batches])


def confidence(logits: torch.Tensor) -> str:
    p = torch.softmax(logits.double(), dim=1)
    entropy = -(p * p.clamp_min(1e-30).log()).sum(1)
    return f"max prob {float(p.amax(1).mean()):.3f}, entropy {float(entropy.mean()):.2f} nats"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("artifact")
    parser.add_argument("--data", required=True)
    parser.add_argument("--images", nargs="+", required=True, help="safetensors files of synthetic images")
    args = parser.parse_args()
    qmodel, contents = load_artifact(args.artifact, "cpu")
    weights, _, _ = DEFAULT_SETUP[contents.arch]
    fp32 = load_fp32_model(contents.arch, ASSETS / weights).model.eval()
    folded = folded_fp32(fp32)
    synthetic = torch.cat([load_file(f)["images"].float() for f in args.images])
    images, labels = load_images(args.data, None, contents.num_classes, None, None)
    real_q = [normalize_exact(images[i:i + 64]) for i in range(0, len(images), 64)]
    real_f = [normalize(images[i:i + 64]) for i in range(0, len(images), 64)]
    syn = [synthetic[i:i + 64] for i in range(0, len(synthetic), 64)]
    fp32_real, fp32_syn = logits_of(fp32, real_f, False), logits_of(fp32, syn, False)
    print(f"FP32 on {len(images)} real images: {confidence(fp32_real)}; "
          f"on {len(synthetic)} synthetic: {confidence(fp32_syn)}\n")
    layers = quant_layers(qmodel)
    saved = {name: (layer.weight_int.clone(), layer.weight_scale.clone()) for name, layer in layers.items()}
    bits = {name: layer.spec.weight_bits for name, layer in layers.items()}
    low = [n for n in layers if bits[n] in (2, 3)]
    groups = {"as saved": []}
    groups.update({f"{n} ({bits[n]}b)": [n] for n in low})
    groups.update({"every 2-bit layer": [n for n in low if bits[n] == 2],
                   "every 3-bit layer": [n for n in low if bits[n] == 3],
                   "every 2- and 3-bit layer": low})
    names = list(distances(fp32_syn, fp32_syn))
    print("| layers at 8 bits | top-1 | A | B | " + " | ".join(f"real {n}" for n in names) + " | "
          + " | ".join(f"syn {n}" for n in names) + " |")
    print("|---|" + "---:|" * (3 + 2 * len(names)))
    truth = labels.tolist()
    for label, restore in groups.items():
        give_back_eight_bits(layers, folded, saved, restore)
        real = logits_of(qmodel, real_q, True)
        classes = real.argmax(1).tolist()
        top1 = [evaluate.top1(classes[s::k], truth[s::k]) for s, k in ((0, 1), (0, 2), (1, 2))]
        on_real, on_syn = distances(fp32_real, real), distances(fp32_syn, logits_of(qmodel, syn, True))
        print(f"| {label} | {top1[0]:.2f} | {top1[1]:.2f} | {top1[2]:.2f} | "
              + " | ".join(f"{on_real[n]:.4f}" for n in names) + " | "
              + " | ".join(f"{on_syn[n]:.4f}" for n in names) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
