"""Decoding helpers around the cache: the read-ahead thread, and the measured (unused) nvJPEG path."""
import threading

import pytest
import torch

from challenge import data, nvjpeg
from challenge.errors import KitError


def test_read_ahead_keeps_the_order_and_the_items():
    assert list(data.read_ahead(iter(range(50)), depth=3)) == list(range(50))


def test_read_ahead_raises_the_producer_s_error_where_it_would_have_been():
    def batches():
        yield 1
        yield 2
        raise KitError("cannot read image 'x'")

    seen = []
    with pytest.raises(KitError, match="cannot read image"):
        for item in data.read_ahead(batches()):
            seen.append(item)
    assert seen == [1, 2]


def test_read_ahead_stops_its_thread_when_the_consumer_stops():
    before = threading.active_count()
    items = data.read_ahead(iter(range(1000)), depth=2)
    assert next(items) == 0
    items.close()
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and thread.daemon:
            thread.join(timeout=2)
    assert threading.active_count() <= before


@pytest.fixture
def jpeg_tree(small_tree, imagenette):
    return small_tree, data.list_images(small_tree, data.read_class_list(imagenette / "wnids.txt"))


def test_nvjpeg_needs_a_gpu(jpeg_tree):
    root, records = jpeg_tree
    with pytest.raises(KitError, match="needs a CUDA GPU"):
        next(nvjpeg.decoded_batches(root, records, 4, 0, "cpu"))


def test_the_nvjpeg_pipeline_batches_in_order_and_reports_a_bad_file(jpeg_tree, monkeypatch):
    """Run on the CPU (torchvision's libjpeg decoder stands in for nvJPEG): the batching, the order,
    the transform and the fallback for a file the batch decoder refuses."""
    root, records = jpeg_tree
    monkeypatch.setattr(nvjpeg, "require_cuda", torch.device)
    decoded = torch.cat(list(nvjpeg.decoded_batches(root, records, 4, 0, "cpu")))
    pil = torch.stack([data.decode_image(root / r.path) for r in records])
    assert decoded.shape == pil.shape == (6, 3, 224, 224) and decoded.dtype == torch.uint8
    assert (decoded.short() - pil.short()).abs().max() <= 2  # the same resampler; libjpeg both ways
    bad = root / records[4].path
    bad.write_bytes(bad.read_bytes()[:200])
    with pytest.raises(KitError, match=f"cannot read image.*{bad.name}"):
        list(nvjpeg.decoded_batches(root, records, 4, 0, "cpu"))
