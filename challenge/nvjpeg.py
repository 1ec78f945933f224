"""GPU JPEG decoding: nvJPEG (torchvision.io.decode_jpeg on CUDA), then the evaluation transform
(Resize 256, CenterCrop 224) as tensor operations on the GPU. Measured, not used by the kit.

Issue 9 allowed it only if top-1 stays within 0.05 points of the PIL path on the shared images.
It does not (benchmarks/results/h200-nvjpeg.md: the 1,670 imagenette images, one H200):
nvJPEG's pixels differ from libjpeg's on 38% of the values (up to 112 levels: another IDCT and
chroma upsampling), and top-1 moved by +0.12 / +0.54 points (MobileNetV2, FP32 / int8),
+0.06 / 0.00 (ResNet18) and -0.30 / -0.24 (ShuffleNetV2), with 2 to 72 images changing class.
The same resize on libjpeg's CPU decode changes no prediction of MobileNetV2 on the 1,211
ImageNet images, so the decoder, not the resampler, is the difference. It was not faster
either: 1.3 s against PIL's 0.6 s in 16 workers for those small files. A changed prediction
would also break the kit's promise of one output.txt on every machine and the scorer's
per-image verification, which decodes with PIL. So decoding stays PIL's (data.EVAL_TRANSFORM);
this module stays for the measurement: python -m benchmarks.nvjpeg_agreement.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torchvision
from torchvision.io import ImageReadMode
from torchvision.transforms.v2 import functional as TF

from .data import ImageRecord
from .errors import KitError

SIZE, CROP = 256, 224


class _FileBytes(torch.utils.data.Dataset):
    """Each image file's bytes, a uint8 numpy array: reading is all the CPU workers do. (Arrays,
    not tensors: a worker hands each tensor over as a shared-memory file descriptor, and a
    batch of 128 small ones exhausts them.)"""

    def __init__(self, root: Path, records: list[ImageRecord]):
        self.root, self.records = Path(root), records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int):
        path = self.root / self.records[index].path
        try:
            return np.fromfile(path, dtype=np.uint8), index
        except Exception as error:
            raise KitError(f"cannot read image {str(path)!r} ({type(error).__name__}); replace or remove the file") \
                from None


def _as_list(items):
    return [item[0] for item in items], [item[1] for item in items]


def require_cuda(device) -> torch.device:
    device = torch.device(device)
    if device.type != "cuda":
        raise KitError("nvJPEG decoding needs a CUDA GPU")
    return device


def _transform(image: torch.Tensor) -> torch.Tensor:
    return TF.center_crop(TF.resize(image, [SIZE], antialias=True), [CROP, CROP])


def _decode_one(data: torch.Tensor, device: torch.device, where: str) -> torch.Tensor:
    """A file nvJPEG refused (not a JPEG, CMYK, progressive corner cases): decoded on the CPU."""
    try:
        return torchvision.io.decode_image(data, mode=ImageReadMode.RGB).to(device)
    except Exception as error:
        raise KitError(f"cannot read image {where!r} ({type(error).__name__}); replace or remove the file") from None


def decoded_batches(root: str | Path, records: list[ImageRecord], batch_size: int, workers: int, device):
    """uint8 (N, 3, 224, 224) CPU tensors of the records' images, in order, decoded on `device`."""
    device = require_cuda(device)
    loader = torch.utils.data.DataLoader(_FileBytes(root, records), batch_size=batch_size, shuffle=False,
                                         num_workers=workers, collate_fn=_as_list)
    for arrays, indices in loader:
        datas = [torch.from_numpy(array) for array in arrays]
        try:
            images = torchvision.io.decode_jpeg(datas, mode=ImageReadMode.RGB, device=device)
        except Exception:  # one bad file fails the batch: decode each alone
            images = []
            for data, index in zip(datas, indices):
                try:
                    images.append(torchvision.io.decode_jpeg(data, mode=ImageReadMode.RGB, device=device))
                except Exception:
                    images.append(_decode_one(data, device, str(Path(root) / records[index].path)))
        yield torch.stack([_transform(image) for image in images]).cpu()
