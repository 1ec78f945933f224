"""`[verify] runtime`: which runtime re-evaluates the artifacts (challenge/runtimes.py).

The runtimes themselves are tested in tests/challenge/test_export.py; here, the setting: read,
checked, part of the rules' fingerprint, and the one the verifier loads models with."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from challenge import runtimes
from challenge.errors import KitError
from scorer.config import Verification, load_rules
from scorer.verify import Verifier


def test_config_reads_the_runtime_and_refuses_an_unknown_one(tmp_path):
    path = tmp_path / "c.toml"
    assert load_rules(None).verify.runtime == "reference"
    path.write_text('[verify]\nruntime = "onnxruntime"\nmax_differences = 5\n', encoding="utf-8")
    rules = load_rules(path)
    assert rules.verify.runtime == "onnxruntime" and rules.fingerprint() != load_rules(None).fingerprint()
    path.write_text('[verify]\nruntime = "tensorrt"\n', encoding="utf-8")
    with pytest.raises(KitError, match="runtime = 'tensorrt'; use one of reference, onnxruntime"):
        load_rules(path)


class _Constant(torch.nn.Module):
    def forward(self, x):
        return torch.nn.functional.one_hot(torch.full((len(x),), 3), 10).float()


@pytest.mark.parametrize("runtime", ["reference", "onnxruntime"])
def test_the_verifier_loads_artifacts_with_the_configured_runtime(challenge, monkeypatch, runtime):
    loaded = []
    for name in runtimes.RUNTIMES:
        monkeypatch.setitem(runtimes.RUNTIMES, name,
                            lambda path, device="cpu", name=name: (loaded.append(name), (_Constant(), None))[1])
    monkeypatch.setattr(Verifier, "decode", lambda self: torch.zeros(len(self.indices), 3, 8, 8, dtype=torch.uint8))
    from scorer.score import make_context

    rules = dataclasses.replace(challenge.rules, images=str(challenge.root), verify=Verification(runtime=runtime))
    verifier = make_context(rules, verify=True).verifier
    predicted = verifier.predictions(challenge.artifacts["resnet18"])
    assert loaded == [runtime] and np.array_equal(predicted, np.full(len(challenge.labels), 3))
