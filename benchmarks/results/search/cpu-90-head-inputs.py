"""Issue 21 (fourteenth session, 2026-12-07), step 1 of 2 (step 2: cpu-90-head-loss.py): the inputs of
the 90% model's 2-bit classifier, cached. The rest of the model stays as brecq left it, so each
variant of the classifier is scored on the 1,211 shared images in a second.

    python benchmarks/results/search/cpu-90-head-inputs.py a-defaults.safetensors head.pt heldout-0.safetensors heldout-1.safetensors

It caches the classifier inputs (fake-quantized float path) of the 96 held-out Genie-D images of
call 28 and of the 1,211 shared images, and FP32's inputs and logits on the synthetic images.
"""
import sys, time
sys.path.insert(0, ".")
import torch
from safetensors.torch import load_file
from challenge.artifact import load_artifact
from challenge.models import load_fp32_model
from challenge.search.realdata import load_images
from challenge.data import normalize
torch.manual_seed(0); torch.set_num_threads(2)
ART, OUT, HELDOUT = sys.argv[1], sys.argv[2], sys.argv[3:5]
fp32 = load_fp32_model("mobilenet_v2", "../shared/assets/weights/mobilenet_v2-b0353104.pth").model.eval()
qmodel, _ = load_artifact(ART)
head = qmodel.classifier[1]
def capture(model, module, images_norm, bs=64):
    got = []
    h = module.register_forward_hook(lambda m, a, o: got.append(a[0].detach()))
    with torch.no_grad():
        for i in range(0, len(images_norm), bs):
            model(images_norm[i:i + bs])
    h.remove(); return torch.cat(got)
syn = torch.cat([load_file(f)["images"].float() for f in HELDOUT])
t = time.time()
x_q_syn = capture(qmodel, head, syn); x_fp_syn = capture(fp32, fp32.classifier[1], syn)
with torch.no_grad():
    y_fp_syn = fp32.classifier[1](x_fp_syn)
print("synthetic captured", x_q_syn.shape, f"{time.time()-t:.0f}s", flush=True)
images, labels = load_images("../shared/assets/imagenet/val", None, 1000, None, None)
x_q_real = capture(qmodel, head, normalize(images))
torch.save({"x_q_syn": x_q_syn, "x_fp_syn": x_fp_syn, "y_fp_syn": y_fp_syn, "x_q_real": x_q_real, "labels": labels}, OUT)
print("real captured", x_q_real.shape, f"{time.time()-t:.0f}s", flush=True)
