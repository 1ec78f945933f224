"""The search end to end on small inputs: walk, sensitivities, choice, TOML, artifact, scorer size."""
import copy

import pytest
import torch

from challenge.artifact import read_artifact, save_artifact
from challenge.errors import KitError
from challenge.models import build_architecture
from challenge.quant import Scheme, get_scheme, quantize_model
from challenge.quant.fold import fold_batchnorm
from challenge.quant.layer_config import read_layer_config, resolve_layer_specs
from challenge.search import plan, search
from challenge.search.plot import plot_frontier
from challenge.search.report import companion_paths, frontier_table, write_layer_config
from challenge.search.walk import GraphWalk
from challenge.size import compression_ratio

SMALL = dict(weight_bits=(2, 4, 8), samples=2)
# A stand-in for w4a4 with min-max weight scales: the same layer specs, without the MSE
# clipping search over 11 million weights per width (seconds the tests need not spend).
W4A4 = Scheme("test-w4a4", 4, 4, edge_bits=8)


def batches():
    return [torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))]


@pytest.mark.parametrize("arch, num_classes", [("resnet18", 10), ("mobilenet_v2", 1000), ("shufflenet_v2_x1_0", 10)])
def test_resuming_after_any_layer_gives_the_forward_output(arch, num_classes):
    torch.manual_seed(0)
    model = fold_batchnorm(build_architecture(arch, num_classes).eval())
    walk = GraphWalk(model)
    names = [n for n, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    x = batches()[0]
    with torch.no_grad():
        expected = model(x)
        seen = []
        for number, (name, layer_input, resume) in enumerate(walk.cuts(x, names)):
            seen.append(name)
            if number % 5 == 0 or number == len(names) - 1:  # resuming costs a suffix: check a few
                assert torch.equal(resume(model.get_submodule(name)(layer_input)), expected), name
    assert seen == names


@pytest.fixture(scope="module")
def searched(trained_resnet18):
    space = plan("resnet18", 10, get_scheme("int8"), 85.0, **SMALL)
    return space, search(space, trained_resnet18, batches())


def test_choice_meets_the_target_as_the_scorer_counts_it(tmp_path, searched, trained_resnet18):
    space, result = searched
    assert result.chosen.compression >= 85.0 and result.seconds["solve"] < 1.0
    path = write_layer_config(tmp_path / "mixed.toml", result, "test")
    rules = read_layer_config(path)  # the TOML round-trips
    specs = resolve_layer_specs(list(space.specs), space.scheme, rules)
    assert {n: s.weight_bits for n, s in specs.items()} == result.chosen.weight_bits
    qmodel = quantize_model(trained_resnet18, space.scheme, batches(), rules)
    artifact = tmp_path / "resnet18.safetensors"
    save_artifact(artifact, qmodel, arch="resnet18", num_classes=10, scheme="int8", generator="gaussian")
    contents = read_artifact(artifact)
    assert contents.quantized_bytes == result.chosen.quantized_bytes
    assert compression_ratio(contents.fp32_bytes, contents.quantized_bytes) >= 85.0


def test_frontier_is_monotone_and_written(tmp_path, searched):
    space, result = searched
    compressions = [row.compression for row in result.sweep]
    assert compressions == sorted(compressions) and all(r.compression >= r.target for r in result.sweep)
    costs = [row.sensitivity for row in result.sweep]
    assert costs == sorted(costs)  # more compression never predicts less sensitivity
    table_path, plot_path, _ = companion_paths(tmp_path / "mixed.toml")
    assert "(chosen)" in frontier_table(result) and table_path.name == "mixed.frontier.md"
    plot_frontier(plot_path, result)
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_search_after_reconstruction_meets_the_target_as_the_scorer_counts_it(tmp_path):
    """proxy=adaround-kl: sensitivities after a short AdaRound of each layer and width (two steps
    here; ShuffleNetV2's stem and stage 2, the rest fixed), then the same choice, TOML and artifact
    as any proxy."""
    torch.manual_seed(0)
    model = build_architecture("shufflenet_v2_x1_0", 10).eval()
    target = 74.6  # between all 8-bit (74.36%) and all 2-bit (74.94%) on the layers left
    space = plan("shufflenet_v2_x1_0", 10, get_scheme("int8"), target, weight_bits=(2, 8), samples=1,
                 fix=["stage[34]*", "conv5*"], proxy="adaround-kl", proxy_iterations=2)
    result = search(space, model, [batches()[0][:1]])
    assert result.chosen.compression >= target and 2 in result.chosen.weight_bits.values()
    assert result.prediction.samples == 1 and 0 <= result.prediction.agreement <= 100
    rules = read_layer_config(write_layer_config(tmp_path / "mixed.toml", result, "test"))
    qmodel = quantize_model(model, space.scheme, batches(), rules)
    artifact = tmp_path / "model.safetensors"
    save_artifact(artifact, qmodel, arch="shufflenet_v2_x1_0", num_classes=10, scheme="int8", generator="gaussian")
    contents = read_artifact(artifact)
    assert contents.quantized_bytes == result.chosen.quantized_bytes
    assert compression_ratio(contents.fp32_bytes, contents.quantized_bytes) >= target


def test_search_is_deterministic(trained_resnet18):
    # Layers 2-4 fixed at 8 bits leave 74.96-75.23%: a target inside makes a real choice.
    space = plan("resnet18", 10, get_scheme("int8"), 75.1, **SMALL, fix=["layer[234]*"])
    first, again = (search(space, copy.deepcopy(trained_resnet18), batches()) for _ in range(2))
    assert again.sensitivities.weights == first.sensitivities.weights
    assert again.chosen == first.chosen


def test_activation_widths_are_chosen_and_round_trip(tmp_path, trained_resnet18):
    # Layers 3-4 fixed at 4 bits leave 86.67-87.42%: a target inside makes a real choice.
    space = plan("resnet18", 10, W4A4, 87.0, weight_bits=(4, 8), act_bits=(4, 6), samples=1, fix=["layer[34]*"])
    assert "conv1" not in space.act_searched  # the scheme keeps the image input at its own width
    result = search(space, trained_resnet18, batches())
    assert set(result.chosen.act_bits) == set(space.act_searched) and space.act_searched
    rules = read_layer_config(write_layer_config(tmp_path / "acts.toml", result))
    specs = resolve_layer_specs(list(space.specs), space.scheme, rules)
    assert all(specs[n].act_bits == b for n, b in result.chosen.act_bits.items())
    assert space.fixed["conv1"] == "set by the scheme" and specs["conv1"].weight_bits == 8
    assert all(specs[n].weight_bits == 4 for n in space.fixed if n != "conv1")


@pytest.mark.parametrize("target, kwargs, message", [
    (101.0, {}, "from 0 to below 100"),
    (-1.0, {}, "from 0 to below 100"),
    (float("nan"), {}, "from 0 to below 100"),
    (95.0, {}, "beyond what resnet18 reaches with 2-bit weights"),
    (50.0, {}, "below what resnet18 already reaches with 8-bit weights"),
    (80.0, {"weight_bits": (2, 3, 4)}, r"below what resnet18 already reaches with 4-bit weights .*87\.\d\d% \(4-bit"),
    (100.0, {}, r"reaches 74\.96% \(8-bit weights\) to 93\.66% \(2-bit weights\)"),
    (80.0, {"fix": ["layer9.*"]}, "matches no layer"),
    (80.0, {"weight_bits": (1, 4)}, "widths from 2 to 8"),
    (80.0, {"proxy": "magic"}, "unknown sensitivity proxy"),
    (80.0, {"proxy_iterations": 5}, "proxy_iterations applies to a proxy that reconstructs"),
    (80.0, {"proxy": "adaround-kl", "proxy_iterations": 0}, "proxy_iterations takes a whole number of at least 1"),
])
def test_bad_plans_are_user_errors(target, kwargs, message):
    with pytest.raises(KitError, match=message):
        plan("resnet18", 10, get_scheme("w4a8"), target, **kwargs)


def test_a_scheme_without_weights_is_refused():
    with pytest.raises(KitError, match="quantizes no weights"):
        plan("resnet18", 10, get_scheme("fp32"), 80.0)


def test_one_calibration_for_every_measured_point_equals_main_py(trained_resnet18):
    """realdata.with_rules (calibrate once, set widths, freeze) makes main.py's model exactly."""
    from challenge.quant import quant_layers
    from challenge.search.realdata import calibrated, with_rules

    scheme = W4A4
    rules = [{"match": "layer1.*", "weight_bits": 2}, {"match": "layer2.0.conv1", "act_bits": 6},
             {"match": "fc", "weight_bits": 7}]
    expected = quantize_model(trained_resnet18, scheme, batches(), rules)
    got = with_rules(calibrated(trained_resnet18, scheme, batches()), trained_resnet18, scheme, rules, batches())
    for (name, a), (_, b) in zip(quant_layers(expected).items(), quant_layers(got).items()):
        assert a.spec == b.spec and torch.equal(a.weight_int, b.weight_int), name
        assert torch.equal(a.input_quant.scale, b.input_quant.scale), name
        assert torch.equal(a.input_quant.zero_point, b.input_quant.zero_point), name
