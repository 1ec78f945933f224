"""A small ONNX graph writer: named initializers, nodes with unique output names, the model.

Only what the three architectures need. Names follow the kit's layer names (`layer1.0.conv1`,
`layer1.0.conv1.weight.int`, ...), so that an optimized model printed by ONNX Runtime can be
read against `main.py --list-layers`.

The writer remembers which float tensors are `DequantizeLinear` outputs (`quantize`): the
selections that commute with quantization (max pool, split, channel shuffle, flatten) then run
on their uint8 integers, and a quantizer with the same parameters is not written twice.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# 21: the first opset whose QuantizeLinear/DequantizeLinear take every integer type (4-bit
# included), and one that ONNX Runtime's CPU provider runs with its QDQ fusions.
OPSET = 21


def _pair(value) -> list[int]:
    return list(value) if isinstance(value, (tuple, list)) else [value, value]


class Graph:
    def __init__(self):
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._names: set[str] = set()
        # float tensor -> (its uint8 tensor, QParams, scale, zero point): DequantizeLinear outputs.
        self.quantized: dict[str, tuple] = {}
        self.pool_input = None  # the global average pool's input grid, where an architecture sets it

    def name(self, hint: str) -> str:
        """`hint`, or `hint_1`, `hint_2`, ... if it is taken."""
        name, count = hint, 0
        while name in self._names:
            count += 1
            name = f"{hint}_{count}"
        self._names.add(name)
        return name

    def constant(self, hint: str, value: np.ndarray) -> str:
        name = self.name(hint)
        # np.asarray, not ascontiguousarray: a 0-d scale must stay a scalar, which ONNX Runtime's
        # QDQ fusions require of activation scales and zero points.
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str, outputs: int = 1, **attributes):
        """Add a node; returns its output name (or the list of them when outputs > 1)."""
        names = [self.name(hint if outputs == 1 else f"{hint}.{i}") for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, names, name=self.name(f"{hint}/{op_type}"),
                                           **attributes))
        return names[0] if outputs == 1 else names

    # ------------------------------------------------------------ quantization

    def quantize(self, x: str, params, hint: str) -> str:
        """x through QuantizeLinear (and a Clip on the integers for a narrow grid), then
        DequantizeLinear; returns the dequantized tensor. x itself when it already is that."""
        if params is None or self.params_of(x) == params:
            return x
        scale = self.constant(f"{hint}.scale", np.array(params.scale, np.float32))
        zero_point = self.constant(f"{hint}.zero_point", np.array(params.zero_point, np.uint8))
        q = self.op("QuantizeLinear", [x, scale, zero_point], f"{hint}.q")
        if (params.qmin, params.qmax) != (0, 255):
            bounds = [self.constant(f"{hint}.{side}", np.array(v, np.uint8))
                      for side, v in (("qmin", params.qmin), ("qmax", params.qmax))]
            q = self.op("Clip", [q, *bounds], f"{hint}.clip")
        return self._dequantize(q, params, scale, zero_point, hint)

    def _dequantize(self, q: str, params, scale: str, zero_point: str, hint: str) -> str:
        x = self.op("DequantizeLinear", [q, scale, zero_point], f"{hint}.dq")
        self.quantized[x] = (q, params, scale, zero_point)
        return x

    def clip_integers(self, x: str, qmax: int, hint: str) -> str:
        """x (quantized, qmin 0) with its integers clipped at qmax: a uint8 Clip."""
        q, params, scale, zero_point = self.quantized[x]
        bounds = [self.constant(f"{hint}.{side}", np.array(v, np.uint8)) for side, v in (("qmin", 0), ("qmax", qmax))]
        clipped = self.op("Clip", [q, *bounds], f"{hint}.clip")
        return self._dequantize(clipped, dataclasses.replace(params, qmax=qmax), scale, zero_point, hint)

    def params_of(self, x: str):
        return self.quantized[x][1] if x in self.quantized else None

    def _selection(self, op_type: str, x: str, hint: str, outputs: int = 1, extra=(), **attributes):
        """An operation that commutes with quantization, on x's integers when x is quantized."""
        if x not in self.quantized:
            return self.op(op_type, [x, *extra], hint, outputs, **attributes)
        q, params, scale, zero_point = self.quantized[x]
        results = self.op(op_type, [q, *extra], f"{hint}.int", outputs, **attributes)
        results = [results] if outputs == 1 else results
        names = [self._dequantize(r, params, scale, zero_point, f"{hint}.{i}" if outputs > 1 else hint)
                 for i, r in enumerate(results)]
        return names[0] if outputs == 1 else names

    # ------------------------------------------------------------ float operations

    def relu(self, x: str, hint: str) -> str:
        return self.op("Relu", [x], f"{hint}.relu")

    def clip(self, x: str, low: float, high: float, hint: str) -> str:
        bounds = [self.constant(f"{hint}.clip.{side}", np.array(v, np.float32)) for side, v in (("min", low), ("max", high))]
        return self.op("Clip", [x, *bounds], f"{hint}.clip")

    def add(self, a: str, b: str, hint: str) -> str:
        return self.op("Add", [a, b], f"{hint}.add")

    def max_pool(self, x: str, pool, hint: str) -> str:
        if pool.ceil_mode or _pair(pool.dilation) != [1, 1]:
            raise NotImplementedError("max pooling with ceil_mode or dilation is not used by the kit's models")
        padding = _pair(pool.padding)
        return self._selection("MaxPool", x, hint, kernel_shape=_pair(pool.kernel_size), strides=_pair(pool.stride),
                               pads=padding + padding)

    def global_average_pool(self, x: str, hint: str, out=None) -> str:
        """(N, C, H, W) -> (N, C): adaptive_avg_pool2d((1, 1)) + flatten, and mean([2, 3]).
        With `out`, the average is quantized (the classifier's input quantizer) before flattening."""
        pooled = self.quantize(self.op("GlobalAveragePool", [x], f"{hint}.pool"), out, f"{hint}.pool")
        return self._selection("Flatten", pooled, hint, axis=1)

    def split_channels(self, x: str, hint: str) -> list[str]:
        """x.chunk(2, dim=1)."""
        return self._selection("Split", x, hint, outputs=2, axis=1, num_outputs=2)

    def concat_channels(self, parts: list[str], hint: str) -> str:
        return self.op("Concat", parts, hint, axis=1)

    def channel_shuffle(self, x: str, channels: int, groups: int, hint: str) -> str:
        """torchvision's channel_shuffle (view (N, g, C/g, H, W), swap g and C/g, view back) as
        the channel permutation it is: one Gather on the channel axis, which ONNX Runtime moves to
        its channels-last layout with the convolutions (a Reshape it could not: a Transpose before
        and after each block)."""
        order = np.arange(channels, dtype=np.int64).reshape(groups, channels // groups).T.reshape(-1)
        return self._selection("Gather", x, hint, extra=[self.constant(f"{hint}.order", order)], axis=1)

    # ------------------------------------------------------------ the model

    def _prune(self, output_name: str) -> None:
        """Drop what the output does not depend on: the DequantizeLinear of a tensor that is only
        read as integers (ONNX Runtime would compute it on every call) and its constants."""
        needed, kept = {output_name}, []
        for node in reversed(self.nodes):
            if any(name in needed for name in node.output):
                kept.append(node)
                needed.update(node.input)
        self.nodes = kept[::-1]
        self.initializers = [t for t in self.initializers if t.name in needed]

    def model(self, input_name: str, output_name: str, num_classes: int, doc: str,
              metadata: dict[str, str]) -> onnx.ModelProto:
        """Images in (batch, 3, height, width) float32, ImageNet-normalized (the kit evaluates
        224 x 224; the three architectures take any size); logits out."""
        self._prune(output_name)
        inputs = [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", 3, "height", "width"])]
        outputs = [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["batch", num_classes])]
        graph = helper.make_graph(self.nodes, "dfq", inputs, outputs, self.initializers, doc_string=doc)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="dfq-challenge-kit")
        # IR 10 (onnx 1.16) is the first that carries opset 21; newer onnx packages would write
        # their own, newer IR, which older runtimes refuse to load.
        model.ir_version = 10
        helper.set_model_props(model, metadata)
        return model
