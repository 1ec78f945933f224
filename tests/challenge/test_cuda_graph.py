"""Evaluation through a captured CUDA graph (challenge/cuda_graph.py) keeps every bit.

The replay runs on a GPU only: CI (no GPU) checks that elsewhere the function simply runs;
the device machine runs the rest.
"""
import pytest
import torch

from challenge.cuda_graph import Replayed
from challenge.evaluate import predict_batches
from challenge.models import build_architecture
from challenge.quant import exact, get_scheme, quantize_model

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CI has none; run it on the device)")


@pytest.fixture(scope="module")
def qmodel():
    torch.manual_seed(0)
    model = build_architecture("shufflenet_v2_x1_0", 10).eval()
    g = torch.Generator().manual_seed(0)
    return quantize_model(model, get_scheme("int8"), [torch.randn(4, 3, 64, 64, generator=g)])


@pytest.fixture(scope="module")
def images():
    return torch.randint(0, 256, (43, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))


def test_on_a_cpu_the_function_just_runs():
    calls = []
    replayed = Replayed(lambda x: calls.append(x) or x * 2)
    for _ in range(3):
        assert torch.equal(replayed(torch.ones(4)), torch.full((4,), 2.0))
    assert len(calls) == 3 and replayed.graph is None and replayed.replays == 0


@needs_gpu
def test_replayed_logits_are_the_cpu_s_bits(qmodel, images):
    """Batch after batch (and the last, smaller one), replayed on the GPU against the CPU."""
    batches = [images[i:i + 8] for i in range(0, len(images), 8)]

    def logits(x):
        return qmodel(exact.normalize_exact(x))

    with torch.inference_mode(), exact.exact_runtime():
        cpu = [logits(b) for b in batches]
    qmodel.cuda()  # outside inference mode, as the kit moves models: parameters keep their versions
    try:
        with torch.inference_mode(), exact.exact_runtime():
            replayed = Replayed(logits)
            gpu = [replayed(b.cuda()).cpu() for b in batches]
    finally:
        qmodel.cpu()
        for layer in qmodel.modules():
            layer.__dict__.pop("_exact_cache", None)
    assert replayed.replays == len(batches) - 2  # the first ran as usual, the smaller last one too
    assert all(torch.equal(a, b) for a, b in zip(cpu, gpu))


@needs_gpu
def test_predictions_with_and_without_graphs(qmodel, monkeypatch):
    """predict_batches replays (8 batches of 8 and one of 6) and gives the classes of the plain
    GPU path and of the CPU."""
    import challenge.evaluate

    images = torch.randint(0, 256, (70, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(4))
    batches = [images[i:i + 8] for i in range(0, len(images), 8)]
    made = []

    class Recorded(Replayed):
        def __init__(self, *args):
            super().__init__(*args)
            made.append(self)

    monkeypatch.setattr(challenge.evaluate, "Replayed", Recorded)
    qmodel.cuda()
    try:
        with_graphs = predict_batches(qmodel, batches, "cuda", len(images)).classes
        monkeypatch.setenv("DFQ_CUDA_GRAPHS", "0")
        without = predict_batches(qmodel, batches, "cuda", len(images)).classes
    finally:
        qmodel.cpu()
        for layer in qmodel.modules():
            layer.__dict__.pop("_exact_cache", None)
    cpu = predict_batches(qmodel, batches, "cpu", len(images)).classes
    assert [r.replays for r in made] == [7, 0, 0]  # the second batch on: replayed, then dropped
    assert with_graphs == without == cpu and len(cpu) == len(images)


@needs_gpu
def test_a_short_evaluation_is_not_captured():
    """Fewer batches of one shape than MIN_REPLAYS + 2: the capture would cost more than it saves."""
    from challenge.cuda_graph import MIN_REPLAYS

    replayed = Replayed(lambda x: x * 2, total=8 * (MIN_REPLAYS + 1))
    outputs = [replayed(torch.full((8,), float(i), device="cuda")) for i in range(MIN_REPLAYS + 1)]
    assert replayed.graph is None and replayed.replays == 0
    assert all(torch.equal(o.cpu(), torch.full((8,), 2.0 * i)) for i, o in enumerate(outputs))
