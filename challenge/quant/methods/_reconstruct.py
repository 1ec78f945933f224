"""Output reconstruction, unit by unit: the engine behind `adaround` (layers) and `brecq` (blocks).

For each unit in the order the network runs them:
1. cache, over the calibration batches, the unit's input in the FP32 model (x_fp), its input in
   the quantized model with every earlier unit already reconstructed (x_q), and its FP32 output
   (y_fp); on the GPU when they fit, else in pinned CPU memory;
2. make its quantized layers learnable (_learned.py) and minimise
       || unit(x) - y_fp ||^2 (summed over channels, averaged over the rest)
       + round_weight * sum(1 - |2 h(V) - 1|^beta)   (after a warm-up)
   where x is x_q, or with QDrop (`drop_prob` > 0) each element of x_fp or x_q at random;
3. write the hard-rounded integers and the learned scales back, so that the next unit sees the
   final quantized model.
Adam on the rounding variables; Adam with cosine decay on the step sizes; beta decays linearly
from 20 to 2 after the warm-up (AdaRound's annealing), as in the BRECQ/QDrop/Genie code.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

import torch
from torch import nn

from ..modules import QuantLayer, set_mode
from ._capture import folded_fp32, for_each_call, forward_order
from ._learned import LearnedQuantLayer
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
    lr_act_scale: float = 4e-5
    learn_weight_scale: bool = False
    lr_weight_scale: float = 1e-4
    drop_prob: float = 0.0
    seed: int = 0
    label: str = "reconstruct"


def _beta(settings: Settings, step: int) -> float | None:
    """None during the warm-up (no rounding loss), then linear decay from beta_start to beta_end."""
    start = settings.warmup * settings.iterations
    if step < start:
        return None
    progress = (step - start) / max(1.0, settings.iterations - start)
    return settings.beta_end + (settings.beta_start - settings.beta_end) * max(0.0, 1.0 - progress)


class Cache:
    """Tensors of all calibration samples, kept where they fit: the device, else pinned CPU memory."""

    def __init__(self, parts: list[torch.Tensor], device: torch.device):
        total = sum(p.numel() * p.element_size() for p in parts)
        on_device = device.type != "cuda" or total < 0.5 * torch.cuda.mem_get_info(device)[0]
        if on_device:
            self.data = torch.cat(parts).to(device)
        else:
            self.data = torch.cat([p.cpu() for p in parts]).pin_memory()
        self.device = device

    def __len__(self) -> int:
        return len(self.data)

    def take(self, index: torch.Tensor) -> torch.Tensor:
        if self.data.device == self.device:
            return self.data[index.to(self.device)]
        return self.data[index].to(self.device, non_blocking=True)


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


def _optimise(block: nn.Module, learned: dict[str, LearnedQuantLayer], x_fp: Cache | None, x_q: Cache,
              y_fp: Cache, settings: Settings, title: str) -> list[float]:
    from progress.bar import Bar

    layers = list(learned.values())
    rounding = [layer.v for layer in layers if hasattr(layer, "v")]
    scales = [{"params": [l.weight_scale for l in layers if l.quantizes_weight and l.weight_scale.requires_grad],
               "lr": settings.lr_weight_scale},
              {"params": [l.act_scale for l in layers if hasattr(l, "act_scale") and l.act_scale.requires_grad],
               "lr": settings.lr_act_scale}]
    scales = [group for group in scales if group["params"]]
    optimisers = [torch.optim.Adam(rounding, lr=settings.lr_rounding)] if rounding else []
    schedulers = []
    if scales:
        optimisers.append(torch.optim.Adam(scales))
        schedulers.append(torch.optim.lr_scheduler.CosineAnnealingLR(optimisers[-1], T_max=settings.iterations))
    if not optimisers:  # nothing to learn in this unit (e.g. layers kept in float)
        return []
    for layer in layers:
        layer.dropping = settings.drop_prob > 0
    rng = torch.Generator().manual_seed(settings.seed)
    order = torch.empty(0, dtype=torch.long)
    history, every = [], max(1, settings.iterations // 20)
    bar = Bar(title, max=settings.iterations, file=sys.stderr, suffix="%(index)d/%(max)d loss %(loss)s")
    bar.loss = "-"
    for step in range(settings.iterations):
        if len(order) < settings.batch_size:
            order = torch.cat([order, torch.randperm(len(x_q), generator=rng)])
        index, order = order[:settings.batch_size], order[settings.batch_size:]
        x = x_q.take(index)
        if settings.drop_prob > 0:  # QDrop: mix FP32 and quantized inputs element-wise
            x = torch.where(torch.rand_like(x) < settings.drop_prob, x_fp.take(index), x)
        loss = (block(x) - y_fp.take(index)).pow(2).sum(1).mean()
        beta = _beta(settings, step)
        if beta is not None and rounding:
            loss = loss + settings.round_weight * sum(
                (1 - (2 * layer.rounding() - 1).abs().pow(beta)).sum() for layer in layers if hasattr(layer, "v"))
        for optimiser in optimisers:
            optimiser.zero_grad(set_to_none=True)
        loss.backward()
        for optimiser in optimisers:
            optimiser.step()
        for scheduler in schedulers:
            scheduler.step()
        if step % every == 0 or step == settings.iterations - 1:
            history.append(float(loss.detach()))  # one host sync per `every` steps
            bar.loss = f"{history[-1]:.4g}"
            bar.goto(step + 1)
    bar.goto(settings.iterations)
    bar.finish()
    for layer in layers:
        layer.dropping = False
    return history


def reconstruct(fp32_model: nn.Module, qmodel: nn.Module, batches: list[torch.Tensor], settings: Settings) -> dict:
    """Reconstruct every unit of `qmodel` in turn (in place); returns the loss history per unit."""
    device = next(qmodel.parameters()).device
    fp_model = folded_fp32(fp32_model).to(device)
    batches = [b.to(device) for b in batches]
    qmodel.eval()
    set_mode(qmodel, "quantize")
    for p in list(qmodel.parameters()) + list(fp_model.parameters()):
        p.requires_grad_(False)
    units = forward_order(qmodel, unit_names(qmodel, settings.granularity), batches[0])
    histories = {}
    for number, unit in enumerate(units, start=1):
        x_fp, y_fp = _capture(fp_model, unit, batches, device, inputs=settings.drop_prob > 0, outputs=True)
        x_q, _ = _capture(qmodel, unit, batches, device, inputs=True, outputs=False)
        learned = _install(qmodel, fp_model, unit, settings)
        with torch.enable_grad():
            histories[unit] = _optimise(qmodel.get_submodule(unit), learned, x_fp, x_q, y_fp, settings,
                                        f"{settings.label} {number}/{len(units)} {unit}")
        for name, layer in learned.items():
            _replace(qmodel, name, layer.write_back())
        del x_fp, x_q, y_fp
    return histories
