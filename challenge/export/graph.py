"""A small ONNX graph writer: named initializers, nodes with unique output names, the model.

Only what the three architectures need. Names follow the kit's layer names (`layer1.0.conv1`,
`layer1.0.conv1.weight.int`, ...), so that an optimized model printed by ONNX Runtime can be
read against `main.py --list-layers`.
"""
from __future__ import annotations

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
        return self.op("MaxPool", [x], hint, kernel_shape=_pair(pool.kernel_size), strides=_pair(pool.stride),
                       pads=padding + padding)

    def global_average_pool(self, x: str, hint: str) -> str:
        """(N, C, H, W) -> (N, C): adaptive_avg_pool2d((1, 1)) + flatten, and mean([2, 3])."""
        return self.op("Flatten", [self.op("GlobalAveragePool", [x], f"{hint}.pool")], hint, axis=1)

    def split_channels(self, x: str, hint: str) -> list[str]:
        """x.chunk(2, dim=1)."""
        return self.op("Split", [x], hint, outputs=2, axis=1, num_outputs=2)

    def concat_channels(self, parts: list[str], hint: str) -> str:
        return self.op("Concat", parts, hint, axis=1)

    def channel_shuffle(self, x: str, channels: int, groups: int, hint: str) -> str:
        """torchvision's channel_shuffle: view (N, g, C/g, H*W), swap g and C/g, view back."""
        grouped = self.constant(f"{hint}.grouped_shape", np.array([0, groups, channels // groups, -1], np.int64))
        shape = self.op("Shape", [x], f"{hint}.shape")
        swapped = self.op("Transpose", [self.op("Reshape", [x, grouped], f"{hint}.grouped")], f"{hint}.swapped",
                          perm=[0, 2, 1, 3])
        return self.op("Reshape", [swapped, shape], hint)

    # ------------------------------------------------------------ the model

    def model(self, input_name: str, output_name: str, num_classes: int, doc: str,
              metadata: dict[str, str]) -> onnx.ModelProto:
        """Images in (batch, 3, height, width) float32, ImageNet-normalized (the kit evaluates
        224 x 224; the three architectures take any size); logits out."""
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
