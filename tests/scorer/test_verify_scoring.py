"""Which predictions rank a submission: the artifact's under full verification, output.txt's
otherwise (with a note saying so). The artifact's predictions are stubbed here; the real
runtime is exercised by test_cheating.py and test_end_to_end.py."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from scorer.config import Verification
from scorer.score import make_context, score_zip
from scorer.verify import Verifier
from scorer_helpers import MODELS


@pytest.fixture
def stub_artifacts(monkeypatch, challenge):
    """Every artifact 'predicts' the label on even images and label+1 on odd ones: 50% accuracy."""
    def predictions(self, artifact):
        labels = np.asarray(self.truth.labels)  # in the ground truth's order, as the verifier works
        return np.where(np.arange(len(labels)) % 2 == 0, labels, (labels + 1) % 10)[self.indices]

    monkeypatch.setattr(Verifier, "predictions", predictions)
    by_file = dict(zip(challenge.files, challenge.labels))
    return [by_file[f] if i % 2 == 0 else (by_file[f] + 1) % 10 for i, f in enumerate(sorted(challenge.files))]


def _output_of(challenge, predicted_in_sorted_order) -> bytes:
    by_file = dict(zip(sorted(challenge.files), predicted_in_sorted_order))
    return challenge.output({m: [by_file[f] for f in challenge.files] for m in MODELS})


def _score(challenge, output, **settings):
    rules = dataclasses.replace(challenge.rules, images=str(challenge.root), verify=Verification(**settings))
    path = challenge.upload("t", "x.zip", challenge.members(output))
    return score_zip(path, make_context(rules, verify=True))


def test_full_verification_ranks_the_artifact_not_output_txt(challenge, stub_artifacts):
    perfect = challenge.output({m: challenge.labels for m in MODELS})  # every line edited to the truth
    result = _score(challenge, perfect, max_differences=len(challenge.labels))
    assert result.status == "scored"
    assert [m.accuracy for m in result.models] == [50.0] * 3
    assert any("output.txt differs from the artifact's predictions on 10 of 20 images (output.txt right on 10"
               in note for note in result.notes)
    rejected = _score(challenge, perfect)  # the default: no difference allowed
    assert rejected.status == "invalid" and "on 10 of 20 images" in rejected.error


def test_matching_output_is_scored_without_notes_about_it(challenge, stub_artifacts):
    output = _output_of(challenge, stub_artifacts)
    result = _score(challenge, output)
    assert result.status == "scored" and [m.disagreements for m in result.models] == [0, 0, 0]
    assert [m.verified for m in result.models] == [20] * 3
    assert not any("output.txt" in note for note in result.notes)


def test_a_sample_ranks_output_txt_and_says_so(challenge, stub_artifacts):
    output = _output_of(challenge, stub_artifacts)
    result = _score(challenge, output, sample=5)
    assert result.status == "scored" and [m.verified for m in result.models] == [5] * 3
    assert any("accuracy from output.txt, 5 of 20 images checked" in note for note in result.notes)
