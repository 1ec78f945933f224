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
def test_predictions_with_and_without_graphs(qmodel, images, monkeypatch):
    batches = [images[i:i + 8] for i in range(0, len(images), 8)]
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
    assert with_graphs == without == cpu and len(cpu) == len(images)
