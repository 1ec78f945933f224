"""The decoded-image cache: hits, misses after a change, recovery from a damaged file, same predictions."""
import os

import numpy as np
import pytest
import torch

from challenge import data, evaluate, image_cache
from challenge.errors import KitError


def records_of(root, imagenette):
    return data.list_images(root, data.read_class_list(imagenette / "wnids.txt"))


def decoded(root, records):
    return torch.stack([data.decode_image(root / r.path) for r in records])


def test_miss_then_hit_gives_the_decoded_images(tmp_path, small_tree, imagenette):
    records = records_of(small_tree, imagenette)
    first = image_cache.open_images(tmp_path / "cache", small_tree, records, workers=0)
    second = image_cache.open_images(tmp_path / "cache", small_tree, records, workers=0)
    assert not first.hit and second.hit and first.path == second.path
    assert first.path.stat().st_size == image_cache.file_size(6) == 4096 + 6 * 3 * 224 * 224 + 16
    assert torch.equal(torch.from_numpy(np.array(second.images)), decoded(small_tree, records))
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [first.path.name]  # no temporary left behind


def test_a_changed_file_is_a_miss(tmp_path, small_tree, imagenette):
    records = records_of(small_tree, imagenette)
    before = image_cache.open_images(tmp_path / "cache", small_tree, records, workers=0)
    changed = small_tree / records[3].path
    changed.write_bytes((small_tree / records[0].path).read_bytes())  # other pixels under the same name
    after = image_cache.open_images(tmp_path / "cache", small_tree, records, workers=0)
    assert not after.hit and after.path != before.path
    assert torch.equal(torch.from_numpy(np.array(after.images[3])), data.decode_image(changed))
    os.utime(changed, ns=(1, 1))  # only the modification time: still a new key
    assert not image_cache.open_images(tmp_path / "cache", small_tree, records, workers=0).hit


@pytest.mark.parametrize("damage", ["truncate", "header", "trailer"])
def test_a_damaged_file_is_reported_and_rebuilt(tmp_path, small_tree, imagenette, capsys, damage):
    records = records_of(small_tree, imagenette)
    path = image_cache.open_images(tmp_path / "cache", small_tree, records, workers=0).path
    raw = bytearray(path.read_bytes())
    if damage == "truncate":  # killed while writing, as far as a reader can tell
        raw = raw[:len(raw) // 2]
    elif damage == "header":
        raw[:4] = b"JUNK"
    else:
        raw[-4:] = b"\0\0\0\0"
    path.write_bytes(bytes(raw))
    capsys.readouterr()
    rebuilt = image_cache.open_images(tmp_path / "cache", small_tree, records, workers=0)
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert not rebuilt.hit and len(notes) == 1 and "rebuilding" in notes[0]
    assert torch.equal(torch.from_numpy(np.array(rebuilt.images)), decoded(small_tree, records))


def test_an_unwritable_cache_folder_is_a_user_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(KitError, match="not writable.*--no-cache"):
        image_cache.check_cache_dir(tmp_path / "file" / "cache")


def test_cached_images_give_the_same_predictions_as_decoding(tmp_path, imagenette, trained_resnet18):
    records = data.list_images(imagenette, data.read_class_list(imagenette / "wnids.txt"))[::100]
    dataset = data.ImageDataset(imagenette, records)
    decoding = evaluate.predict(trained_resnet18, dataset, batch_size=5, num_workers=0, exact=False)
    cached = image_cache.open_images(tmp_path / "cache", imagenette, records, workers=0)
    mapped = evaluate.predict_batches(trained_resnet18, cached.batches(5), "cpu", len(records), exact=False)
    assert mapped.classes == decoding.classes and len(set(mapped.classes)) > 1


def test_batches_follow_the_indices_given(tmp_path, small_tree, imagenette):
    records = records_of(small_tree, imagenette)
    cached = image_cache.open_images(tmp_path / "cache", small_tree, records, workers=0)
    everything = torch.from_numpy(np.array(cached.images))
    picked = torch.cat(list(cached.batches(2, indices=[5, 0, 1, 2])))
    assert torch.equal(picked, everything[[5, 0, 1, 2]])


def test_a_killed_writer_leaves_nothing_for_long(tmp_path, small_tree, imagenette):
    import socket

    records = records_of(small_tree, imagenette)
    key = image_cache.cache_key(small_tree, [r.path for r in records])
    (tmp_path / "cache").mkdir()
    dead = tmp_path / "cache" / f"images-{key}.u8.{socket.gethostname()}.999999999.tmp"
    dead.write_bytes(b"half")
    cached = image_cache.open_images(tmp_path / "cache", small_tree, records, workers=0)
    assert not dead.exists() and sorted(p.name for p in (tmp_path / "cache").iterdir()) == [cached.path.name]
