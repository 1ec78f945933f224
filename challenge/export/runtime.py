"""The exported model under ONNX Runtime's CPU provider, as a torch module.

ONNX Runtime fuses each `DequantizeLinear -> Conv -> QuantizeLinear` group (a Relu, or a Clip
that the output grid makes redundant, in between) into one QLinearConv, which accumulates in
int32 and requantizes once, straight to the next layer's uint8 input; the classifier becomes a
QGemm. Where a conv's output goes anywhere else than to one quantizer (a residual add, a
concatenation, a pool) no integer kernel can take it: ONNX Runtime runs that conv in float on
the dequantized weights, as the QDQ graph says. `fused_operators` shows what it did.

Its predictions agree with the kit's reference runtime on nearly every image but not all: the
fused kernels round a conv's output once (int32 accumulator times one multiplier), where the
kit computes the output in float32 and quantizes it at the next layer; bias is int32 here, float
in the kit; and float convs sum in another order. A value that lands within a rounding error
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


def session(model_bytes: bytes, threads: int | None = None, optimized_path: str | None = None):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    # As many threads as torch uses, so that the two runtimes are compared on equal terms.
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: its warnings would land among the kit's logs
    if optimized_path:
        options.optimized_model_filepath = optimized_path
    return onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


class OnnxRuntimeModel(nn.Module):
    """Normalized float32 images in, logits out, like the kit's models; runs on the CPU."""

    def __init__(self, model_bytes: bytes, threads: int | None = None):
        super().__init__()
        self.session = session(model_bytes, threads)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        batch = np.ascontiguousarray(images.detach().cpu().float().numpy())
        logits = self.session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]
        return torch.from_numpy(logits).to(images.device)


def load_onnxruntime(artifact_path, device="cpu"):
    """(OnnxRuntimeModel, ArtifactContents): the artifact exported in memory and loaded."""
    from . import onnx_model

    proto, contents = onnx_model(artifact_path)
    return OnnxRuntimeModel(proto.SerializeToString()), contents


def fused_operators(model_bytes: bytes) -> Counter:
    """Operator counts of the graph ONNX Runtime actually runs (after its QDQ fusions)."""
    import onnx

    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "optimized.onnx")
        session(model_bytes, optimized_path=path)
        return Counter(node.op_type for node in onnx.load(path).graph.node)
