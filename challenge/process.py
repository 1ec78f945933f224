"""This process's settings shared by the entry points and the stages: where it computes, its
seed, and its log (stderr; under torchrun rank 0's alone)."""
from __future__ import annotations

import random
import sys

import numpy as np
import torch

from . import distributed
from .errors import KitError


def log(message: str) -> None:
    if distributed.current().is_main:  # under torchrun, one copy of each line
        print(message, file=sys.stderr, flush=True)


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise KitError("--device cuda was asked for but no CUDA GPU is available; use --device cpu or auto")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # Same command, same output.txt: no autotuned kernel choice between runs.
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
