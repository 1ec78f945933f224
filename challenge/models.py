"""The challenge's models, through torchvision's model API, and their FP32 checkpoints.

Weights come from torchvision's IMAGENET1K_V1 enum (downloaded and cached by torchvision on a
connected machine) or from a local state_dict file (`--weights FILE`, loaded with
weights_only=True; .safetensors works too). The number of classes is read from the checkpoint.
"""
from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision

from .errors import KitError
from .names import MODEL_NAMES, check_model_name  # noqa: F401 (the kit imports them from here too)

WEIGHT_SUFFIXES = (".pth", ".pt", ".safetensors")


@dataclass
class LoadedModel:
    name: str
    model: torch.nn.Module
    num_classes: int
    weights_source: str


def build_architecture(name: str, num_classes: int = 1000) -> torch.nn.Module:
    """The bare torchvision architecture, random weights."""
    check_model_name(name)
    return torchvision.models.get_model(name, weights=None, num_classes=num_classes)


def default_weights(name: str):
    return torchvision.models.get_model_weights(check_model_name(name)).IMAGENET1K_V1


def torchvision_file_name(name: str) -> str:
    """e.g. 'resnet18-f37072fd.pth', the name torchvision downloads the checkpoint to."""
    return default_weights(name).url.rsplit("/", 1)[-1]


def classifier_key(name: str) -> str:
    """The state_dict key of the last Linear layer's weight, whose rows are the classes."""
    with torch.device("meta"):
        model = build_architecture(name)
    last = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)][-1]
    return f"{last}.weight"


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise KitError(f"weights file {str(path)!r} does not exist; pass an existing checkpoint with --weights")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # corrupt zip, truncated file, pickle with disallowed globals...
        raise KitError(f"cannot read weights file {str(path)!r} ({type(error).__name__}: "
                       f"{str(error).splitlines()[0][:160] if str(error) else 'unreadable'}); "
                       "it must be a torch state_dict saved with torch.save or a safetensors file") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]  # common training-checkpoint wrapper
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise KitError(f"weights file {str(path)!r} is not a state_dict of tensors")
    return state


def load_local(name: str, path: str | Path) -> LoadedModel:
    state = read_state_dict(path)
    key = classifier_key(name)
    if key not in state or state[key].dim() != 2:
        raise KitError(f"weights file {str(path)!r} is not a {name} checkpoint (no {key!r}); "
                       f"pass the checkpoint of {name}")
    num_classes = state[key].shape[0]
    model = build_architecture(name, num_classes)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        detail = str(error).splitlines()[1].strip() if len(str(error).splitlines()) > 1 else str(error)
        raise KitError(f"weights file {str(path)!r} does not fit the {name} architecture ({detail[:200]}); "
                       f"pass the checkpoint of {name}") from None
    return LoadedModel(name, model.eval(), num_classes, str(path))


def load_pretrained(name: str, progress: bool = False) -> LoadedModel:
    weights = default_weights(name)
    try:
        # torch.hub announces downloads on stdout, which belongs to output.txt.
        with contextlib.redirect_stdout(sys.stderr):
            model = torchvision.models.get_model(name, weights=weights, progress=progress)
    except Exception as error:  # URLError, socket errors, HTTP errors: no network here
        raise KitError(f"cannot get the ImageNet weights of {name} ({type(error).__name__}): "
                       f"download {torchvision_file_name(name)} from {weights.url} and pass it with "
                       f"--weights FILE (or put it in --weights-dir DIR)") from None
    return LoadedModel(name, model.eval(), len(weights.meta["categories"]), weights.url)


def find_weights_file(name: str, directory: str | Path) -> Path:
    """The checkpoint of `name` in `directory`: `<name>.pth`, torchvision's file name, or `<name>-*.pth`."""
    directory = Path(directory)
    if not directory.is_dir():
        raise KitError(f"weights folder {str(directory)!r} does not exist; pass an existing --weights-dir")
    tv_stem = torchvision_file_name(name).split("-")[0]  # e.g. 'shufflenetv2_x1'
    matches = sorted(
        p for p in directory.iterdir()
        if p.is_file() and p.suffix in WEIGHT_SUFFIXES
        and (p.stem in (name, tv_stem) or p.stem.startswith((f"{name}-", f"{tv_stem}-")))
    )
    if not matches:
        raise KitError(f"no checkpoint for {name} in {str(directory)!r}; name it {name}.pth or "
                       f"{torchvision_file_name(name)}")
    if len(matches) > 1:
        raise KitError(f"several checkpoints for {name} in {str(directory)!r} "
                       f"({', '.join(p.name for p in matches)}); keep one or pass --weights FILE")
    return matches[0]


def load_fp32_model(name: str, weights: str | Path | None = None,
                    weights_dir: str | Path | None = None) -> LoadedModel:
    """The FP32 model in eval mode on CPU: a local file if given, else torchvision's download."""
    check_model_name(name)
    if weights is None and weights_dir is not None:
        weights = find_weights_file(name, weights_dir)
    return load_local(name, weights) if weights is not None else load_pretrained(name)
