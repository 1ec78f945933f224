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
    for x, _ in _layers():
        x = x.reshape(len(x), -1).requires_grad_(True)
        log_scale = torch.zeros(1, requires_grad=True)
        for drop_prob in (0.0, 1.0):  # QDrop off, and every element kept (its draws cannot decide)
            # The step size once for the tensor, or broadcast over the rows as act_fake_quant hands it over.
            for given in (log_scale, log_scale.expand(len(x), 1)):
                args = (torch.tensor([0.1]), given, torch.tensor([3.0]), *bounds, drop_prob)
                eager, fused = _fused._act_fake_quant(x, *args), compiled(x, *args)
                assert torch.allclose(eager, fused, atol=1e-6)
                assert drop_prob == 0.0 or torch.equal(fused, x)
                for a, b in zip(torch.autograd.grad(eager.pow(2).sum(), [x, log_scale]),
                                torch.autograd.grad(fused.pow(2).sum(), [x, log_scale])):
                    assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)


def test_compiled_activation_chain_takes_a_strided_slice_and_a_bias_as_the_eager_one():
    """What reconstruction hands the compiled chain for ShuffleNetV2's branches: one row per pixel
    of a channel slice (rows strided by the whole map's channels), the absorbed bias of the layer
    before, the clamp of an absorbed activation and the step size broadcast over the rows."""
    compiled = torch.compile(_fused._act_fake_quant, dynamic=True)
    g = torch.Generator().manual_seed(5)
    whole = torch.randn(4, 12, 5, 3, generator=g).contiguous(memory_format=torch.channels_last)
    rows = whole[:, 6:].permute(0, 2, 3, 1).reshape(-1, 6).requires_grad_(True)
    assert rows.stride() == (12, 1)
    bias = torch.randn(6, generator=g)
    log_scale = torch.zeros(1, requires_grad=True)
    for drop_prob in (0.0, 1.0):
        args = (torch.tensor([0.05]), log_scale.expand(len(rows), 1), torch.tensor([3.0]), torch.tensor(0.0),
                torch.tensor(255.0), drop_prob, torch.tensor(0.0), torch.tensor(6.0), bias)
        eager, fused = _fused._act_fake_quant(rows, *args), compiled(rows, *args)
        assert torch.allclose(eager, fused, atol=1e-6)
        assert drop_prob == 0.0 or torch.equal(fused, torch.clamp(rows + bias, 0, 6))
        for a, b in zip(torch.autograd.grad(eager.pow(2).sum(), [rows, log_scale]),
                        torch.autograd.grad(fused.pow(2).sum(), [rows, log_scale])):
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("compiled", [False, True])
def test_qdrop_keeps_each_element_or_quantizes_it_drawing_in_the_kernel(compiled):
    """QDrop's draws are made inside the chain (in the kernel when compiled): each element is x
    itself or its quantized value, about drop_prob of them x, and the gradient follows the choice."""
    chain = torch.compile(_fused._act_fake_quant, dynamic=True) if compiled else _fused._act_fake_quant
    torch.manual_seed(0)
    x = (torch.randn(8, 500) * 2).requires_grad_(True)
    args = (torch.tensor([0.3]), torch.zeros(1), torch.tensor([7.0]), torch.tensor(0.0), torch.tensor(15.0))
    quantized = _fused._act_fake_quant(x, *args).detach()
    out = chain(x, *args, 0.5)
    kept = out == x
    assert torch.all(kept | (out == quantized))
    assert 0.4 < float((kept & (x != quantized)).sum() / (x != quantized).sum()) < 0.6
    grad, = torch.autograd.grad(out.sum(), [x])
    assert torch.all(grad[kept & (x != quantized)] == 1)


def test_qdrop_input_takes_each_element_from_one_of_the_two_in_their_layout():
    torch.manual_seed(1)
    x_q = torch.randn(4, 6, 5, 3).contiguous(memory_format=torch.channels_last)
    x_fp = (x_q + 10).contiguous(memory_format=torch.channels_last)
    mixed = _fused.qdrop_input(x_q, x_fp, 0.5)
    from_fp = mixed == x_fp
    assert torch.all(from_fp | (mixed == x_q)) and 0.35 < float(from_fp.float().mean()) < 0.65
    assert mixed.is_contiguous(memory_format=torch.channels_last) and not mixed.is_contiguous()


def test_reconstruction_loss_is_the_channel_sum_averaged_over_the_rest():
    g = torch.Generator().manual_seed(3)
    for shape in [(4, 6, 5, 3), (5, 10)]:
        out, target = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
        layouts = [torch.contiguous_format] + ([torch.channels_last] if len(shape) == 4 else [])
        for layout in layouts:
            a = out.contiguous(memory_format=layout).requires_grad_(True)
            b = target.contiguous(memory_format=layout)
            reference = (out - target).pow(2).sum(1).mean()
            assert torch.allclose(_fused.reconstruction_loss(a, b), reference, rtol=1e-6)
            grad, = torch.autograd.grad(_fused.reconstruction_loss(a, b), [a])
            assert torch.allclose(grad, 2 * (out - target) / (out.numel() // shape[1]), rtol=1e-5)


def test_channels_last_feature_maps_stay_channels_last_and_quantize_the_same():
    """Reconstruction hands feature maps over channels-last (so that the convolution after the
    quantizer runs on channels-last kernels): the quantizer keeps that layout, without a copy of
    the input into another order, and gives the values and gradients of the plain layout."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(4, 6, 5, 3, generator=g)
    plain = x.clone().requires_grad_(True)
    last = x.contiguous(memory_format=torch.channels_last).requires_grad_(True)
    for drop_prob in (0.0, 1.0):
        log_scale = torch.zeros(1, requires_grad=True)
        args = (torch.tensor([0.05]), log_scale, torch.tensor([3.0]), torch.tensor(0.0), torch.tensor(255.0))
        a, b = _fused.act_fake_quant(plain, *args, drop_prob), _fused.act_fake_quant(last, *args, drop_prob)
        assert torch.equal(a, b)
        assert b.is_contiguous(memory_format=torch.channels_last) and not b.is_contiguous()
        (x_a, scale_a), (x_b, scale_b) = (torch.autograd.grad(a.pow(2).sum(), [plain, log_scale]),
                                          torch.autograd.grad(b.pow(2).sum(), [last, log_scale]))
        assert torch.equal(x_a, x_b)
        if drop_prob == 0.0:  # a sum over the elements, in another order
            assert torch.allclose(scale_a, scale_b, rtol=1e-4)


def test_a_channel_slice_is_quantized_per_pixel_in_place_and_a_bias_added_in_any_layout():
    """ShuffleNetV2's branches take a channel slice of a channels-last map: the chain reads it as
    one row per pixel, a view (no copy), and hands back a channels-last map. A bias absorbed into
    the chain (_absorbed.py) is added per channel, in the chain where the rows' columns are the
    channels, before it otherwise: the values and gradients of adding it first, in every layout."""
    g = torch.Generator().manual_seed(4)
    whole = torch.randn(4, 12, 5, 3, generator=g).contiguous(memory_format=torch.channels_last)
    part = whole[:, 6:]
    assert not part.is_contiguous() and not part.is_contiguous(memory_format=torch.channels_last)
    to_rows, _ = _fused._rows(part)
    assert to_rows(part).data_ptr() == part.data_ptr() and to_rows(part).shape == (60, 6)
    bias = torch.randn(6, generator=g)
    args = (torch.tensor([0.05]), torch.zeros(1), torch.tensor([3.0]), torch.tensor(0.0), torch.tensor(255.0), 0.0,
            torch.tensor(0.0), torch.tensor(6.0))
    x = part.clone()
    reference = _fused.act_fake_quant(x + bias.view(1, -1, 1, 1), *args)
    for layout in (part, part.contiguous(), part.contiguous(memory_format=torch.channels_last)):
        given = layout.detach().requires_grad_(True)
        out = _fused.act_fake_quant(given, *args, bias)
        assert torch.equal(out, reference)
        assert out.is_contiguous(memory_format=torch.channels_last) == (layout.stride(1) == 1)
        grad, = torch.autograd.grad(out.pow(2).sum(), [given])
        plain = x.detach().requires_grad_(True)
        expected, = torch.autograd.grad(_fused.act_fake_quant(plain + bias.view(1, -1, 1, 1), *args).pow(2).sum(),
                                        [plain])
        assert torch.equal(grad, expected)


def test_soft_weight_and_penalty_match_their_definitions():
    g = torch.Generator().manual_seed(1)
    v = torch.randn(6, 36, generator=g, requires_grad=True)  # (output channels, rest), as _learned.py keeps it
    floor = torch.floor(torch.randn(6, 36, generator=g) * 3)
    scale0, log_scale = torch.rand(6, generator=g) + 0.1, torch.zeros(6)
    h = _fused.rectified_sigmoid(v)
    weight = _fused.soft_weight(v, floor, scale0, log_scale, torch.tensor(-7.0), torch.tensor(7.0))
    assert torch.allclose(weight, torch.clamp(floor + h, -7, 7) * scale0.view(-1, 1))
    beta = torch.tensor([2.0])
    together, penalty = _fused.soft_weight_and_penalty(v, floor, scale0, log_scale, torch.tensor(-7.0),
                                                       torch.tensor(7.0), beta)
    assert torch.equal(together, weight)
    assert torch.allclose(penalty, (1 - (2 * h - 1).abs().pow(2)).sum())
    assert penalty.shape == ()  # the rows summed (the compiled part gives rows)
    assert torch.allclose(_fused._rounding_penalty(v, beta), (1 - (2 * h - 1).abs().pow(2)).sum(dim=1))


def test_compiled_soft_weight_and_penalty_are_the_eager_ones():
    compiled = torch.compile(_fused._soft_weight_and_penalty, dynamic=True)
    g = torch.Generator().manual_seed(4)
    bounds, beta = (torch.tensor(-7.0), torch.tensor(7.0)), torch.tensor([5.0])
    for channels, rest in [(6, 36), (10, 7)]:
        v = torch.randn(channels, rest, generator=g).requires_grad_(True)
        log_scale = (torch.randn(channels, generator=g) * 0.1).requires_grad_(True)
        floor, scale0 = torch.floor(torch.randn(channels, rest, generator=g) * 3), torch.rand(channels, generator=g) + 0.1
        results = []
        for fn in (_fused._soft_weight_and_penalty, compiled):
            weight, rows = fn(v, floor, scale0, log_scale, *bounds, beta)
            loss = weight.pow(2).sum() + 0.3 * rows.sum()
            results.append((weight, rows, *torch.autograd.grad(loss, [v, log_scale])))
        for a, b in zip(*results):
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)


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
    weight with its regulariser once (a counting backend; each compilation costs seconds on a GPU)."""
    import torch._dynamo

    counting, graphs = counting_backend()

    torch._dynamo.reset()
    dynamic_settings()
    together = torch.compile(_fused._soft_weight_and_penalty, backend=counting, dynamic=True)
    bounds, beta = torch.tensor([-7.0, 7.0]), torch.tensor([2.0])
    for channels, rest in [(32, 27), (32, 9), (96, 16), (16, 96)]:
        v = torch.nn.Parameter(torch.randn(channels, rest))
        floor, scale0 = torch.zeros(channels, rest), torch.rand(channels) + 0.1
        log_scale = torch.nn.Parameter(torch.zeros(channels))
        weight, rows = together(v, floor, scale0, log_scale, *bounds, beta)
        (weight.sum() + rows.sum()).backward()
    torch._dynamo.reset()
    assert len(graphs) == 1, [g.code for g in graphs]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CI has none; run it on the device)")
def test_qdrop_draws_anew_at_every_replay_of_a_captured_step_on_a_gpu():
    """Compiled, QDrop's draws are made in the kernel from seeds the step draws on the device: a
    step captured as a CUDA graph must draw new ones at each replay, not replay the first."""
    x = torch.randn(32, 4096, device="cuda")
    args = [torch.tensor([0.3], device="cuda"), torch.zeros(1, device="cuda"), torch.tensor([7.0], device="cuda"),
            torch.tensor(0.0, device="cuda"), torch.tensor(15.0, device="cuda")]
    out, mixed = torch.empty_like(x), torch.empty_like(x)

    def step():
        out.copy_(_fused.act_fake_quant(x, *args, 0.5))
        mixed.copy_(_fused.qdrop_input(x, x + 1, 0.5))  # the block input's mix draws the same way

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):  # compile and warm up outside the capture
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    masks, mixes = [], []
    for _ in range(3):
        graph.replay()
        masks.append((out == x).clone())
        mixes.append((mixed == x).clone())
    torch.cuda.synchronize()
    for drawn in (masks, mixes):
        assert not torch.equal(drawn[0], drawn[1]) and not torch.equal(drawn[1], drawn[2])
        assert all(0.4 < float(m.float().mean()) < 0.6 for m in drawn)
