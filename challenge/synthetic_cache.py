"""Synthetic calibration images kept on disk and reused (`main.py --reuse-synthetic`).

A generator's images depend only on what it is asked: the generator's code, its arguments and
seed, the model's weights, and the device it runs on. Experiments repeat that question many times
with everything else changing (a method, a bit width, a compression target: the frontier runs
fourteen commands per model on the same Genie-D images, three minutes each to make). So the first
run saves its batches and the others read them back, bit for bit the same tensors: the same
output.txt as generating them again.

File `synthetic-<key>.safetensors` under `<cache folder>/synthetic/`, one float tensor per batch,
its metadata holding the description the key was made from. The key is a sha256 of:
- the generator's name and code: every .py file in the folder of the file that defines it (the
  kit's synth/ for a registered one, the participant's folder for theirs) and in challenge/
  (the step loops and switches generators run on), so an edit there makes a new key;
- its keyword arguments, seed, the model's name and a digest of every tensor of its state;
- the device kind and name, the torch and torchvision versions, and the DFQ_COMPILE / DFQ_CUDA_GRAPHS switches
  (another kernel is other floating-point rounding, so other images).
Written to a temporary name and os.replace'd (a reader never sees half a file); a file that does
not read back, or whose description differs, gives one note and is made again. A file that cannot
be written costs a note, not the run.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import socket
from pathlib import Path
from typing import Callable, Iterable, Iterator

import torch
import torchvision

from .process import log

FORMAT_VERSION = 1
SWITCHES = ("DFQ_COMPILE", "DFQ_CUDA_GRAPHS")


KIT = Path(__file__).resolve().parent  # challenge/: the step loops and switches generators use


def _code_digest(generator: Callable) -> str:
    digest = hashlib.sha256()
    try:
        folders = [Path(inspect.getsourcefile(inspect.unwrap(generator)) or "").resolve().parent, KIT]
    except TypeError:  # a builtin or a callable object without a file: its repr stands for it
        folders = [KIT]
        digest.update(repr(generator).encode())
    for folder in folders:
        for path in sorted(folder.glob("*.py")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _weights_digest(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        data = tensor.detach().to("cpu").reshape(-1).contiguous()  # 0-d counters too
        digest.update(f"{name}:{data.dtype}:{tuple(tensor.shape)}\0".encode())
        digest.update(data.view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return digest.hexdigest()


def describe(generator: Callable, spec: str, arguments: dict, seed: int, model_name: str,
             model: torch.nn.Module, device: torch.device) -> dict:
    """What the images depend on, as plain data (the key is its digest)."""
    return {
        "format": FORMAT_VERSION, "generator": spec, "code": _code_digest(generator),
        "arguments": repr(sorted(arguments.items())), "seed": seed, "model": model_name,
        "weights": _weights_digest(model), "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__, "torchvision": torchvision.__version__, "switches": {name: os.environ.get(name) for name in SWITCHES},
    }


def path_for(folder: Path, description: dict) -> Path:
    key = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:32]
    return folder / "synthetic" / f"synthetic-{key}.safetensors"


def _read(path: Path, description: dict, device: torch.device) -> list[torch.Tensor] | None:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            saved = json.loads((handle.metadata() or {}).get("dfq_synthetic", "null"))
            if saved != description:
                log(f"note: {path} was made for other settings; generating the images again")
                return None
            names = sorted(handle.keys())
            if names != [f"batch_{i:05d}" for i in range(len(names))] or not names:
                raise ValueError("its batches are not batch_00000, batch_00001, ...")
            return [handle.get_tensor(name).to(device) for name in names]
    except (OSError, ValueError, SafetensorError, json.JSONDecodeError) as error:
        log(f"note: {path} could not be read ({str(error).splitlines()[0][:120]}); generating the images again")
        return None


def _write(path: Path, description: dict, batches: list[torch.Tensor]) -> None:
    from safetensors.torch import save_file

    tensors = {f"batch_{i:05d}": b.detach().to("cpu").contiguous() for i, b in enumerate(batches)}
    temporary = path.with_name(f".{path.name}.{socket.gethostname()}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(temporary), metadata={"dfq_synthetic": json.dumps(description, sort_keys=True)})
        os.replace(temporary, path)
    except OSError as error:
        try:
            temporary.unlink(missing_ok=True)
        except OSError:  # the folder itself is what failed
            pass
        log(f"note: the synthetic images could not be kept in {path.parent} ({error.strerror or error}); "
            "the run goes on without reusing them")
        return
    size = sum(t.numel() * t.element_size() for t in tensors.values())
    log(f"synthetic images kept for reuse: {path} ({size / 2**20:.0f} MiB; {_held(path.parent)})")


def _held(folder: Path) -> str:
    """What the folder holds in all: nothing is ever removed from it (every change of the kit's or
    a generator's code makes new keys), so the log says how much, and how to reclaim it."""
    files = list(folder.glob("synthetic-*.safetensors"))
    total = sum(f.stat().st_size for f in files if f.is_file())
    return (f"the folder holds {len(files)} such file{'s' * (len(files) != 1)}, {total / 2**30:.2f} GiB: "
            "delete it to reclaim the space")


def reuse_or_make(path: Path, description: dict, make: Callable[[], Iterable[torch.Tensor]],
                  device: torch.device) -> Iterator[torch.Tensor]:
    """The batches saved at `path` when they were made for `description`; else make() them (lazily,
    as they are read) and save them once the last one is made."""
    if path.is_file():
        batches = _read(path, description, device)
        if batches is not None:
            log(f"synthetic images reused from {path} ({sum(len(b) for b in batches)} images)")
            yield from batches
            return
    made = []
    for batch in make():
        made.append(batch)
        yield batch
    _write(path, description, made)
