"""gptq (challenge/quant/methods/gptq.py, _obq.py): the column solver and the layer inputs it reads."""
import copy

import pytest
import torch
import torchvision
from torch import nn

from challenge.quant import calibrate, freeze, get_scheme, optimise, prepare
from challenge.quant.methods._capture import folded_fp32, for_each_call
from challenge.quant.methods._obq import round_columns
from challenge.quant.methods.gptq import input_patches


def correlated_layer(seed=0, rows=48, inputs=96, samples=1500):
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(1, rows, inputs, generator=g)
    x = torch.randn(samples, inputs, generator=g) @ torch.randn(inputs, inputs, generator=g) * 0.3
    scale = weight.abs().amax(-1) / 3  # 3-bit grid [-3, 3]
    return weight, x, scale


def output_error(weight, integers, scale, x):
    return float(((weight[0] - integers[0] * scale[0][:, None]).double() @ x.T.double()).pow(2).sum())


def test_columns_rounded_with_feedback_beat_round_to_nearest_and_stay_on_the_grid():
    weight, x, scale = correlated_layer()
    hessian = (x.T @ x).double()[None]
    nearest = torch.clamp(torch.round(weight / scale[..., None]), -3, 3)
    for act_order in (False, True):
        integers = round_columns(weight, hessian, scale, -3, 3, act_order=act_order)
        assert integers.min() >= -3 and integers.max() <= 3 and torch.equal(integers, integers.round())
        assert output_error(weight, integers, scale, x) < 0.7 * output_error(weight, nearest, scale, x)


def test_lazy_blocks_give_the_same_integers():
    weight, x, scale = correlated_layer(seed=1)
    hessian = (x.T @ x).double()[None]
    assert torch.equal(round_columns(weight, hessian, scale, -3, 3, block=128),
                       round_columns(weight, hessian, scale, -3, 3, block=5))


def test_inputs_never_seen_get_zero_weight_and_a_singular_hessian_is_dampened():
    weight, x, scale = correlated_layer(seed=2, samples=20)  # 20 samples, 96 inputs: rank 20
    x[:, 7] = 0
    integers = round_columns(weight, (x.T @ x).double()[None], scale, -3, 3)
    assert bool((integers[0, :, 7] == 0).all())


@pytest.mark.parametrize("layer", [nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.Conv2d(6, 6, 3, padding=2, dilation=2, groups=6),
                                   nn.Conv2d(6, 12, 1, groups=3), nn.Linear(6, 5)], ids=["conv", "depthwise", "grouped", "linear"])
def test_patches_times_group_weights_are_the_layer_output(layer):
    x = torch.randn(2, 6, 9, 9) if isinstance(layer, nn.Conv2d) else torch.randn(4, 6)
    patches = input_patches(layer, x)  # [groups, rows, inputs per group]
    groups = patches.shape[0]
    weight = layer.weight.detach().reshape(groups, layer.weight.shape[0] // groups, -1)
    out = (patches @ weight.transpose(1, 2))  # [groups, rows, outputs per group]
    with torch.no_grad():
        expected = layer(x) - layer.bias.view(-1, *([1] * (x.dim() - 2)))
    if isinstance(layer, nn.Conv2d):  # rows are (sample, position); outputs are group-major channels
        samples, channels, h, w = expected.shape
        out = out.reshape(groups, samples, h * w, -1).permute(1, 0, 3, 2).reshape(samples, channels, h, w)
    else:
        out = out[0]
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_gptq_layers_reproduce_their_fp32_outputs_better_than_round_to_nearest():
    """In place, on the inputs each layer sees in the solved model: the 8-bit stem, a 4-bit depthwise
    layer and a 4-bit 1x1 layer (deeper, this random network's activations die out)."""
    torch.manual_seed(0)
    fp32 = torchvision.models.shufflenet_v2_x1_0(num_classes=10).eval()
    g = torch.Generator().manual_seed(0)
    batches = [torch.randn(8, 3, 32, 32, generator=g) for _ in range(2)]
    rounded = prepare(fp32, get_scheme("w4a8"))
    calibrate(rounded, batches)
    freeze(rounded)
    solved = optimise("gptq", fp32, copy.deepcopy(rounded), batches)
    folded = folded_fp32(fp32)
    for name, most in (("conv1.0", 1.0), ("stage2.0.branch1.0", 0.7), ("stage3.1.branch2.0", 0.7)):
        inputs = []
        for_each_call(solved, solved.get_submodule(name), batches, lambda x, _: inputs.append(x))
        qlayer = solved.get_submodule(name)
        x = torch.cat([qlayer.input_quant(x) for x in inputs])
        reference = folded.get_submodule(name)

        def error(layer):
            with torch.no_grad():
                return float((layer(x) - reference(x)).pow(2).sum())
        assert error(qlayer.layer) < most * error(rounded.get_submodule(name).layer), name

