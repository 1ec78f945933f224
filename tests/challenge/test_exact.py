"""The exact reference runtime (challenge/quant/exact.py): integer sums, whatever their order.

Another device is simulated by another summation: the same model run with every quantized
layer accumulated in float64 (a different kernel, exact by construction) must give the same
bits, and so must other batch sizes and thread counts.
"""
import pytest
import torch
import torch.nn.functional as F

from challenge.data import normalize
from challenge.evaluate import predict_tensor
from challenge.models import build_architecture
from challenge.quant import exact, get_scheme, quantize_model
from challenge.quant.modules import quant_layers


@pytest.fixture(scope="module", params=["resnet18", "mobilenet_v2", "shufflenet_v2_x1_0"])
def qmodel(request):
    torch.manual_seed(0)
    model = build_architecture(request.param, 10).eval()
    g = torch.Generator().manual_seed(0)
    return quantize_model(model, get_scheme("int8"), [torch.randn(4, 3, 64, 64, generator=g)])


@pytest.fixture(scope="module")
def images():
    return torch.randint(0, 256, (6, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))


def _logits(model, images, batch_size=6):
    with torch.no_grad(), exact.exact_runtime():
        return torch.cat([model(exact.normalize_exact(images[i:i + batch_size]))
                          for i in range(0, len(images), batch_size)])


def test_same_bits_with_another_summation_batch_and_threads(qmodel, images, monkeypatch):
    reference = _logits(qmodel, images)
    assert torch.equal(reference, _logits(qmodel, images, batch_size=1))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert torch.equal(reference, _logits(qmodel, images, batch_size=4))
    finally:
        torch.set_num_threads(threads)
    monkeypatch.setattr(exact, "EXACT_LIMIT", 0)  # every layer in float64: another kernel, another order
    layers = quant_layers(qmodel).values()
    for layer in layers:
        del layer._exact_cache
    try:
        assert torch.equal(reference, _logits(qmodel, images))
        assert {layer._exact_cache["dtype"] for layer in layers} == {torch.float64}
    finally:
        for layer in layers:
            del layer._exact_cache


def test_a_layer_is_its_integer_sum_scaled(qmodel):
    """acc = sum((x_int - zp) * w_int) exactly, then * (s_in * s_w) and + bias in float32."""
    for name, layer in list(quant_layers(qmodel).items())[:4]:
        if not isinstance(layer.layer, torch.nn.Conv2d):
            continue
        channels = layer.layer.in_channels
        x = torch.randn(2, channels, 9, 9, generator=torch.Generator().manual_seed(3)) * 3
        with torch.no_grad(), exact.exact_runtime():
            got = layer(x)
        ints = exact.integer_input(x, layer.input_quant).double()
        conv = layer.layer
        acc = F.conv2d(ints, layer.weight_int.double(), None, conv.stride, conv.padding, conv.dilation, conv.groups)
        scale = (layer.input_quant.scale.double() * layer.weight_scale.double()).float().view(1, -1, 1, 1)
        expected = acc.float() * scale + conv.bias.view(1, -1, 1, 1)
        assert torch.equal(got, expected), name


def test_integers_are_fake_quantize_s(qmodel):
    layer = next(iter(quant_layers(qmodel).values()))
    q = layer.input_quant
    x = torch.randn(1000, generator=torch.Generator().manual_seed(4)) * 4
    fake = torch.fake_quantize_per_tensor_affine(x, q.scale, q.zero_point, q.qmin, q.qmax)
    assert torch.allclose(exact.integer_input(x, q) * q.scale, fake, rtol=0, atol=1e-6)


def test_close_to_the_fake_quantized_model_and_same_predictions_as_evaluate(qmodel, images):
    exact_logits = _logits(qmodel, images)
    with torch.no_grad():
        fake = qmodel(normalize(images))
    assert torch.allclose(exact_logits, fake, atol=0.05 * float(fake.abs().max()) + 1e-8)  # random MobileNetV2: ~1e-10
    assert predict_tensor(qmodel, images, batch_size=4).classes == exact_logits.argmax(1).tolist()


def test_normalize_table_matches_the_float64_formula():
    pixels = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16).expand(1, 3, 16, 16)
    expected = normalize(pixels.double().to(torch.uint8)).double()
    assert torch.allclose(exact.normalize_exact(pixels).double(), expected, rtol=0, atol=1e-6)


def test_averages_run_in_float64_and_only_inside():
    x = torch.rand(2, 3, 7, 7)
    with exact.exact_runtime():
        assert exact.active()
        pooled = F.adaptive_avg_pool2d(x, 1)
        mean = x.mean([2, 3])
    assert not exact.active()
    expected = x.double().mean([2, 3]).float()
    assert torch.equal(pooled.flatten(1), expected) and torch.equal(mean, expected)
    assert pooled.dtype == torch.float32


def _with_int8_products(model, monkeypatch, images, on_cpu=True):
    """Logits with every groups=1 convolution as exact_int8's int8 product (the GPU path),
    forced here on the CPU, where torch._int_mm also runs."""
    from challenge.quant import exact_int8

    applies = exact_int8.applies
    monkeypatch.setattr(exact_int8, "applies", lambda layer, device: applies(layer, torch.device("cuda")))
    layers = quant_layers(model).values()
    for layer in layers:
        layer.__dict__.pop("_exact_cache", None)
    try:
        logits = _logits(model, images)
        used = sum(layer._exact_cache["int8"] is not None for layer in layers if "_exact_cache" in layer.__dict__)
    finally:
        for layer in layers:
            layer.__dict__.pop("_exact_cache", None)
    return logits, used


def test_int8_products_give_the_same_bits_as_the_float_sums(qmodel, images, monkeypatch):
    reference = _logits(qmodel, images)
    for layer in quant_layers(qmodel).values():
        layer.__dict__.pop("_exact_cache", None)
    logits, used = _with_int8_products(qmodel, monkeypatch, images)
    grouped = sum(isinstance(l.layer, torch.nn.Conv2d) and l.layer.groups == 1 for l in quant_layers(qmodel).values())
    assert used == grouped > 0
    assert torch.equal(reference, logits)


@pytest.mark.parametrize("scheme", ["w4a4", "w6a6"])
def test_int8_products_at_lower_widths(scheme, images, monkeypatch):
    """Below 8 bits the activation range is 0..15 or 0..63 (no shift) and weights are small."""
    torch.manual_seed(1)
    model = build_architecture("resnet18", 10).eval()
    qmodel = quantize_model(model, get_scheme(scheme), [torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(3))])
    reference = _logits(qmodel, images)
    for layer in quant_layers(qmodel).values():
        layer.__dict__.pop("_exact_cache", None)
    logits, used = _with_int8_products(qmodel, monkeypatch, images)
    assert used > 0 and torch.equal(reference, logits)


@pytest.mark.parametrize("kernel,stride,padding,dilation,channels", [
    (7, 2, 3, 1, (3, 58)), (3, 1, 2, 2, (16, 24)), (1, 2, 0, 1, (40, 8)), (3, 2, 1, 1, (5, 3))])
def test_an_int8_product_convolution_is_the_integer_sum(kernel, stride, padding, dilation, channels):
    """exact_int8.conv against F.conv2d in float64 on the same integers: padding, strides,
    dilation, and inner/output sizes that are not multiples of 8."""
    from types import SimpleNamespace

    from challenge.quant import exact_int8
    from challenge.quant.modules import ActQuantizer

    g = torch.Generator().manual_seed(kernel * 10 + stride)
    conv = torch.nn.Conv2d(channels[0], channels[1], kernel, stride, padding, dilation, bias=False)
    weight_int = torch.randint(-128, 128, conv.weight.shape, generator=g, dtype=torch.int8)
    layer = SimpleNamespace(layer=conv, input_quant=ActQuantizer(8), weight_int=weight_int)
    zero_point = 37
    q = torch.randint(0, 256, (2, channels[0], 13, 11), generator=g)
    x_int = (q - zero_point).float()  # the activations, at scale 1: they quantize to q
    const = exact_int8.constants(layer, torch.device("cpu"), zero_point, torch.ones(channels[1]), None)
    out = exact_int8.forward(layer, x_int, const)
    expected = F.conv2d(x_int.double(), weight_int.double(), None, stride, padding, dilation)
    assert out.shape == expected.shape and torch.equal(out, expected.float())


def test_int8_products_are_used_only_where_they_are_exact():
    """Not for depthwise layers, string padding, activations over 8 bits, weights over int8,
    sums that could pass int32, or a CPU."""
    from types import SimpleNamespace

    from challenge.quant import exact_int8
    from challenge.quant.modules import ActQuantizer

    def layer(conv=None, bits=8, weight=None):
        conv = conv or torch.nn.Conv2d(8, 8, 3, padding=1, bias=False)
        weight = torch.ones(conv.weight.shape, dtype=torch.int32) if weight is None else weight
        return SimpleNamespace(layer=conv, input_quant=ActQuantizer(bits), weight_int=weight)

    cuda = torch.device("cuda")
    assert exact_int8.applies(layer(), cuda)
    assert not exact_int8.applies(layer(), torch.device("cpu"))
    assert not exact_int8.applies(layer(torch.nn.Conv2d(8, 8, 3, groups=8)), cuda)
    assert not exact_int8.applies(layer(torch.nn.Conv2d(8, 8, 3, padding="same")), cuda)
    assert not exact_int8.applies(layer(bits=9), cuda)
    assert not exact_int8.applies(layer(weight=torch.full((8, 8, 3, 3), 200, dtype=torch.int32)), cuda)
    wide = torch.nn.Conv2d(8192, 1, 3, bias=False)  # 73,728 taps of -128: 383 * 9.4M passes 2**31
    assert not exact_int8.applies(layer(wide, weight=torch.full(wide.weight.shape, -128, dtype=torch.int32)), cuda)
    assert exact_int8.applies(layer(wide, weight=torch.full(wide.weight.shape, -16, dtype=torch.int32)), cuda)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CI has none; run it on the device)")
@pytest.mark.parametrize("batch_size", [1, 6])
def test_a_gpu_gives_the_cpu_s_bits(qmodel, images, batch_size):
    """The GPU path (int8 products through cuBLASLt, PyTorch's depthwise kernel) against the CPU's
    float sums, logit for logit. One 64-pixel image leaves 4 rows in the last layers: the
    padded-rows branch of exact_int8.conv."""
    from challenge.precision import strict_float32

    cpu = _logits(qmodel, images, batch_size)
    qmodel.cuda()
    try:
        with strict_float32():  # as evaluate.predict_batches runs: no TF32 in the float layers
            gpu = _logits(qmodel, images.cuda(), batch_size).cpu()
        used = [layer for layer in quant_layers(qmodel).values() if layer.__dict__.get("_exact_cache", {}).get("int8")]
    finally:
        qmodel.cpu()
        for layer in quant_layers(qmodel).values():
            layer.__dict__.pop("_exact_cache", None)
    assert used and torch.equal(cpu, gpu)
