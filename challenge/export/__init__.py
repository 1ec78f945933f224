"""ONNX export of a quantized-model artifact: a QDQ graph that deployment runtimes read.

    python -m challenge.export models/resnet18.safetensors --out resnet18.onnx

The graph is written from the artifact (read_artifact validates it; load_artifact rebuilds the
kit's model, whose modules give every shape) by qdq.py (each conv/linear layer) and topology.py
(each architecture's forward). Weights are the artifact's integers and scales, activations are
quantized at every conv/linear input as the kit does, and also at block outputs (residual adds,
concatenations, the pool's input: qparams.py), so that ONNX Runtime runs every layer with its
integer kernels (runtime.py). The `fp32` scheme, which quantizes nothing, becomes a plain float
graph (BatchNorm folded).
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import KitError

INPUT_NAME, OUTPUT_NAME = "input", "logits"


@dataclass
class Exported:
    path: Path
    scheme: str
    arch: str
    nodes: int
    seconds: float


def require_packages() -> None:
    """onnx and onnxruntime (requirements.txt) are only needed here: say so in one line."""
    import importlib.util

    missing = [name for name in ("onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise KitError(f"ONNX export and the onnxruntime runtime need the {' and '.join(missing)} package(s); "
                       "install them with pip install -r requirements.txt")


def check_output_path(out) -> Path:
    """Fail early on an --out that cannot be written (a folder, a file as a parent, read-only)."""
    out = Path(out)
    if out.is_dir():
        raise KitError(f"ONNX output {str(out)!r} is a folder; pass the path of the .onnx file to write")
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise KitError(f"cannot write ONNX output {str(out)!r}: {str(parent)!r} is not a writable folder")
    return out


def check_exportable(contents) -> None:
    """Every scheme of the kit's registry exports (the tests run over it); others are refused."""
    from ..quant import list_schemes

    if contents.scheme not in list_schemes():
        raise KitError(f"the artifact's scheme {contents.scheme!r} is not one of this kit's schemes "
                       f"({', '.join(list_schemes())}); only those are exported: re-quantize it with this kit")


def build_onnx(model, contents):
    """The onnx.ModelProto of a model rebuilt by load_artifact (checked by onnx.checker)."""
    import onnx

    from ..quant.fold import fold_batchnorm
    from ..quant.modules import QUANTIZABLE
    from .graph import Graph
    from .topology import ARCHITECTURES

    check_exportable(contents)
    if not contents.layers:
        fold_batchnorm(model)  # fp32: the plain float model, as the other schemes fold it
    g = Graph()
    logits = ARCHITECTURES[contents.arch](g, model.eval(), INPUT_NAME)
    g.nodes.append(onnx.helper.make_node("Identity", [logits], [OUTPUT_NAME], name="logits/Identity"))
    layers = sorted(n.name.rsplit("/", 1)[0] for n in g.nodes if n.op_type in ("Conv", "Gemm"))
    expected = sorted(contents.layers or (name for name, m in model.named_modules() if isinstance(m, QUANTIZABLE)))
    if layers != expected:  # a forward that skipped or repeated a layer is a bug in topology.py
        raise AssertionError(f"{contents.arch}: exported layers differ from the model's: {layers[:3]} vs {expected[:3]}")
    doc = (f"{contents.arch}, scheme {contents.scheme}, written by the dfq challenge kit from its artifact; "
           f"input: ImageNet-normalized float32 images (batch, 3, H, W), 224 x 224 as the kit evaluates; "
           f"output: {contents.num_classes} logits")
    metadata = {"dfq_artifact": json.dumps(contents.metadata, sort_keys=True)}
    proto = g.model(INPUT_NAME, OUTPUT_NAME, contents.num_classes, doc, metadata)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def onnx_model(artifact_path):
    """(ModelProto, ArtifactContents) of an artifact file; raises ArtifactError (a KitError)."""
    from ..artifact import load_artifact

    model, contents = load_artifact(artifact_path, device="cpu")
    return build_onnx(model, contents), contents


def _write_atomically(data: bytes, out: Path) -> None:
    """A reader never sees half a file: written beside the target, then renamed over it."""
    temporary = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, out)
    except OSError as error:
        raise KitError(f"cannot write ONNX output {str(out)!r} ({error.strerror or type(error).__name__}); "
                       "pass a path in a writable folder") from None
    finally:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)


def export_artifact(artifact_path, out) -> Exported:
    """Write the ONNX model of an artifact to `out`; nothing is written if anything fails."""
    start = time.perf_counter()
    require_packages()
    out = check_output_path(out)
    if out.exists() and Path(artifact_path).exists() and out.resolve() == Path(artifact_path).resolve():
        raise KitError(f"ONNX output {str(out)!r} is the artifact itself; pass another path")
    proto, contents = onnx_model(artifact_path)
    _write_atomically(proto.SerializeToString(), out)
    return Exported(out, contents.scheme, contents.arch, len(proto.graph.node), time.perf_counter() - start)
