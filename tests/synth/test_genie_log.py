"""Genie-D says where its seconds go: one line per batch, its first step (which compiles, on a GPU's
first batch) apart from the rest; benchmarks/pipeline_speed.py reads the lines back."""
from __future__ import annotations

import re

import torch
from torch import nn

from benchmarks.pipeline_speed import parse_log
from synth.genie import genie

LINE = re.compile(r"^genie batch (\d+)/(\d+): (\d+) images, (\d+) steps in [0-9.]+ s \(first (?:step|\d+ steps) [0-9.]+ s"
                  r"(?:, then [0-9.]+ ms a step)?\)$")


def _tiny_model() -> nn.Module:
    """BatchNorms to match and a strided convolution to swing, in milliseconds a step."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10)).eval()


def _run(capsys, **settings):
    images = list(genie(_tiny_model(), num_classes=10, input_shape=(3, 16, 16), seed=0, **settings))
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("genie batch")]
    assert lines and all(LINE.match(line) for line in lines), lines
    return images, [tuple(int(g) for g in LINE.match(line).groups()) for line in lines], err


def test_one_line_per_batch_with_its_images_and_steps_read_back_by_the_benchmark(capsys):
    images, lines, err = _run(capsys, num_samples=5, batch_size=2, iterations=3)
    assert [len(batch) for batch in images] == [2, 2, 1]
    assert lines == [(1, 3, 2, 3), (2, 3, 2, 3), (3, 3, 1, 3)]
    batches = parse_log(err)["generator_batches"]
    assert [(b["images"], b["steps"]) for b in batches] == [(2, 3), (2, 3), (1, 3)]
    assert all(b["seconds"] >= b["first_s"] >= 0 and b["ms_a_step"] >= 0 for b in batches), batches


def test_a_single_step_has_no_rest_and_no_step_at_all_is_said_too(capsys):
    assert _run(capsys, num_samples=2, batch_size=2, iterations=1)[1] == [(1, 1, 2, 1)]
    assert _run(capsys, num_samples=2, batch_size=2, iterations=0)[1] == [(1, 1, 2, 0)]
