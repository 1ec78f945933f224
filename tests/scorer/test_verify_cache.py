"""`[verify] cache_dir`: verification reads the kit's decoded-image cache, with the same predictions."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from scorer.config import Verification, load_rules
from scorer.groundtruth import load_ground_truth
from scorer.verify import Verifier
from scorer_helpers import ground_truth_csv


@pytest.fixture
def real_images(tmp_path, imagenette):
    """Eight real JPEGs; the ground truth lists them in reverse, not the cache's sorted order."""
    root = tmp_path / "val"
    files = []
    for folder in sorted(p for p in imagenette.iterdir() if p.is_dir())[:4]:
        (root / folder.name).mkdir(parents=True)
        for image in sorted(folder.iterdir())[:2]:
            shutil.copy(image, root / folder.name / image.name)
            files.append(f"{folder.name}/{image.name}")
    files.reverse()
    truth = load_ground_truth(ground_truth_csv(tmp_path / "gt.csv", files, [i % 10 for i in range(8)]), 10)
    return root, truth


@pytest.mark.parametrize("sample", [-1, 5])
def test_cached_verification_predicts_what_decoding_does(tmp_path, real_images, artifacts, sample):
    root, truth = real_images
    artifact = artifacts["resnet18"]
    decoding = Verifier(truth, str(root), Verification(sample=sample, batch_size=3)).predictions(artifact)
    settings = Verification(sample=sample, batch_size=3, cache_dir=str(tmp_path / "cache"))
    cold = Verifier(truth, str(root), settings)
    warm = Verifier(truth, str(root), settings)
    assert np.array_equal(cold.predictions(artifact), decoding) and np.array_equal(warm.predictions(artifact), decoding)
    assert not cold.decode().hit and warm.decode().hit and len(warm.decode()) == 8  # every image, sorted


def test_the_cache_folder_changes_no_fingerprint(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[verify]\ncache_dir = "cache"\n', encoding="utf-8")
    rules = load_rules(path)
    assert rules.verify.cache_dir == str(tmp_path / "cache") and rules.fingerprint() == load_rules(None).fingerprint()


def _decode_in_daemon(truth, root, cache_dir, results):
    try:
        results.put(len(Verifier(truth, root, Verification(cache_dir=cache_dir)).decode()))
    except BaseException as error:  # reported to the test, not lost with the process
        results.put(repr(error))


def test_a_daemon_scoring_worker_can_build_the_cache(tmp_path, real_images):
    """Scoring workers are daemon processes, which may not start DataLoader workers: a cold cache
    is decoded in the worker itself."""
    import multiprocessing

    root, truth = real_images
    context = multiprocessing.get_context("spawn")  # as scorer/workers.py starts them
    results = context.Queue()
    worker = context.Process(target=_decode_in_daemon, args=(truth, str(root), str(tmp_path / "cache"), results),
                             daemon=True)
    worker.start()
    assert results.get(timeout=120) == 8
    worker.join(timeout=30)
