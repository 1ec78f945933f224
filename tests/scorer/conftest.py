"""Shared fixtures: real artifacts saved once per session, a tiny synthetic challenge around them."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from scorer.config import Rules
from scorer_helpers import MODELS, ground_truth_csv, image_names, make_zip, output_text

NUM_CLASSES = 10
SHARED_ASSETS = Path(__file__).resolve().parents[2].parent / "shared" / "assets"


def _save_tiny_artifact(path: Path, arch: str) -> None:
    import torch

    from challenge.artifact import save_artifact
    from challenge.models import build_architecture
    from challenge.quant.quantize import quantize_model
    from challenge.quant.schemes import get_scheme

    torch.manual_seed(0)
    model = build_architecture(arch, NUM_CLASSES).eval()
    qmodel = quantize_model(model, get_scheme("int8"), [torch.randn(2, 3, 64, 64)])
    save_artifact(path, qmodel, arch=arch, num_classes=NUM_CLASSES, scheme="int8", generator="gaussian")


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory) -> dict[str, Path]:
    """model -> a real artifact file (random weights, int8), made with the kit's save_artifact."""
    folder = tmp_path_factory.mktemp("artifacts")
    paths = {}
    for arch in MODELS:
        paths[arch] = folder / f"{arch}.safetensors"
        _save_tiny_artifact(paths[arch], arch)
    return paths


@pytest.fixture(scope="session")
def artifact_sizes(artifacts) -> dict[str, tuple[int, int]]:
    """model -> (quantized_bytes, fp32_bytes) by the kit's own accounting."""
    from challenge.artifact import read_artifact

    return {m: (read_artifact(p).quantized_bytes, read_artifact(p).fp32_bytes) for m, p in artifacts.items()}


@dataclasses.dataclass
class Challenge:
    root: Path
    files: list[str]
    labels: list[int]
    rules: Rules
    artifacts: dict[str, Path]
    sizes: dict[str, tuple[int, int]]

    def output(self, labels_by_model=None, **kwargs) -> bytes:
        labels_by_model = labels_by_model or {m: self.labels for m in MODELS}
        kwargs.setdefault("quantized_bytes", {m: s[0] for m, s in self.sizes.items()})
        kwargs.setdefault("fp32_bytes", {m: s[1] for m, s in self.sizes.items()})
        return output_text(self.files, labels_by_model, **kwargs)

    def members(self, output: bytes | None = None, **extra) -> dict[str, bytes]:
        members = {"output.txt": self.output() if output is None else output}
        members.update({f"models/{m}.safetensors": p.read_bytes() for m, p in self.artifacts.items()})
        members["code/run.sh"] = b"python main.py\n"
        members.update(extra)
        return members

    def upload(self, team: str, name: str, members: dict[str, bytes], **kwargs) -> Path:
        """Zipped as `scorer pack` zips an upload: the artifacts stored (they barely deflate, and
        deflating 15 MB of them took 0.4 s a zip), the rest deflated."""
        kwargs.setdefault("stored", [m for m in members if m.startswith("models/")])
        return make_zip(self.root / "inbox" / team / name, members, **kwargs)


@pytest.fixture
def challenge(tmp_path, artifacts, artifact_sizes) -> Challenge:
    files = image_names(20, NUM_CLASSES)
    labels = [i % NUM_CLASSES for i in range(20)]
    gt = ground_truth_csv(tmp_path / "gt.csv", files, labels)
    (tmp_path / "inbox").mkdir()
    rules = Rules(models=MODELS, num_classes=NUM_CLASSES, ground_truth=str(gt), workers=0)
    return Challenge(tmp_path, files, labels, rules, artifacts, artifact_sizes)
