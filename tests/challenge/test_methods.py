"""Optimisation methods (challenge/quant/methods/): every method over every scheme, on CPU at tiny sizes."""
import copy
import json

import pytest
import torch
import torchvision
from safetensors import safe_open

from challenge.artifact import load_artifact, save_artifact
from challenge.errors import KitError
from challenge.quant import calibrate, freeze, get_scheme, list_methods, list_schemes, optimise, prepare, quantize_model
from challenge.quant.methods._capture import folded_fp32, for_each_call
from challenge.quant.methods._units import unit_names

# A few iterations, small batches: the behaviour, not the quality.
FAST = {"adaround": {"iterations": 4, "batch_size": 4}, "brecq": {"iterations": 4, "batch_size": 4}}
QUANTIZING = [s for s in list_schemes() if get_scheme(s).quantizes]


def tiny_batches(size=32, count=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(4, 3, size, size, generator=g) for _ in range(count)]


@pytest.fixture(scope="module")
def small_resnet():
    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=10).eval()


@pytest.fixture(scope="module")
def rounded(small_resnet):
    """scheme -> small_resnet prepared, calibrated and rounded to nearest (what every method
    starts from: quantize_model's and challenge/runner.py's steps before optimise), made once per
    scheme: below 8 bits the MSE weight scales take 2 s."""
    made = {}

    def get(scheme):
        if scheme not in made:
            model = prepare(small_resnet, get_scheme(scheme))
            calibrate(model, tiny_batches())
            made[scheme] = freeze(model)
        return made[scheme]
    return get


@pytest.mark.parametrize("scheme", QUANTIZING)
@pytest.mark.parametrize("method", list_methods())
def test_method_keeps_integers_on_the_grid_and_round_trips(tmp_path, small_resnet, rounded, method, scheme):
    # The method on a copy of the rounded model, as main.py runs it (challenge/runner.py): the
    # same steps and bits as quantize_model(..., method=method) (test_same_seed_same_model runs it).
    torch.manual_seed(0)
    qmodel = optimise(method, small_resnet, copy.deepcopy(rounded(scheme)), tiny_batches(), FAST.get(method, {}))
    path = tmp_path / "model.safetensors"
    save_artifact(path, qmodel, arch="resnet18", num_classes=10, scheme=scheme, generator="gaussian",
                  method=method, method_args=FAST.get(method, {}))
    reloaded, contents = load_artifact(path)  # read_artifact checks every integer against its grid
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(qmodel(x), reloaded(x))
    with safe_open(str(path), framework="pt") as handle:
        metadata = json.loads(handle.metadata()["dfq_artifact"])
    assert metadata["method"] == method and metadata["method_args"] == FAST.get(method, {})


def test_units_follow_the_architecture():
    from challenge.quant import prepare

    names = {arch: unit_names(prepare(torchvision.models.get_model(arch, num_classes=10).eval(),
                                      get_scheme("int8")), "block")
             for arch in ("resnet18", "mobilenet_v2", "shufflenet_v2_x1_0")}
    assert names["resnet18"] == ["conv1", "layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0",
                                 "layer3.1", "layer4.0", "layer4.1", "fc"]
    assert names["mobilenet_v2"] == [f"features.{i}" for i in range(19)] + ["classifier"]
    assert names["shufflenet_v2_x1_0"][:2] == ["conv1", "stage2.0"] and names["shufflenet_v2_x1_0"][-2:] == ["conv5", "fc"]


def test_cached_feature_maps_come_back_channels_last_and_unchanged():
    """Reconstruction's cache takes samples from (sample, height, width, channel) rows: what it
    gives is the same values as plain indexing, in the channels-last layout the depthwise kernels
    want (index_select alone would hand them back channels-first); flat tensors pass as they are."""
    from challenge.quant.methods._reconstruct import Cache

    torch.manual_seed(0)
    parts = [torch.randn(5, 6, 4, 3).contiguous(memory_format=torch.channels_last) for _ in range(3)]
    index = torch.tensor([14, 0, 7, 7])
    taken = Cache(parts, torch.device("cpu")).take(index)
    assert torch.equal(taken, torch.cat(parts)[index])
    assert taken.is_contiguous(memory_format=torch.channels_last) and not taken.is_contiguous()
    flat = [torch.randn(5, 8) for _ in range(2)]
    assert torch.equal(Cache(flat, torch.device("cpu")).take(index[:2] % 10), torch.cat(flat)[index[:2] % 10])


def _block_error(fp32_model, qmodel, unit, batches) -> float:
    """Mean squared error of one block's output: quantized block on the quantized model's input
    against the FP32 block on the FP32 input."""
    fp = folded_fp32(fp32_model)
    targets, outputs = [], []
    for_each_call(fp, fp.get_submodule(unit), batches, lambda x, y: targets.append(y))
    for_each_call(qmodel, qmodel.get_submodule(unit), batches, lambda x, y: outputs.append(y))
    return float((torch.cat(outputs) - torch.cat(targets)).pow(2).mean())


def test_block_reconstruction_lowers_the_block_error(trained_resnet18):
    """BRECQ on the trained stand-in at w4a4: each reconstructed block's output is closer to
    FP32 than round to nearest's (on the calibration images it learned from). 32 x 32 images and
    30 iterations: the errors are 0.83 and 0.66 of round to nearest's (64 x 64 and 60: 0.79, 0.67)."""
    batches = tiny_batches(size=32, count=2)
    scheme = get_scheme("w4a4")
    torch.manual_seed(0)
    rtn = quantize_model(trained_resnet18, scheme, batches)
    torch.manual_seed(0)
    brecq = quantize_model(trained_resnet18, scheme, batches, method="brecq",
                           method_kwargs={"iterations": 30, "batch_size": 4})
    for unit in ("layer1.0", "layer2.0"):
        assert _block_error(trained_resnet18, brecq, unit, batches) < _block_error(trained_resnet18, rtn, unit, batches)


def test_same_seed_same_model(small_resnet):
    models = []
    for _ in range(2):
        torch.manual_seed(0)
        models.append(quantize_model(small_resnet, get_scheme("w4a8"), tiny_batches(), method="brecq",
                                     method_kwargs=FAST["brecq"]))
    for (name, a), b in zip(models[0].state_dict().items(), models[1].state_dict().values()):
        assert torch.equal(a, b), name


def test_bad_method_inputs(small_resnet):
    with pytest.raises(KitError, match="unknown method 'magic'; choose one of adaround, bias-correction, brecq, gptq, rtn"):
        quantize_model(small_resnet, get_scheme("int8"), tiny_batches(), method="magic")
    with pytest.raises(KitError, match="fp32 scheme quantizes nothing, so method 'brecq'"):
        quantize_model(small_resnet, get_scheme("fp32"), tiny_batches(), method="brecq")
    with pytest.raises(KitError, match="method 'brecq' rejected its arguments"):
        quantize_model(small_resnet, get_scheme("int8"), tiny_batches(), method="brecq",
                       method_kwargs={"iteratoins": 5})


def test_a_method_that_leaves_integers_off_the_grid_is_refused(tmp_path, small_resnet):
    bad = tmp_path / "bad_method.py"
    bad.write_text("def widen(fp32_model, qmodel, batches):\n"
                   "    from challenge.quant import quant_layers\n"
                   "    layer = quant_layers(qmodel)['layer1.0.conv1']  # a 4-bit layer (not an 8-bit edge)\n"
                   "    layer.weight_int = layer.weight_int.clone().fill_(100)\n")
    with pytest.raises(KitError, match="left weight 'layer1.0.conv1' holds integers in \\[100, 100\\]"):
        quantize_model(small_resnet, get_scheme("w4a8"), tiny_batches(), method=f"{bad}:widen")
