"""challenge/synthetic_cache.py: images kept once, read back bit for bit; anything else that asks,
or a file that does not read back, makes them again; a folder that cannot be written costs a note."""
from pathlib import Path

import torch
from torch import nn

from challenge import synthetic_cache

CPU = torch.device("cpu")


def noise(model, *, num_samples=6, batch_size=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    for start in range(0, num_samples, batch_size):
        yield torch.randn(min(batch_size, num_samples - start), 3, 8, 8, generator=g)


def cached(folder, model, calls, seed=0):
    description = synthetic_cache.describe(noise, "noise", {"num_samples": 6}, seed, "tiny", model, CPU)

    def make():
        calls.append(seed)
        return noise(model, seed=seed)

    path = synthetic_cache.path_for(folder, description)
    return path, list(synthetic_cache.reuse_or_make(path, description, make, CPU))


def test_kept_then_read_back_bit_for_bit(tmp_path, capfd):
    model, calls = nn.Linear(2, 2), []
    path, first = cached(tmp_path, model, calls)
    kept = capfd.readouterr().err
    assert path.is_file() and calls == [0] and "kept for reuse" in kept
    assert "the folder holds 1 such file, 0.00 GiB: delete it to reclaim the space" in kept
    _, second = cached(tmp_path, model, calls)
    assert calls == [0] and "reused from" in capfd.readouterr().err  # not made again
    assert [len(b) for b in second] == [4, 2] and all(torch.equal(a, b) for a, b in zip(first, second))


def test_other_seed_or_weights_is_another_file(tmp_path, capfd):
    model, calls = nn.Linear(2, 2), []
    path, _ = cached(tmp_path, model, calls)
    other_seed, _ = cached(tmp_path, model, calls, seed=1)
    with torch.no_grad():
        model.weight[0, 0] += 1e-3
    other_weights, _ = cached(tmp_path, model, calls)
    assert len({path, other_seed, other_weights}) == 3 and calls == [0, 1, 0]
    assert "the folder holds 3 such files" in capfd.readouterr().err  # the log adds them up


def test_a_file_that_does_not_read_back_is_made_again(tmp_path, capfd):
    model, calls = nn.Linear(2, 2), []
    path, first = cached(tmp_path, model, calls)
    path.write_bytes(path.read_bytes()[:100])  # cut short
    _, again = cached(tmp_path, model, calls)
    assert calls == [0, 0] and "could not be read" in capfd.readouterr().err
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    cached(tmp_path, model, calls)  # the rewritten file serves again
    assert calls == [0, 0]


def test_a_folder_that_cannot_be_written_costs_a_note_not_the_run(tmp_path, capfd):
    blocker = tmp_path / "synthetic"
    blocker.write_text("a file where the folder should be")
    model, calls = nn.Linear(2, 2), []
    _, batches = cached(tmp_path, model, calls)
    assert [len(b) for b in batches] == [4, 2]
    assert "could not be kept" in capfd.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["synthetic"]  # no temporary file left


def test_the_switches_and_the_code_are_in_the_description(monkeypatch):
    model = nn.Linear(2, 2)
    plain = synthetic_cache.describe(noise, "noise", {}, 0, "tiny", model, CPU)
    monkeypatch.setenv("DFQ_COMPILE", "0")
    switched = synthetic_cache.describe(noise, "noise", {}, 0, "tiny", model, CPU)
    assert plain != switched and plain["code"] == switched["code"] and len(plain["code"]) == 64
    path = synthetic_cache.path_for(Path("cache"), plain)
    assert path.parent == Path("cache/synthetic") and path != synthetic_cache.path_for(Path("cache"), switched)
