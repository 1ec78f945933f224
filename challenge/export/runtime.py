"""The exported model under ONNX Runtime's CPU provider, as a torch module.

ONNX Runtime fuses each `DequantizeLinear -> Conv -> QuantizeLinear` group (a Relu, or a Clip
that the output grid makes redundant, in between) into one QLinearConv, which accumulates in
int32 and requantizes once; adds, concatenations and the pool whose inputs and output are
quantized into QLinearAdd, QLinearConcat and QLinearGlobalAveragePool; the classifier into a
QGemm. The export quantizes every such tensor (qparams.py), so with the kit's models every layer
runs integer; `fused_operators` shows what ONNX Runtime did.

A conv left in float (a layer config's `quantize = false`) would have its weight's
DequantizeLinear run on every call, and a conv whose weight is not a constant gets none of ONNX
Runtime's prepacked float kernels (ResNet18 before the integer adds, a batch of 32 on 2 loaded
cores: its 12 float convs took 0.67 s, 0.38 s with constant weights). So OnnxRuntimeModel first
asks ONNX Runtime which convs it leaves in float, and computes their weights' and biases'
DequantizeLinear once, ahead (`fold_float_weights`): the same float32 products (int8 times the
scale, correctly rounded) as the node would compute, as constants. The exported file keeps its
integers.

On a CPU without VNNI the session asks ONNX Runtime for exact integer sums (cpu.py: its fast
uint8 x int8 kernels saturate there, MobileNetV2 then disagreed on 9% of the images); it moves
only the layers with 8-bit weights to the slower exact kernels (`exact_kernel_layers`).

Its predictions agree with the kit's reference runtime on nearly every image but not all: the
fused kernels round a conv's output once (int32 accumulator times one multiplier), where the
kit computes the output in float32 and quantizes it at the next layer; bias is int32 here, float
in the kit; the quantizers the export adds round where the kit does not. A value that lands within a rounding error
of a quantization step may go to the neighbouring integer.
"""
from __future__ import annotations

import os
import tempfile
from collections import Counter

import numpy as np
import torch
from torch import nn

from . import INPUT_NAME, OUTPUT_NAME
from .cpu import u8s8_saturates


def session(model_bytes: bytes, threads: int | None = None, optimized_path: str | None = None,
            level: str = "ORT_ENABLE_ALL"):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    # As many threads as torch uses, so that the two runtimes are compared on equal terms.
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = getattr(onnxruntime.GraphOptimizationLevel, level)
    options.log_severity_level = 3  # errors only: its warnings would land among the kit's logs
    if u8s8_saturates():  # exact integer sums on a CPU without VNNI (cpu.py)
        options.add_session_config_entry("session.x64quantprecision", "1")
    if optimized_path:
        options.optimized_model_filepath = optimized_path
    return onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


class OnnxRuntimeModel(nn.Module):
    """Normalized float32 images in, logits out, like the kit's models; runs on the CPU."""

    def __init__(self, model_bytes: bytes, threads: int | None = None):
        import onnx

        super().__init__()
        proto = onnx.load_from_string(model_bytes)
        self.float_layers = float_layers(model_bytes)
        self.session = session(fold_float_weights(proto, self.float_layers).SerializeToString(), threads)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        batch = np.ascontiguousarray(images.detach().cpu().float().numpy())
        logits = self.session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]
        return torch.from_numpy(logits).to(images.device)


def load_onnxruntime(artifact_path, device="cpu"):
    """(OnnxRuntimeModel, ArtifactContents): the artifact exported in memory and loaded."""
    from . import onnx_model, require_packages

    require_packages()
    proto, contents = onnx_model(artifact_path)
    return OnnxRuntimeModel(proto.SerializeToString()), contents


def _optimized(model_bytes: bytes, level: str = "ORT_ENABLE_ALL"):
    import onnx

    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "optimized.onnx")
        session(model_bytes, optimized_path=path, level=level)
        return onnx.load(path)


def fused_operators(model_bytes: bytes) -> Counter:
    """Operator counts of the graph ONNX Runtime actually runs (after its QDQ fusions)."""
    return Counter(node.op_type for node in _optimized(model_bytes).graph.node)


def exact_kernel_layers(model_bytes: bytes) -> tuple[int, int]:
    """(integer convs and matrix products on ONNX Runtime's exact uint8 x uint8 kernels, all of
    them), read from the graph it runs on this CPU: those whose weights it rewrote to uint8."""
    import onnx

    graph = _optimized(model_bytes).graph
    weights = {t.name: t.data_type for t in graph.initializer}
    layers = [node for node in graph.node if node.op_type in ("QLinearConv", "QGemm")]
    exact = sum(weights.get(node.input[3]) == onnx.TensorProto.UINT8 for node in layers)
    return exact, len(layers)


def float_layers(model_bytes: bytes) -> set[str]:
    """The conv/linear layers that ONNX Runtime's QDQ fusions leave in float.

    Read from the graph it optimizes (extended level: fusions, no layout changes), where a
    layer it did not fuse is still a Conv/Gemm node named `<layer>/Conv` (or a FusedConv, a
    Conv with its activation, under the same name)."""
    graph = _optimized(model_bytes, "ORT_ENABLE_EXTENDED").graph
    return {node.name.rsplit("/", 1)[0] for node in graph.node if node.op_type in ("Conv", "FusedConv", "Gemm")}


def _constant_dequantize(node, constants) -> bool:
    """A DequantizeLinear of an initializer with no zero point or zero ones (weights, biases)."""
    from onnx import numpy_helper

    if node.op_type != "DequantizeLinear" or not all(name in constants for name in node.input):
        return False
    return len(node.input) < 3 or not numpy_helper.to_array(constants[node.input[2]]).any()


def fold_float_weights(proto, layers: set[str]):
    """A copy of `proto` where the DequantizeLinear of each weight and bias of `layers` is
    replaced by its float32 result, q * scale (zero points are 0: symmetric weights, int32 bias)."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.ModelProto.FromString(proto.SerializeToString())
    constants = {t.name: t for t in proto.graph.initializer}
    producer = {output: node for node in proto.graph.node for output in node.output}
    folded = set()
    for node in proto.graph.node:
        if node.op_type in ("Conv", "Gemm") and node.name.rsplit("/", 1)[0] in layers:
            folded.update(producer[name].name for name in node.input[1:] if name in producer
                          and _constant_dequantize(producer[name], constants))
    kept = []
    for node in proto.graph.node:
        if node.name not in folded:
            kept.append(node)
            continue
        q, scale = (numpy_helper.to_array(constants[name]) for name in node.input[:2])
        scale = scale.astype(np.float32).reshape((-1,) + (1,) * (q.ndim - 1)) if scale.ndim else np.float32(scale)
        proto.graph.initializer.append(numpy_helper.from_array(q.astype(np.float32) * scale, node.output[0]))
    del proto.graph.node[:]
    proto.graph.node.extend(kept)
    return proto
