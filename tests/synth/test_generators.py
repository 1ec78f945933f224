"""Every registered generator honours the contract in synth/__init__.py (new ones are tested for free)."""
from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch

import synth

ASSETS = Path(__file__).resolve().parents[2].parent / "shared" / "assets"
NUM_CLASSES = 10
SHAPE = (3, 32, 32)
NUM_SAMPLES, BATCH_SIZE = 5, 2  # 5 = 2 + 2 + 1: a short last batch too
CONTRACT = {"model", "num_classes", "input_shape", "num_samples", "batch_size", "seed"}
# Settings that make a generator cheap (or runnable at all), given to those that take them.
SMALL = {"iterations": 2, "train_batch_size": 4, "root": str(ASSETS / "imagenette10")}


def _extra_kwargs(generator) -> dict:
    params = inspect.signature(generator).parameters
    kwargs = {name: value for name, value in SMALL.items() if name in params}
    required = [p.name for p in params.values()
                if p.default is p.empty and p.kind is not p.VAR_KEYWORD and p.name not in CONTRACT]
    unknown = [name for name in required if name not in kwargs]
    if unknown:
        pytest.skip(f"needs arguments this test cannot supply: {', '.join(unknown)}")
    if "root" in kwargs and not Path(kwargs["root"]).is_dir():
        pytest.skip(f"needs an image folder; {kwargs['root']} is absent")
    return kwargs


@pytest.fixture
def model():
    import torchvision

    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=NUM_CLASSES).eval()
    net.fc.requires_grad_(False)  # a mixed pattern, so that restoring "all True" would be caught
    return net


def _run(name, model, seed=0):
    generator = synth.get_generator(name)
    batches = []
    for batch in generator(model, num_classes=NUM_CLASSES, input_shape=SHAPE, num_samples=NUM_SAMPLES,
                           batch_size=BATCH_SIZE, seed=seed, **_extra_kwargs(generator)):
        # A generator that yields inside torch.no_grad() would leave it switched off here.
        assert torch.is_grad_enabled(), f"{name} left gradients disabled in the caller"
        batches.append(batch)
    return batches


@pytest.mark.parametrize("name", synth.list_generators())
def test_yields_the_promised_batches_and_leaves_the_model_alone(name, model):
    state = {k: v.clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    flags = [p.requires_grad for p in model.parameters()]

    batches = _run(name, model)

    assert sum(len(b) for b in batches) == NUM_SAMPLES
    device = next(model.parameters()).device
    for batch in batches:
        assert 1 <= len(batch) <= BATCH_SIZE
        assert tuple(batch.shape[1:]) == SHAPE
        assert batch.dtype == torch.float32 and batch.device == device
        assert torch.isfinite(batch).all()
        assert not batch.requires_grad
    after = model.state_dict()
    assert all(torch.equal(state[k], after[k]) for k in state), "weights or BatchNorm buffers changed"
    assert [m.training for m in model.modules()] == modes
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("name", synth.list_generators())
def test_same_seed_same_images(name, model):
    first, second = _run(name, model, seed=3), _run(name, model, seed=3)
    assert len(first) == len(second)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
