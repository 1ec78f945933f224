"""The forward pass of each of the kit's architectures, written as ONNX nodes.

A torchvision model's forward is Python; its modules hold every shape and hyper-parameter. So a
builder walks the (BatchNorm-folded) model's modules in the order its forward calls them, and
only the topology is written here: residual adds, channel splits and shuffles, the head. Blocks
go through a type-to-emitter registry (`BLOCKS`); the top level of each architecture is one
function in `ARCHITECTURES`. A module type that no emitter knows is an error, never skipped.
"""
from __future__ import annotations

from torch import nn
from torchvision.models import mobilenetv2, resnet, shufflenetv2
from torchvision.ops.misc import Conv2dNormActivation

from ..quant.modules import QuantLayer
from .graph import Graph
from .qdq import emit_layer
from .qparams import (QParams, from_range, input_params, pool_range, residual_range, saturates_within,
                      shortcut_range, sum_operand)


def emit(g: Graph, module: nn.Module, name: str, x: str, out: QParams | None = None) -> str:
    """`module(x)` as nodes; `name` is its path in the model (a layer name for conv/linear).
    `out`: the input quantizer of the layer that reads the output next (qparams.py), if any."""
    for kind, emitter in BLOCKS.items():
        if type(module) is kind:
            return emitter(g, module, name, x, out)
    raise NotImplementedError(f"module {name!r} of type {type(module).__name__} has no ONNX emitter")


def _sequential(g: Graph, module: nn.Sequential, name: str, x: str, out=None) -> str:
    children = list(module.named_children())
    for i, (child_name, child) in enumerate(children):
        after = next((p for _, c in children[i + 1:] if (p := input_params(c)) is not None), out)
        x = emit(g, child, f"{name}.{child_name}" if name else child_name, x, after)
    return x


def _identity(g: Graph, module: nn.Module, name: str, x: str, out=None) -> str:
    return x  # folded BatchNorm, eval-mode Dropout


def _relu6(g: Graph, module: nn.Module, name: str, x: str, out=None) -> str:
    # Before a quantizer whose integers already saturate at 0 and 6 the clamp changes nothing
    # (quantization is monotone); ONNX Runtime cannot tell when the grid is narrower than uint8
    # (a Clip on the integers), and would leave the conv before it in float.
    if out is not None and saturates_within(out, 0.0, 6.0):
        return x
    return g.clip(x, 0.0, 6.0, name)


def _integer(*layers) -> bool:
    return all(isinstance(m, QuantLayer) and m.weight_int is not None and m.input_quant is not None for m in layers)


def _basic_block(g: Graph, block: resnet.BasicBlock, name: str, x: str, out=None) -> str:
    # The residual stream on a wider grid than the next conv reads (which requantizes it): the
    # kit clamps that conv's input, not the stream, which a later block adds back in full.
    out = residual_range(out) if out is not None else g.pool_input  # the last block: the pool's
    a = emit(g, block.conv2, f"{name}.conv2", g.relu(emit(g, block.conv1, f"{name}.conv1", x), f"{name}.conv1"))
    if block.downsample is None:
        b = x
    else:
        b = emit(g, block.downsample, f"{name}.downsample", x)
        b = g.quantize(b, shortcut_range(out) if out else None, f"{name}.downsample.output")
    other = g.params_of(b)
    if out is None or other is None or not _integer(block.conv2):
        return g.relu(g.add(a, b, name), name)
    a = g.quantize(a, sum_operand(out, other, relu=True), f"{name}.conv2.output")
    return g.quantize(g.relu(g.add(a, b, name), name), out, f"{name}.output")


def _mobilenet_block(g: Graph, block: mobilenetv2.InvertedResidual, name: str, x: str, out=None) -> str:
    if block.use_res_connect:  # the residual on the first layer's input grid, which it reads anyway
        x = g.quantize(x, input_params(block), f"{name}.conv.0.0.input")
    result = emit(g, block.conv, f"{name}.conv", x)
    if not block.use_res_connect:
        return result
    other = g.params_of(x)
    if out is None or other is None or not _integer(block.conv[-2]):
        return g.add(x, result, name)
    result = g.quantize(result, out.widened(), f"{name}.conv.output")
    return g.quantize(g.add(x, result, name), out, f"{name}.output")


def _shufflenet_block(g: Graph, block: shufflenetv2.InvertedResidual, name: str, x: str, out=None) -> str:
    if block.stride == 1:
        kept, x = g.split_channels(x, f"{name}.split")
        parts = [kept, emit(g, block.branch2, f"{name}.branch2", x)]
    else:
        parts = [emit(g, block.branch1, f"{name}.branch1", x), emit(g, block.branch2, f"{name}.branch2", x)]
    if out is not None and _integer(*[m for m in block.modules() if isinstance(m, QuantLayer)]):
        # Each branch's output, the concatenation and (after the shuffle, a permutation) the next
        # block's input on the next layer's grid: the next layer reads the kit's integers.
        parts = [p if g.params_of(p) else g.quantize(p, out, f"{name}.branch{i + 1}.output") for i, p in enumerate(parts)]
        concat = g.quantize(g.concat_channels(parts, f"{name}.concat"), out, f"{name}.concat.output")
    else:
        concat = g.concat_channels(parts, f"{name}.concat")
    channels = 2 * _out_channels(block.branch2)
    return g.channel_shuffle(concat, channels, 2, f"{name}.shuffle")


def _out_channels(branch: nn.Sequential) -> int:
    convs = [m for m in branch.modules() if isinstance(m, nn.Conv2d)]
    return convs[-1].out_channels


def _layer(g, m, name, x, out=None):
    return emit_layer(g, name, m, x)


BLOCKS = {
    QuantLayer: _layer,
    nn.Conv2d: _layer,
    nn.Linear: _layer,
    nn.Sequential: _sequential,
    nn.Identity: _identity,
    nn.Dropout: _identity,
    nn.ReLU: lambda g, m, name, x, out=None: g.relu(x, name),
    nn.ReLU6: _relu6,
    nn.MaxPool2d: lambda g, m, name, x, out=None: g.max_pool(x, m, name),
    nn.AdaptiveAvgPool2d: lambda g, m, name, x, out=None: g.global_average_pool(x, name),
    resnet.BasicBlock: _basic_block,
    mobilenetv2.InvertedResidual: _mobilenet_block,
    shufflenetv2.InvertedResidual: _shufflenet_block,
    Conv2dNormActivation: _sequential,  # MobileNetV2's conv-BN-ReLU6: a Sequential subclass, no forward of its own
}


def _head(g: Graph, x: str, classifier: nn.Module, pool: str, name: str, bound: float | None = None) -> str:
    """Global average pool and classifier: the last feature map on pool_range's grid (or [0,
    bound], a ReLU6's), the pool on the classifier's input grid (QLinearGlobalAveragePool),
    flattened on the integers."""
    fc = input_params(classifier)
    if fc is not None and g.params_of(x) is None:
        x = g.quantize(x, from_range(0.0, bound) if bound else pool_range(fc), f"{pool}.input")
    return emit(g, classifier, name, g.global_average_pool(x, pool, fc if g.params_of(x) else None))


def _resnet(g: Graph, model: resnet.ResNet, x: str) -> str:
    x = emit(g, model.bn1, "bn1", emit(g, model.conv1, "conv1", x))
    # The stem's output on layer1's input grid before the max pool (monotone: they commute).
    first = input_params(model.layer1)
    x = g.quantize(emit(g, model.relu, "relu", x), residual_range(first) if first else None, "relu.output")
    x = emit(g, model.maxpool, "maxpool", x)
    fc = input_params(model.fc)
    g.pool_input = pool_range(fc) if fc else None
    for name, following in (("layer1", model.layer2), ("layer2", model.layer3), ("layer3", model.layer4),
                            ("layer4", None)):
        x = emit(g, getattr(model, name), name, x, input_params(following) if following is not None else None)
    return _head(g, x, model.fc, "avgpool", "fc")


def _mobilenet_v2(g: Graph, model: mobilenetv2.MobileNetV2, x: str) -> str:
    # Its last feature map is a ReLU6's: [0, 6] holds every value.
    return _head(g, emit(g, model.features, "features", x), model.classifier, "avgpool", "classifier", bound=6.0)


def _shufflenet_v2(g: Graph, model: shufflenetv2.ShuffleNetV2, x: str) -> str:
    x = g.quantize(emit(g, model.conv1, "conv1", x), input_params(model.stage2), "conv1.output")
    x = emit(g, model.maxpool, "maxpool", x)
    stages = ("stage2", "stage3", "stage4", "conv5")
    for name, following in zip(stages, stages[1:]):
        x = emit(g, getattr(model, name), name, x, input_params(getattr(model, following)))
    return _head(g, emit(g, model.conv5, "conv5", x), model.fc, "globalpool", "fc")


ARCHITECTURES = {"resnet18": _resnet, "mobilenet_v2": _mobilenet_v2, "shufflenet_v2_x1_0": _shufflenet_v2}
