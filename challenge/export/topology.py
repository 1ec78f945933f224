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


def emit(g: Graph, module: nn.Module, name: str, x: str) -> str:
    """`module(x)` as nodes; `name` is its path in the model (a layer name for conv/linear)."""
    for kind, emitter in BLOCKS.items():
        if type(module) is kind:
            return emitter(g, module, name, x)
    raise NotImplementedError(f"module {name!r} of type {type(module).__name__} has no ONNX emitter")


def _sequential(g: Graph, module: nn.Sequential, name: str, x: str) -> str:
    for child_name, child in module.named_children():
        x = emit(g, child, f"{name}.{child_name}" if name else child_name, x)
    return x


def _identity(g: Graph, module: nn.Module, name: str, x: str) -> str:
    return x  # folded BatchNorm, eval-mode Dropout


def _relu6(g: Graph, module: nn.Module, name: str, x: str) -> str:
    return g.clip(x, 0.0, 6.0, name)


def _basic_block(g: Graph, block: resnet.BasicBlock, name: str, x: str) -> str:
    out = g.relu(emit(g, block.conv1, f"{name}.conv1", x), f"{name}.conv1")
    out = emit(g, block.conv2, f"{name}.conv2", out)
    identity = x if block.downsample is None else emit(g, block.downsample, f"{name}.downsample", x)
    return g.relu(g.add(out, identity, name), name)


def _mobilenet_block(g: Graph, block: mobilenetv2.InvertedResidual, name: str, x: str) -> str:
    out = emit(g, block.conv, f"{name}.conv", x)
    return g.add(x, out, name) if block.use_res_connect else out


def _shufflenet_block(g: Graph, block: shufflenetv2.InvertedResidual, name: str, x: str) -> str:
    if block.stride == 1:
        kept, x = g.split_channels(x, f"{name}.split")
        parts = [kept, emit(g, block.branch2, f"{name}.branch2", x)]
    else:
        parts = [emit(g, block.branch1, f"{name}.branch1", x), emit(g, block.branch2, f"{name}.branch2", x)]
    channels = 2 * _out_channels(block.branch2)
    return g.channel_shuffle(g.concat_channels(parts, f"{name}.concat"), channels, 2, f"{name}.shuffle")


def _out_channels(branch: nn.Sequential) -> int:
    convs = [m for m in branch.modules() if isinstance(m, nn.Conv2d)]
    return convs[-1].out_channels


BLOCKS = {
    QuantLayer: lambda g, m, name, x: emit_layer(g, name, m, x),
    nn.Conv2d: lambda g, m, name, x: emit_layer(g, name, m, x),
    nn.Linear: lambda g, m, name, x: emit_layer(g, name, m, x),
    nn.Sequential: _sequential,
    nn.Identity: _identity,
    nn.Dropout: _identity,
    nn.ReLU: lambda g, m, name, x: g.relu(x, name),
    nn.ReLU6: _relu6,
    nn.MaxPool2d: lambda g, m, name, x: g.max_pool(x, m, name),
    nn.AdaptiveAvgPool2d: lambda g, m, name, x: g.global_average_pool(x, name),
    resnet.BasicBlock: _basic_block,
    mobilenetv2.InvertedResidual: _mobilenet_block,
    shufflenetv2.InvertedResidual: _shufflenet_block,
    Conv2dNormActivation: _sequential,  # MobileNetV2's conv-BN-ReLU6: a Sequential subclass, no forward of its own
}


def _resnet(g: Graph, model: resnet.ResNet, x: str) -> str:
    for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
        x = emit(g, getattr(model, name), name, x)
    return emit(g, model.fc, "fc", g.global_average_pool(x, "avgpool"))


def _mobilenet_v2(g: Graph, model: mobilenetv2.MobileNetV2, x: str) -> str:
    x = g.global_average_pool(emit(g, model.features, "features", x), "avgpool")
    return emit(g, model.classifier, "classifier", x)


def _shufflenet_v2(g: Graph, model: shufflenetv2.ShuffleNetV2, x: str) -> str:
    for name in ("conv1", "maxpool", "stage2", "stage3", "stage4", "conv5"):
        x = emit(g, getattr(model, name), name, x)
    return emit(g, model.fc, "fc", g.global_average_pool(x, "globalpool"))


ARCHITECTURES = {"resnet18": _resnet, "mobilenet_v2": _mobilenet_v2, "shufflenet_v2_x1_0": _shufflenet_v2}
