"""Activations and biases absorbed into the quantizer after them while a unit is reconstructed
(challenge/quant/methods/_absorbed.py): which ones, the same values and gradients, put back after."""
import copy

import pytest
import torch
import torchvision
from torch import nn

from challenge.quant import calibrate, freeze, get_scheme, optimise, prepare
from challenge.quant.methods import _reconstruct
from challenge.quant.methods._absorbed import absorb
from challenge.quant.methods._capture import folded_fp32

ACTIVATIONS = (nn.ReLU, nn.ReLU6)


def _batches(count=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(4, 3, 32, 32, generator=g) for _ in range(count)]


@pytest.fixture(scope="module")
def rounded():
    """arch -> (FP32 model, its w4a8 model rounded to nearest), made once each."""
    made = {}

    def get(arch):
        if arch not in made:
            torch.manual_seed(0)
            fp32 = torchvision.models.get_model(arch, num_classes=10).eval()
            for bn in fp32.modules():  # statistics as a trained model has: folded biases not zero
                if isinstance(bn, nn.BatchNorm2d):
                    bn.running_mean.normal_(0, 0.2)
                    bn.running_var.uniform_(0.5, 1.5)
                    bn.bias.data.normal_(0, 0.2)
            qmodel = prepare(fp32, get_scheme("w4a8"))
            calibrate(qmodel, _batches())
            made[arch] = fp32, freeze(qmodel)
        return made[arch]
    return get


def _activations(unit: nn.Module) -> list[nn.Module]:
    return [m for m in unit.modules() if isinstance(m, ACTIVATIONS)]


@pytest.mark.parametrize("arch, unit_name, absorbed, biases", [
    ("mobilenet_v2", "features.2", 2, 2),   # expand -> ReLU6 -> depthwise -> ReLU6 -> project
    ("mobilenet_v2", "features.1", 1, 1),   # depthwise -> ReLU6 -> project (no expansion)
    ("mobilenet_v2", "features.18", 0, 0),  # its ReLU6 is the unit's output
    ("shufflenet_v2_x1_0", "stage2.1", 1, 2),  # branch2: 1x1 -> ReLU -> depthwise -> 1x1 -> ReLU
    ("resnet18", "layer1.0", 0, 0),          # a BasicBlock's ReLUs are not links of a chain
])
def test_the_absorbed_unit_computes_the_same_values_and_gradients(rounded, arch, unit_name, absorbed, biases):
    fp32, rounded_model = rounded(arch)
    qmodel = copy.deepcopy(rounded_model).requires_grad_(False)  # as reconstruct leaves it
    settings = _reconstruct.Settings("block", 1, learn_act_scale=True, learn_weight_scale=True)
    learned = _reconstruct._install(qmodel, folded_fp32(fp32), unit_name, settings)
    unit = qmodel.get_submodule(unit_name)
    x = torch.randn(2, *_input_shape(qmodel, unit_name), generator=torch.Generator().manual_seed(1))
    params = [p for layer in learned.values() for p in layer.parameters() if p.requires_grad]

    def output_and_gradients():
        out = unit(x)
        return out.detach(), torch.autograd.grad(out.pow(2).sum(), params)

    before = _activations(unit)
    plain_out, plain_grads = output_and_gradients()
    put_back = absorb(unit)
    assert len(before) - len(_activations(unit)) == absorbed
    assert sum(layer.bias_absorbed for layer in learned.values()) == biases
    assert sum(bool(layer.input_bias.any()) for layer in learned.values() if hasattr(layer, "input_bias")) == biases
    out, grads = output_and_gradients()
    assert torch.equal(out, plain_out)
    # The same gradients but for a few elements: where a value rounds exactly onto the grid's
    # lowest level, the quantizer's clamp has a tie whose gradient (0, 1/2 or 1) the CPU's vector
    # and scalar code paths may settle differently (2 of 49,152 values of features.2 here,
    # which the layer's weight gradients then spread over many weights, a little each).
    for a, b in zip(grads, plain_grads):
        assert float((a - b).norm() / b.norm()) < 1e-2
    put_back()
    assert [id(m) for m in _activations(unit)] == [id(m) for m in before]
    assert all(torch.equal(layer.input_clamp, torch.tensor([-torch.inf, torch.inf])) for layer in learned.values()
               if hasattr(layer, "input_clamp"))
    assert not any(layer.bias_absorbed for layer in learned.values())
    assert not any(layer.input_bias.any() for layer in learned.values() if hasattr(layer, "input_bias"))


def _input_shape(qmodel, unit_name):
    from challenge.quant.methods._capture import for_each_call

    shapes = []
    for_each_call(qmodel, qmodel.get_submodule(unit_name), _batches(1), lambda x, y: shapes.append(x.shape[1:]))
    return shapes[0]


def test_brecq_gives_the_same_model_with_the_activations_absorbed(rounded, monkeypatch):
    """Absorbing changes where the clamp runs, not what is learned: the same integers (but where
    a tie of the gradient, above, tips a rounding decision)."""
    fp32, rounded_model = rounded("mobilenet_v2")
    args = {"iterations": 4, "batch_size": 4}
    torch.manual_seed(0)
    absorbed = optimise("brecq", fp32, copy.deepcopy(rounded_model), _batches(), args)
    monkeypatch.setattr(_reconstruct, "absorb", lambda unit: (lambda: None))
    torch.manual_seed(0)
    plain = optimise("brecq", fp32, copy.deepcopy(rounded_model), _batches(), args)
    integers = [(name, m.weight_int, plain.get_submodule(name).weight_int) for name, m in absorbed.named_modules()
                if getattr(m, "weight_int", None) is not None]
    same = sum(int((a == b).sum()) for _, a, b in integers) / sum(a.numel() for _, a, _ in integers)
    assert same > 0.999, same  # a few rounding decisions may tip at the ties above
    for name, module in plain.named_modules():  # the activations are back where they were
        assert type(absorbed.get_submodule(name)) is type(module), name
