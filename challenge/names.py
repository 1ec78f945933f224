"""Names the command line is checked against, light on purpose (no torch): main.py checks its
options before it loads torch, so that a typo is answered at once."""
from __future__ import annotations

from .errors import KitError

# Challenge name -> name in torchvision's registry (the same, kept explicit on purpose).
MODEL_NAMES = ("resnet18", "mobilenet_v2", "shufflenet_v2_x1_0")

# Round to nearest: no optimisation after calibration (the methods registry's name for it).
DEFAULT_METHOD = "rtn"


def check_model_name(name: str) -> str:
    if name not in MODEL_NAMES:
        raise KitError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    return name
