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
