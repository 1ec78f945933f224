"""Reconstruction's fused chains (challenge/quant/methods/_fused.py): torch.compile's version is
the eager one, forward and backward, over layers of several shapes without recompiling per shape.
On a GPU the kit runs the compiled one; here Inductor compiles for the CPU."""
import pytest
import torch

from challenge.compiling import compile_enabled, dynamic_settings
from challenge.graphed_steps import run_steps
from challenge.quant.methods import _fused
from tests.conftest import counting_backend


def _layers():
    g = torch.Generator().manual_seed(0)
    for shape in [(4, 6, 5, 5), (4, 9, 3, 3), (4, 7)]:  # conv inputs of two shapes and a linear one
        yield torch.randn(shape, generator=g), torch.rand(shape, generator=g)


def test_compiled_activation_chain_is_the_eager_one():
    compiled = torch.compile(_fused._act_fake_quant, dynamic=True)
    bounds = torch.tensor([0.0, 15.0])
    for x, noise in _layers():
        x = x.reshape(len(x), -1).requires_grad_(True)
        log_scale = torch.zeros(1, requires_grad=True)
        for keep in (None, noise.reshape(len(x), -1)):
            args = (torch.tensor([0.1]), log_scale, torch.tensor([3.0]), *bounds, keep, 0.5)
            eager, fused = _fused._act_fake_quant(x, *args), compiled(x, *args)
            assert torch.allclose(eager, fused, atol=1e-6)
            for a, b in zip(torch.autograd.grad(eager.pow(2).sum(), [x, log_scale]),
                            torch.autograd.grad(fused.pow(2).sum(), [x, log_scale])):
                assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)


def test_channels_last_feature_maps_stay_channels_last_and_quantize_the_same():
    """Reconstruction hands feature maps over channels-last (so that the convolution after the
    quantizer runs on channels-last kernels): the quantizer keeps that layout, without a copy of
    the input into another order, and gives the values and gradients of the plain layout; QDrop's
    noise goes with its own element whatever its layout."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(4, 6, 5, 3, generator=g)
    noise = torch.rand(x.shape, generator=g)
    plain = x.clone().requires_grad_(True)
    last = x.contiguous(memory_format=torch.channels_last).requires_grad_(True)
    for keep, keep_last in ((None, None), (noise, noise), (noise, noise.contiguous(memory_format=torch.channels_last))):
        log_scale = torch.zeros(1, requires_grad=True)
        args = (torch.tensor([0.05]), log_scale, torch.tensor([3.0]), torch.tensor(0.0), torch.tensor(255.0))
        a, b = _fused.act_fake_quant(plain, *args, keep, 0.5), _fused.act_fake_quant(last, *args, keep_last, 0.5)
        assert torch.equal(a, b)
        assert b.is_contiguous(memory_format=torch.channels_last) and not b.is_contiguous()
        (x_a, scale_a), (x_b, scale_b) = (torch.autograd.grad(a.pow(2).sum(), [plain, log_scale]),
                                          torch.autograd.grad(b.pow(2).sum(), [last, log_scale]))
        assert torch.equal(x_a, x_b)
        assert torch.allclose(scale_a, scale_b, rtol=1e-4)  # a sum over the elements, in another order


def test_soft_weight_and_penalty_match_their_definitions():
    g = torch.Generator().manual_seed(1)
    v = torch.randn(6, 36, generator=g, requires_grad=True)  # (output channels, rest), as _learned.py keeps it
    floor = torch.floor(torch.randn(6, 36, generator=g) * 3)
    scale0, log_scale = torch.rand(6, generator=g) + 0.1, torch.zeros(6)
    h = _fused.rectified_sigmoid(v)
    weight = _fused.soft_weight(v, floor, scale0, log_scale, torch.tensor(-7.0), torch.tensor(7.0))
    assert torch.allclose(weight, torch.clamp(floor + h, -7, 7) * scale0.view(-1, 1))
    beta = torch.tensor([2.0])
    assert torch.allclose(_fused.rounding_penalty(v, beta), (1 - (2 * h - 1).abs().pow(2)).sum())
    assert _fused.rounding_penalty(v, beta).shape == ()  # the rows summed (the compiled part gives rows)
    assert torch.allclose(_fused._rounding_penalty(v, beta), (1 - (2 * h - 1).abs().pow(2)).sum(dim=1))


def test_steps_run_eagerly_on_the_cpu_and_report():
    counter, reports = torch.zeros(1), []
    times = run_steps(lambda: counter.add_(1), 7, torch.device("cpu"), every=3, report=reports.append)
    assert int(counter) == 7 and reports == [1, 3, 6, 7]
    # The first step (where any compiling happens) is timed apart from the other six.
    assert (times.first_steps, times.steps) == (1, 6) and times.first_seconds >= 0 and times.seconds >= 0
    assert times.describe().startswith("first 1 steps ") and "6 steps at " in times.describe()


@pytest.mark.parametrize("value", ["0", "1"])
def test_compile_switch(monkeypatch, value):
    monkeypatch.setenv("DFQ_COMPILE", value)
    assert compile_enabled() is (value == "1")


def test_one_graph_serves_layers_of_every_shape():
    """The rounding variables of a stem, a depthwise and a pointwise layer: Dynamo traces the soft
    weight and the regulariser once each (a counting backend; each compilation costs seconds on a GPU)."""
    import torch._dynamo

    counting, graphs = counting_backend()

    torch._dynamo.reset()
    dynamic_settings()
    soft = torch.compile(_fused._soft_weight, backend=counting, dynamic=True)
    penalty = torch.compile(_fused._rounding_penalty, backend=counting, dynamic=True)
    bounds, beta = torch.tensor([-7.0, 7.0]), torch.tensor([2.0])
    for channels, rest in [(32, 27), (32, 9), (96, 16), (16, 96)]:
        v = torch.nn.Parameter(torch.randn(channels, rest))
        floor, scale0 = torch.zeros(channels, rest), torch.rand(channels) + 0.1
        log_scale = torch.nn.Parameter(torch.zeros(channels))
        (soft(v, floor, scale0, log_scale, *bounds).sum() + penalty(v, beta).sum()).backward()
    torch._dynamo.reset()
    assert len(graphs) == 2, [g.code for g in graphs]
