"""Issue 23 (2026-12-06, third session): ResNet18 stand-in exported at int8 and w4a8 (Gaussian
calibration), each timed in ONNX Runtime with and without session.x64quantprecision (batch 32,
random input, 2 threads, median of 3 interleaved runs). Run from the repository root."""
import sys, time, tempfile
from pathlib import Path
import numpy as np, torch, onnxruntime as ort
sys.path.insert(0, ".")
from challenge import artifact, quant
from challenge.models import load_fp32_model
from challenge.export import export_artifact
from synth import get_generator
torch.manual_seed(0)
fp32 = load_fp32_model("resnet18", Path("../shared/assets/weights/standins/resnet18-imagenette10.pth"))
cal = list(get_generator("gaussian")(fp32.model, num_classes=fp32.num_classes, num_samples=32))
x = np.random.RandomState(0).randn(32, 3, 224, 224).astype(np.float32)
scratch = Path(tempfile.mkdtemp()); models = {}
for name in ("int8", "w4a8"):
    q = quant.quantize_model(fp32.model, quant.get_scheme(name), cal)
    p = scratch / f"{name}.safetensors"
    artifact.save_artifact(p, q, arch="resnet18", num_classes=fp32.num_classes, scheme=name, generator="gaussian")
    models[name] = export_artifact(p, p.with_suffix(".onnx")).path.read_bytes()
sessions = {}
for name, data in models.items():
    for exact in (0, 1):
        o = ort.SessionOptions(); o.intra_op_num_threads = 2; o.log_severity_level = 3
        if exact: o.add_session_config_entry("session.x64quantprecision", "1")
        sessions[(name, exact)] = ort.InferenceSession(data, o, providers=["CPUExecutionProvider"])
rates = {k: [] for k in sessions}
for r in range(4):
    for k, s in sessions.items():
        s.run(None, {"input": x}) if r == 0 else None
        t = time.perf_counter(); s.run(None, {s.get_inputs()[0].name: x}); rates[k].append(32 / (time.perf_counter() - t))
for k, v in rates.items(): print(k, "median images/s", round(float(np.median(v[1:])), 1))
