"""Output reconstruction, unit by unit: the engine behind `adaround` (layers) and `brecq` (blocks).

For each unit in the order the network runs them:
1. cache, over the calibration batches, the unit's input in the FP32 model (x_fp), its input in
   the quantized model with every earlier unit already reconstructed (x_q), and its FP32 output
   (y_fp); on the GPU when they fit, else in pinned CPU memory;
2. make its quantized layers learnable (_learned.py), absorb the activations and biases that feed
   them into their quantizers (_absorbed.py), and minimise
       || unit(x) - y_fp ||^2 (summed over channels, averaged over the rest)
       + round_weight * sum(1 - |2 h(V) - 1|^beta)   (after a warm-up)
   where x is x_q, or with QDrop (`drop_prob` > 0) each element of x_fp or x_q at random;
3. write the hard-rounded integers and the learned scales back, so that the next unit sees the
   final quantized model.
Adam on the rounding variables; Adam with cosine decay on the step sizes; beta decays linearly
from 20 to 2 after the warm-up (AdaRound's annealing), as in the BRECQ/QDrop/Genie code. The loop
itself (and its CUDA-graph replay) is _trainer.py.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import torch
from torch import nn

from ..modules import QuantLayer, set_mode
from ._absorbed import absorb
from ._capture import folded_fp32, for_each_call, forward_order
from ._learned import LearnedQuantLayer
from ._trainer import UnitTrainer
from ._units import unit_names


@dataclass(frozen=True)
class Settings:
    granularity: str  # "layer" | "block"
    iterations: int
    batch_size: int = 32
    round_weight: float = 0.01
    beta_start: float = 20.0
    beta_end: float = 2.0
    warmup: float = 0.2
    lr_rounding: float = 1e-3
    learn_act_scale: bool = False
    lr_act_scale: float = 1e-4  # relative (log-space) rates: _learned.py
    learn_weight_scale: bool = False
    lr_weight_scale: float = 1e-3
    drop_prob: float = 0.0
    seed: int = 0
    label: str = "reconstruct"


# Images and feature maps are kept channels-last during reconstruction: depthwise convolutions then
# run on cuDNN's (and oneDNN's) kernels instead of PyTorch's own, which took 28% of a MobileNetV2
# block's step on an H100 (issue 20). The arithmetic is the same up to float summation order;
# MobileNetV2's brecq steps take 18% less time on an H100, neutral to 6% less on the CPU
# (benchmarks/results/h200-speed.md). A benchmark may set torch.contiguous_format to compare
# (layout_trial.py).
LAYOUT = torch.channels_last


def _in_layout(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=LAYOUT) if x.dim() == 4 else x


class Cache:
    """Tensors of all calibration samples, kept where they fit: the device, else pinned CPU memory.
    Feature maps are held as (sample, height, width, channel) rows, so that taking samples keeps
    the channels-last layout (index_select would return them channels-first)."""

    def __init__(self, parts: list[torch.Tensor], device: torch.device):
        total = sum(p.numel() * p.element_size() for p in parts)
        on_device = device.type != "cuda" or total < 0.5 * torch.cuda.mem_get_info(device)[0]
        self.nhwc = parts[0].dim() == 4 and LAYOUT == torch.channels_last
        data = torch.cat(parts if on_device else [p.cpu() for p in parts])
        if self.nhwc:
            data = data.permute(0, 2, 3, 1).contiguous()  # no copy when the parts are channels-last
        self.data = data.to(device) if on_device else data.pin_memory()
        self.device = device
        self.on_device = on_device

    def __len__(self) -> int:
        return len(self.data)

    def take(self, index: torch.Tensor) -> torch.Tensor:
        if self.on_device:
            rows = self.data.index_select(0, index)
        else:
            rows = self.data.index_select(0, index.cpu()).to(self.device, non_blocking=True)
        return rows.permute(0, 3, 1, 2) if self.nhwc else rows


def _capture(model, name, batches, device, *, inputs: bool, outputs: bool) -> tuple[Cache | None, Cache | None]:
    kept = {"inputs": [], "outputs": []}

    def keep(x, y):
        if inputs:
            kept["inputs"].append(x.detach())
        if outputs:
            kept["outputs"].append(y.detach())

    for_each_call(model, model.get_submodule(name), batches, keep)
    return tuple(Cache(kept[what], device) if wanted else None
                 for what, wanted in (("inputs", inputs), ("outputs", outputs)))


def _install(qmodel: nn.Module, fp_model: nn.Module, unit: str, settings: Settings) -> dict[str, LearnedQuantLayer]:
    """Replace each QuantLayer of the unit by a learnable copy (same place in the module tree)."""
    block = qmodel.get_submodule(unit)
    names = [unit if not rel else f"{unit}.{rel}" for rel, m in block.named_modules() if isinstance(m, QuantLayer)]
    learned = {}
    for name in names:
        qlayer = qmodel.get_submodule(name)
        learned[name] = LearnedQuantLayer(
            qlayer, fp_model.get_submodule(name).weight, learn_rounding=True,
            learn_weight_scale=settings.learn_weight_scale, learn_act_scale=settings.learn_act_scale,
            drop_prob=settings.drop_prob)
        _replace(qmodel, name, learned[name])
    return learned


def _replace(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, module)


def reconstruct(fp32_model: nn.Module, qmodel: nn.Module, batches: list[torch.Tensor], settings: Settings) -> dict:
    """Reconstruct every unit of `qmodel` in turn (in place); returns the loss history per unit."""
    device = next(qmodel.parameters()).device
    fp_model = folded_fp32(fp32_model).to(device)
    batches = [_in_layout(b.to(device)) for b in batches]
    qmodel.eval()
    set_mode(qmodel, "quantize")
    for p in list(qmodel.parameters()) + list(fp_model.parameters()):
        p.requires_grad_(False)
    units = forward_order(qmodel, unit_names(qmodel, settings.granularity), batches[0])
    histories, seconds = {}, {}
    for number, unit in enumerate(units, start=1):
        started = time.perf_counter()
        x_fp, y_fp = _capture(fp_model, unit, batches, device, inputs=settings.drop_prob > 0, outputs=True)
        x_q, _ = _capture(qmodel, unit, batches, device, inputs=True, outputs=False)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        cached = time.perf_counter() - started
        learned = _install(qmodel, fp_model, unit, settings)
        put_back_absorbed = absorb(qmodel.get_submodule(unit))
        trainer = UnitTrainer(qmodel.get_submodule(unit), list(learned.values()), x_fp, x_q, y_fp, settings, device)
        if trainer.has_work:
            with torch.enable_grad():
                histories[unit] = trainer.run(f"{settings.label} {number}/{len(units)} {unit}")
        for name, layer in learned.items():
            _replace(qmodel, name, layer.write_back())
        put_back_absorbed()
        del x_fp, x_q, y_fp
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds[unit] = time.perf_counter() - started
        where = f"inputs cached {cached:.1f} s" + (f", {trainer.times.describe()}" if trainer.times else "")
        print(f"{settings.label} {number}/{len(units)} {unit}: {seconds[unit]:.1f} s ({where})",
              file=sys.stderr, flush=True)
    total = sum(seconds.values())
    slowest = max(seconds, key=seconds.get, default=None)
    print(f"{settings.label}: {len(units)} units in {total:.1f} s"
          + (f" (slowest {slowest}: {seconds[slowest]:.1f} s)" if slowest else ""), file=sys.stderr, flush=True)
    return histories
