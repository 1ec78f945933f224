"""How a saved artifact is evaluated: the registry of runtimes, each `(path, device) -> (model, contents)`.

- `reference` (the default everywhere): the kit's exact reference runtime (quant/exact.py), the
  same predictions on every device; what the scorer verifies with unless told otherwise.
- `onnxruntime`: the artifact exported to ONNX (export/) and run by ONNX Runtime's CPU provider
  with its integer kernels; a deployment's view of the model. It agrees with the reference on
  nearly every image, not all (export/runtime.py says why).

Both return a torch module taking ImageNet-normalized float32 images, so evaluate.py runs either.
"""
from __future__ import annotations

from .errors import KitError


def _reference(path, device="cpu"):
    from .artifact import load_artifact

    return load_artifact(path, device=device)


def _onnxruntime(path, device="cpu"):
    from .export.runtime import load_onnxruntime

    return load_onnxruntime(path, device)


RUNTIMES = {"reference": _reference, "onnxruntime": _onnxruntime}
DEFAULT_RUNTIME = "reference"


def list_runtimes() -> list[str]:
    return list(RUNTIMES)


def check_runtime(name: str) -> str:
    if name not in RUNTIMES:
        raise KitError(f"unknown runtime {name!r}; choose one of {', '.join(RUNTIMES)}")
    return name


def load_model(path, runtime: str = DEFAULT_RUNTIME, device="cpu"):
    """(model, ArtifactContents) of an artifact under `runtime`; raises KitError on a bad file."""
    return RUNTIMES[check_runtime(runtime)](path, device)
