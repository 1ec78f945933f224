"""Genie-D says where its seconds go: one line per batch, its first step (which compiles, on a GPU's
first batch) apart from the rest."""
from __future__ import annotations

import re

import torch
import torchvision

from synth.genie import genie

LINE = re.compile(r"^genie batch (\d+)/(\d+): (\d+) images, (\d+) steps in [0-9.]+ s \(first step [0-9.]+ s"
                  r"(?:, then [0-9.]+ ms a step)?\)$")


def _batch_lines(capsys, **settings) -> list[tuple]:
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10).eval()
    images = list(genie(model, num_classes=10, input_shape=(3, 32, 32), seed=0, **settings))
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("genie batch")]
    assert all(LINE.match(line) for line in lines), lines
    return images, [tuple(int(g) for g in LINE.match(line).groups()) for line in lines]


def test_one_line_per_batch_with_its_images_and_steps(capsys):
    images, lines = _batch_lines(capsys, num_samples=5, batch_size=2, iterations=3)
    assert [len(batch) for batch in images] == [2, 2, 1]
    assert lines == [(1, 3, 2, 3), (2, 3, 2, 3), (3, 3, 1, 3)]


def test_the_speed_benchmark_reads_the_lines_back(capsys):
    """benchmarks/pipeline_speed.py splits Genie-D's compiling from its steps with these lines."""
    from benchmarks.pipeline_speed import parse_log

    torch.manual_seed(0)
    list(genie(torchvision.models.resnet18(num_classes=10).eval(), num_classes=10, input_shape=(3, 32, 32),
               seed=0, num_samples=4, batch_size=2, iterations=2))
    batches = parse_log(capsys.readouterr().err)["generator_batches"]
    assert [(b["images"], b["steps"]) for b in batches] == [(2, 2), (2, 2)]
    assert all(b["seconds"] >= b["first_s"] >= 0 and b["ms_a_step"] >= 0 for b in batches), batches


def test_a_single_step_has_no_rest_and_no_step_at_all_is_said_too(capsys):
    _, lines = _batch_lines(capsys, num_samples=2, batch_size=2, iterations=1)
    assert lines == [(1, 1, 2, 1)]
    _, lines = _batch_lines(capsys, num_samples=2, batch_size=2, iterations=0)
    assert lines == [(1, 1, 2, 0)]
