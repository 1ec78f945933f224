"""Fold each BatchNorm into the convolution it follows: y = gamma*(conv(x)-mean)/sqrt(var+eps)+beta
becomes one convolution with scaled weights and a bias. The BatchNorm becomes an Identity.

A conv-then-BatchNorm pair is found as adjacent children of one module in registration order;
torchvision's ResNet, MobileNetV2 and ShuffleNetV2 register every such pair this way (blocks'
`conv1, bn1`, Sequential's `Conv2d, BatchNorm2d`), and a test checks the folded outputs match.
"""
from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    factor = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    conv.weight.mul_(factor.view(-1, 1, 1, 1))
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    folded_bias = (bias - bn.running_mean) * factor + bn.bias
    conv.bias = nn.Parameter(folded_bias)


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold in place; returns the model. Call it on an eval-mode copy."""
    for parent in list(model.modules()):
        children = list(parent.named_children())
        for (_, first), (second_name, second) in zip(children, children[1:]):
            if isinstance(first, nn.Conv2d) and isinstance(second, nn.BatchNorm2d):
                fold_conv_bn(first, second)
                setattr(parent, second_name, nn.Identity())
    return model
