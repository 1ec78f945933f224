import urllib.error

import pytest
import torch
from PIL import Image

from challenge import data
from challenge.errors import KitError
from challenge.models import find_weights_file, load_fp32_model


def test_standins_and_real_checkpoint_load_with_their_class_counts(weights_dir):
    assert load_fp32_model("resnet18", weights_dir=weights_dir).num_classes == 10
    assert load_fp32_model("shufflenet_v2_x1_0", weights_dir=weights_dir).num_classes == 10
    assert load_fp32_model("mobilenet_v2", weights_dir=weights_dir).num_classes == 1000


def test_weights_dir_lookup_by_name_and_torchvision_file(tmp_path):
    (tmp_path / "shufflenetv2_x1-5666bf0f80.pth").write_bytes(b"x")
    (tmp_path / "resnet18.pth").write_bytes(b"x")
    assert find_weights_file("shufflenet_v2_x1_0", tmp_path).name == "shufflenetv2_x1-5666bf0f80.pth"
    assert find_weights_file("resnet18", tmp_path).name == "resnet18.pth"
    with pytest.raises(KitError, match="no checkpoint for mobilenet_v2"):
        find_weights_file("mobilenet_v2", tmp_path)


def test_checkpoint_of_another_architecture(mobilenet_weights):
    with pytest.raises(KitError, match="not a resnet18 checkpoint"):
        load_fp32_model("resnet18", weights=mobilenet_weights)


def test_corrupt_checkpoint(tmp_path):
    bad = tmp_path / "resnet18.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(KitError, match="cannot read weights file"):
        load_fp32_model("resnet18", weights=bad)


def test_no_weights_and_no_network_names_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(KitError, match="resnet18-f37072fd.pth.*--weights FILE"):
        load_fp32_model("resnet18")


def test_class_index_is_position_in_the_models_list(tmp_path):
    for wnid in ("n02", "n01"):
        (tmp_path / wnid).mkdir()
        Image.new("RGB", (300, 260), "red").save(tmp_path / wnid / "b.JPEG")
        Image.new("RGB", (300, 260), "blue").save(tmp_path / wnid / "a.jpg")
    records = data.list_images(tmp_path, ["n00", "n01", "n02"])
    assert [(r.path, r.label) for r in records] == [
        ("n01/a.jpg", 1), ("n01/b.JPEG", 1), ("n02/a.jpg", 2), ("n02/b.JPEG", 2)]
    assert len(data.list_images(tmp_path, ["n00", "n01", "n02"], limit=3)) == 3
    image, label = data.ImageDataset(tmp_path, records)[0]
    assert image.shape == (3, 224, 224) and image.dtype == torch.uint8 and label == 1
    with pytest.raises(KitError, match="'n02'.*not in the model's class list"):
        data.list_images(tmp_path, ["n01"])


def test_corrupt_image_names_the_file(tmp_path):
    (tmp_path / "n01").mkdir()
    (tmp_path / "n01" / "broken.JPEG").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    dataset = data.ImageDataset(tmp_path, data.list_images(tmp_path, ["n01"]))
    with pytest.raises(KitError, match="broken.JPEG"):
        dataset[0]


def test_class_lists(tmp_path):
    assert len(data.class_list_for(1000)) == 1000
    with pytest.raises(KitError, match="10 classes.*--classes"):
        data.class_list_for(10)
    listing = tmp_path / "wnids.txt"
    listing.write_text("\n".join(f"n{i:08d}" for i in range(10)) + "\n")
    assert data.class_list_for(10, listing)[3] == "n00000003"
    assert len(data.class_list_for(1000, listing)) == 1000  # a 10-class list does not apply to 1000
