import copy

import pytest
import torch

from challenge.errors import KitError
from challenge.models import MODEL_NAMES, build_architecture
from challenge.quant import get_scheme, list_schemes, prepare, quant_layers, quantize_model, read_layer_config
from challenge.quant.fold import fold_batchnorm
from challenge.quant.modules import set_mode
from challenge.quant.observers import OBSERVERS
from challenge.quant.weights import weight_scale


def randomized_bn(model):
    """Non-trivial BatchNorm statistics so that folding is really exercised."""
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model.eval()


@pytest.mark.parametrize("arch", MODEL_NAMES)
def test_fold_batchnorm_keeps_outputs(arch):
    torch.manual_seed(0)
    model = randomized_bn(build_architecture(arch, 10))
    x = torch.randn(2, 3, 64, 64)
    folded = fold_batchnorm(copy.deepcopy(model))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", list(OBSERVERS))
def test_observer_contract(name):
    observer = OBSERVERS[name]()
    x = torch.randn(4, 8, 16, 16).relu() * 3
    assert observer(x) is x
    scale, zero_point = observer.calculate_qparams(0, 255)
    assert scale.shape == (1,) and zero_point.dtype == torch.int32
    assert 0 < float(scale) <= float(x.max()) / 255 + 1e-6
    assert int(zero_point) == 0  # non-negative input: zero is exactly representable at the bottom


def test_mse_weight_scale_clips_outliers():
    w = torch.randn(4, 256)
    w[:, 0] = 20
    assert (weight_scale(w, 4, method="mse") < weight_scale(w, 4, method="minmax")).all()


@pytest.mark.parametrize("scheme", list_schemes())
def test_every_scheme_quantizes_and_stays_close(scheme):
    torch.manual_seed(0)
    model = randomized_bn(build_architecture("resnet18", 10))
    batches = [torch.randn(4, 3, 64, 64) for _ in range(2)]
    qmodel = quantize_model(model, get_scheme(scheme), batches)
    x = batches[0]
    with torch.no_grad():
        reference, output = model(x), qmodel(x)
    cosine = torch.nn.functional.cosine_similarity(reference.flatten(), output.flatten(), dim=0)
    assert cosine > 0.9, f"{scheme}: cosine {cosine:.3f}"
    if scheme == "fp32":
        assert torch.equal(reference, output)
    else:
        layers = quant_layers(qmodel)
        assert len(layers) == 21  # every conv and the linear layer of ResNet18
        for layer in layers.values():  # each on its own grid (the edges of sub-8-bit schemes keep 8)
            limit = 2 ** (layer.spec.weight_bits - 1) - 1
            assert layer.weight_int.abs().max() <= limit
        assert {layer.spec.weight_bits for layer in layers.values()} >= {get_scheme(scheme).weight_bits}


def test_unknown_scheme_lists_the_valid_names():
    with pytest.raises(KitError, match="choose one of int8"):
        get_scheme("int9")


def test_layer_config_overrides_and_errors(tmp_path):
    config = tmp_path / "layers.toml"
    config.write_text('[[layer]]\nmatch = "layer1.*"\nweight_bits = 4\n\n[[layer]]\nmatch = "fc"\nquantize = false\n')
    rules = read_layer_config(config)
    model = prepare(build_architecture("resnet18", 10).eval(), get_scheme("int8"), rules)
    layers = quant_layers(model)
    assert layers["layer1.0.conv1"].spec.weight_bits == 4
    assert layers["layer2.0.conv1"].spec.weight_bits == 8
    assert layers["fc"].spec.weight_bits is None and layers["fc"].input_quant is None

    config.write_text('[[layer]]\nmatch = "no_such_layer"\nweight_bits = 4\n')
    with pytest.raises(KitError, match="matches no layer"):
        prepare(build_architecture("resnet18", 10).eval(), get_scheme("int8"), read_layer_config(config))
    config.write_text('[[layer]]\nmatch = "fc"\nweight_bits = 9\n')
    with pytest.raises(KitError, match="from 2 to 8"):
        read_layer_config(config)
    config.write_text('layer = [1]\n')
    with pytest.raises(KitError, match="must be a \\[\\[layer\\]\\] table"):
        read_layer_config(config)


def test_observe_mode_passes_values_through():
    model = build_architecture("resnet18", 10).eval()
    prepared = prepare(model, get_scheme("int8"))
    set_mode(prepared, "observe")
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(prepared(x), model(x), atol=1e-4, rtol=1e-4)


# The layers that read the stem's output, by architecture (the BRECQ/Genie "second layer").
STEM_READERS = {"resnet18": ["layer1.0.conv1"], "mobilenet_v2": ["features.1.conv.0.0"],
                "shufflenet_v2_x1_0": ["stage2.0.branch1.0", "stage2.0.branch2.0"]}


@pytest.mark.parametrize("arch", MODEL_NAMES)
@pytest.mark.parametrize("scheme", ["w6a6", "w4a8", "w4a4"])
def test_sub_8_bit_schemes_keep_the_network_edges_at_8_bits(arch, scheme):
    layers = quant_layers(prepare(build_architecture(arch, 10).eval(), get_scheme(scheme)))
    names = list(layers)
    bits = get_scheme(scheme)
    first, last = names[0], names[-1]
    assert (layers[first].spec.weight_bits, layers[first].spec.act_bits) == (8, 8)
    assert layers[last].spec.act_bits == 8 and layers[last].spec.weight_bits == bits.weight_bits
    edges = {first, last, *STEM_READERS[arch]}
    assert all(layers[n].spec.act_bits == 8 for n in STEM_READERS[arch])
    assert all((layers[n].spec.weight_bits, layers[n].spec.act_bits) == (bits.weight_bits, bits.act_bits)
               for n in names if n not in edges)


def test_a_layer_config_still_overrides_the_edges():
    rules = [{"match": "conv1", "weight_bits": 4}, {"match": "fc", "act_bits": 4}]
    layers = quant_layers(prepare(build_architecture("resnet18", 10).eval(), get_scheme("w4a4"), rules))
    assert layers["conv1"].spec.weight_bits == 4 and layers["fc"].spec.act_bits == 4


@pytest.mark.parametrize("method", ["rtn", "brecq"])
def test_below_8_bits_the_image_quantizer_covers_the_pixel_range_whatever_the_data(method):
    from challenge.quant.observers import affine_qparams
    from challenge.quant.quantize import image_range

    torch.manual_seed(0)
    batches = [torch.randn(4, 3, 32, 32) * 3 for _ in range(2)]  # spans far more than a photo can
    kwargs = {"iterations": 3, "batch_size": 4} if method == "brecq" else {}
    qmodel = quantize_model(build_architecture("resnet18", 10).eval(), get_scheme("w4a4"), batches,
                            method=method, method_kwargs=kwargs)
    stem = quant_layers(qmodel)["conv1"].input_quant
    scale, zero_point = affine_qparams(*(torch.tensor(v) for v in image_range()), 0, 255)
    assert torch.equal(stem.scale, scale) and torch.equal(stem.zero_point, zero_point)
    int8 = quantize_model(build_architecture("resnet18", 10).eval(), get_scheme("int8"), batches)
    assert not torch.equal(quant_layers(int8)["conv1"].input_quant.scale, scale)  # int8 calibrates it
