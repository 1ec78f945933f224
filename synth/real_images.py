"""Calibration on real images from a folder: the reference a data-free method tries to reach.
Not allowed in the challenge (it uses data); the kit says so when it runs."""
import hashlib
from pathlib import Path

import torch

from challenge.data import IMAGE_EXTENSIONS, decode_image, normalize
from challenge.errors import KitError
from synth import register_generator


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _image_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


@register_generator("real-images", allowed_in_challenge=False)
def real_images(model, *, num_classes, input_shape=(3, 224, 224), num_samples=256, batch_size=32, seed=0,
                root=None, exclude_dir=None):
    """`num_samples` images drawn (seeded) from `root`, skipping any whose content is also in
    `exclude_dir` (pass the evaluated folder there to keep calibration and evaluation disjoint)."""
    from torchvision import transforms

    if root is None or not Path(root).is_dir():
        raise KitError(f"real-images needs an image folder: --gen-arg root=DIR (got {root!r})")
    files = _image_files(Path(root))
    if exclude_dir is not None:
        excluded = {_sha256(p) for p in _image_files(Path(exclude_dir))}
        files = [p for p in files if _sha256(p) not in excluded]
    if len(files) < num_samples:
        raise KitError(f"real-images: {root} has {len(files)} usable images, fewer than num_samples={num_samples}")
    order = torch.randperm(len(files), generator=torch.Generator().manual_seed(seed))[:num_samples].tolist()
    side = input_shape[-1]
    transform = transforms.Compose([transforms.Resize(side * 256 // 224), transforms.CenterCrop(side),
                                    transforms.PILToTensor()])
    device = next(model.parameters()).device
    for start in range(0, num_samples, batch_size):
        chosen = [files[i] for i in order[start:start + batch_size]]
        yield normalize(torch.stack([decode_image(p, transform) for p in chosen]).to(device))
