"""Issue 23: where ONNX Runtime's integer activations part from the reference runtime's, layer by
layer: each quantized layer's input integers, for six images whose predicted class differs
between the two runtimes and four where it does not (the first ones of each).
Usage, from the repository root, after benchmarks.runtime_agreement wrote both runs:
    python benchmarks/results/onnxruntime-first-difference.py ARTIFACT REF_RUN ORT_RUN IMAGES_ROOT
e.g. runs/agr/ref/models/mobilenet_v2.safetensors runs/agr/ref runs/agr/ort ../shared/assets/imagenet/val"""
import json, sys
import numpy as np, onnx, torch
sys.path.insert(0, ".")
from challenge import data
from challenge.export import onnx_model
from challenge.export.runtime import session, fold_float_weights, float_layers
from challenge.quant.exact import exact_runtime, normalize_exact, integer_input
from challenge.quant.modules import QuantLayer
from challenge.runtimes import load_model

ART, REF, ORT, ROOT = sys.argv[1:5]
r = json.load(open(f"{REF}/predictions.json"))["models"]["mobilenet_v2"]
o = json.load(open(f"{ORT}/predictions.json"))["models"]["mobilenet_v2"]
differ = [i for i, (a, b) in enumerate(zip(r["classes"], o["classes"])) if a != b]
same = [i for i, (a, b) in enumerate(zip(r["classes"], o["classes"])) if a == b][:4]
pick = differ[:6] + same
images = torch.stack([data.decode_image(f"{ROOT}/{r['images'][i]}") for i in pick])
x = normalize_exact(images)

model, contents = load_model(ART, "reference")
captured = {}
def hook(name):
    def pre(module, args):
        if module.input_quant is not None:
            captured[name] = (integer_input(args[0], module.input_quant) + int(module.input_quant.zero_point)).round().to(torch.int64)
    return pre
order = []
for name, m in model.named_modules():
    if isinstance(m, QuantLayer):
        m.register_forward_pre_hook(hook(name)); order.append(name)
with exact_runtime(), torch.no_grad():
    ref_logits = model(x)

proto, _ = onnx_model(ART)
qnames = {n.output[0]: n.output[0] for n in proto.graph.node if n.op_type in ("QuantizeLinear", "Clip") and ".input" in n.output[0]}
for name in qnames:
    proto.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.UINT8, None))
model_bytes = proto.SerializeToString()
sess = session(fold_float_weights(onnx.load_from_string(model_bytes), float_layers(model_bytes)).SerializeToString())
outs = [o.name for o in sess.get_outputs()]
res = dict(zip(outs, sess.run(outs, {sess.get_inputs()[0].name: x.numpy()})))
print("ops run:", len(outs), "outputs;", "ref argmax", ref_logits.argmax(1).tolist(), "ort argmax", np.argmax(res[outs[0]], 1).tolist())
print("images (first 6 differ):", pick)
for layer in order:
    if layer not in captured: continue
    cands = [n for n in res if n.startswith(f"{layer}.input")]
    if not cands: print(f"{layer:28s} no ORT tensor"); continue
    ort_q = torch.from_numpy(res[cands[-1]].astype(np.int64))
    ref_q = captured[layer]
    if ort_q.shape != ref_q.shape: print(layer, "shape", tuple(ort_q.shape), tuple(ref_q.shape)); continue
    d = (ort_q - ref_q).abs()
    per_image = [int((d[i] > 0).sum()) for i in range(len(pick))]
    print(f"{layer:28s} {cands[-1][len(layer):]:16s} differing values per image {per_image} of {ref_q[0].numel()} max {int(d.max())}")
