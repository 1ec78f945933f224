"""The bf16 and sub-pixel paths of the generators (synth/_precision.py, synth/_subpixel.py), on the CPU."""
import pytest
import torch
import torch.nn.functional as F
import torchvision

import synth
from challenge.errors import KitError
from synth._precision import channel_var_mean, uses_bf16
from synth._subpixel import interleave_phases, phase_taps, upsampled_conv

SHAPE = (3, 32, 32)
TINY = {"genie": {"iterations": 2}, "zeroq": {"iterations": 2}, "gdfq": {"iterations": 2, "train_batch_size": 2}}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return torchvision.models.mobilenet_v2(num_classes=10).eval()


def test_upsampled_conv_is_the_upsampling_and_the_convolution():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(5, 4, 3, padding=1).double()
    x = torch.randn(2, 5, 6, 7, dtype=torch.float64, requires_grad=True)
    reference = conv(F.interpolate(x, scale_factor=2))
    subpixel = upsampled_conv(x, conv, phase_taps())
    assert torch.allclose(reference, subpixel, atol=1e-12)
    for a, b in zip(torch.autograd.grad(reference.pow(2).sum(), [x, conv.weight, conv.bias]),
                    torch.autograd.grad(subpixel.pow(2).sum(), [x, conv.weight, conv.bias])):
        assert torch.allclose(a, b, atol=1e-10)


def test_interleaved_phases_are_pixel_shuffle_s_in_either_layout():
    torch.manual_seed(0)
    y = torch.randn(2, 4 * 3, 5, 6)
    # pixel_shuffle wants channels ordered (c, p, q); interleave_phases takes them (p, q, c).
    reference = F.pixel_shuffle(y.view(2, 4, 3, 5, 6).transpose(1, 2).reshape(2, 12, 5, 6), 2)
    for layout in (torch.contiguous_format, torch.channels_last):
        out = interleave_phases(y.contiguous(memory_format=layout))
        assert torch.equal(out, reference) and out.is_contiguous(memory_format=layout)


def test_the_generator_makes_the_same_images_channels_last():
    """On a GPU in bf16 the generator's maps are channels-last (its weights are: tensor_cores): same
    function, in float64 to the last bits that summation order allows."""
    from synth.genie import GenieGenerator

    torch.manual_seed(0)
    net = GenieGenerator((3, 16, 16), latent_dim=8).double().train()
    z = torch.randn(3, 8, dtype=torch.float64)
    first = net(z)
    net.to(memory_format=torch.channels_last)
    second = net(z)
    assert second.is_contiguous(memory_format=torch.channels_last) and not second.is_contiguous()
    assert torch.allclose(first, second, atol=1e-10)


def test_bf16_statistics_match_float32():
    x = torch.randn(8, 5, 7, 7) * 3 + 1
    var, mean = channel_var_mean(x.bfloat16(), (0, 2, 3))
    ref_var, ref_mean = torch.var_mean(x.bfloat16().float(), dim=(0, 2, 3))
    assert var.dtype == mean.dtype == torch.float32
    assert torch.allclose(mean, ref_mean, atol=1e-4) and torch.allclose(var, ref_var, rtol=1e-4)


def test_precision_names():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert not uses_bf16("fp32", cuda) and uses_bf16("bf16", cpu) and uses_bf16("auto", cuda) and not uses_bf16("auto", cpu)
    with pytest.raises(KitError, match="precision must be one of"):
        uses_bf16("fp16", cpu)


@pytest.mark.parametrize("name", sorted(TINY))
def test_bf16_generation_gives_float32_images_deterministically_and_leaves_the_model_alone(name, model):
    state = {k: v.clone() for k, v in model.state_dict().items()}

    def generate():
        return list(synth.get_generator(name)(model, num_classes=10, input_shape=SHAPE, num_samples=3, batch_size=2,
                                               seed=0, precision="bf16", **TINY[name]))

    first, second = generate(), generate()
    assert [b.shape for b in first] == [(2, *SHAPE), (1, *SHAPE)]
    assert all(b.dtype == torch.float32 and torch.isfinite(b).all() for b in first)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    after = model.state_dict()
    assert all(torch.equal(state[k], after[k]) and after[k].is_contiguous() for k in state)
