"""The quantization pipeline: fold BatchNorm, wrap layers, calibrate on any batches, freeze
(round to nearest), then optimise with a method (methods/: AdaRound, BRECQ, ...).

    qmodel = quantize_model(fp32_model, get_scheme("int8"), batches, method="brecq")

`batches` is any iterable of input batches (a generator's output): the only thing that changes
between the Gaussian baseline, ZeroQ, GDFQ and a participant's own generator.
"""
from __future__ import annotations

import copy
import sys
from typing import Iterable

import torch
from torch import nn

from ..errors import KitError
from ..precision import strict_float32
from ..size import check_fits
from .fold import fold_batchnorm
from .layer_config import LayerSpec, resolve_layer_specs
from .methods import DEFAULT_METHOD, check_method_args, get_method, needs_data
from .modules import QUANTIZABLE, QuantLayer, quant_layers, set_mode
from .schemes import Scheme


def quantizable_layer_names(model: nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if isinstance(m, QUANTIZABLE)]


def wrap_layers(model: nn.Module, specs: dict[str, LayerSpec]) -> nn.Module:
    """Replace each named conv/linear layer by a QuantLayer (in place)."""
    for name, spec in specs.items():
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, QuantLayer(getattr(parent, child), spec))
    return model


@torch.no_grad()
def stem_readers(model: nn.Module, names: list[str]) -> list[str]:
    """The layers whose input is the first layer's output (after its activation and pooling):
    the second layer in module order and any other layer fed the same tensor (ShuffleNetV2's
    first unit has two: both its branches). Found on one small random image, by value."""
    inputs: dict[str, torch.Tensor] = {}
    hooks = [model.get_submodule(n).register_forward_pre_hook(lambda m, a, n=n: inputs.setdefault(n, a[0]))
             for n in names[1:]]
    try:
        parameter = next(model.parameters())
        model(torch.randn((1, 3, 64, 64), generator=torch.Generator().manual_seed(0)).to(parameter))
    finally:
        for hook in hooks:
            hook.remove()
    second = inputs.get(names[1]) if len(names) > 1 else None
    return [n for n, x in inputs.items() if second is not None and x.shape == second.shape and torch.equal(x, second)]


def image_range() -> tuple[float, float]:
    """The range of a normalized image: pixel 0 of the channel that maps lowest, pixel 1 of the one
    that maps highest (about -2.12 .. 2.64 for ImageNet's mean and std)."""
    from ..data import IMAGENET_MEAN, IMAGENET_STD

    return (min(-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)),
            max((1 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)))


def layer_specs(folded_model: nn.Module, scheme: Scheme, layer_rules: list[dict] | None = None) -> dict[str, LayerSpec]:
    """Every quantizable layer's spec under `scheme` and `layer_rules`, network edges included."""
    names = quantizable_layer_names(folded_model)
    readers = stem_readers(folded_model, names) if scheme.edge_bits is not None else []
    return resolve_layer_specs(names, scheme, layer_rules, readers)


def prepare(fp32_model: nn.Module, scheme: Scheme, layer_rules: list[dict] | None = None) -> nn.Module:
    """A folded, wrapped copy in observe mode; the FP32 model is left untouched."""
    model = fold_batchnorm(copy.deepcopy(fp32_model).eval())
    names = quantizable_layer_names(model)
    model = wrap_layers(model, layer_specs(model, scheme, layer_rules))
    stem = model.get_submodule(names[0]).input_quant if names else None
    if scheme.edge_bits is not None and stem is not None:
        # Below 8 bits the image's quantizer covers exactly what a photo can hold. Synthetic images
        # go outside it (GDFQ's reached -1.96 .. 1.89, Genie-D's -1.18 .. 2.40, clipping real
        # pixels); calibrated or learned on them, the first layer's input range was theirs.
        stem.fixed_range = image_range()
    return model


def calibrate(model: nn.Module, batches: Iterable[torch.Tensor]) -> int:
    """Run calibration batches through a prepared model; returns how many samples it saw.

    `batches` is often a lazy generator whose body runs inside this loop: it must keep autograd
    (ZeroQ and GDFQ optimise), so only the observation itself runs without gradients.
    """
    from progress.spinner import Spinner

    device = next(model.parameters()).device
    set_mode(model, "observe")
    seen = 0
    spinner = Spinner("calibrate ", file=sys.stderr)
    for batch in batches:  # the generator runs here, outside strict float32: it may use TF32
        with torch.no_grad(), strict_float32():
            _observe(model, batch, device)
        seen += batch.shape[0]
        spinner.next()
    spinner.finish()
    if seen == 0:
        raise KitError("the generator yielded no calibration batch")
    return seen


def _observe(model: nn.Module, batch, device) -> None:
    if not isinstance(batch, torch.Tensor) or batch.dim() != 4:
        raise KitError(f"the generator yielded {type(batch).__name__} {getattr(batch, 'shape', '')}; "
                       "a generator must yield float tensors of shape (batch, 3, H, W)")
    model(batch.to(device=device, dtype=torch.float32))


@torch.no_grad()
def freeze(model: nn.Module) -> nn.Module:
    for layer in quant_layers(model).values():
        layer.freeze()
    set_mode(model, "quantize")
    return model.eval()


def optimise(method_spec: str, fp32_model: nn.Module, qmodel: nn.Module, batches: list[torch.Tensor],
             method_kwargs: dict | None = None) -> nn.Module:
    """Run a method (methods/) on a frozen model, then check what it left: integers on each
    layer's grid, positive finite scales, and the float weights the model computes with equal to
    those integers times their scales (what the artifact stores is what was evaluated)."""
    method = get_method(method_spec)
    method_kwargs = method_kwargs or {}
    check_method_args(method, method_spec, method_kwargs)
    method(fp32_model, qmodel, batches, **method_kwargs)
    with torch.no_grad():
        for name, layer in quant_layers(qmodel).items():
            if layer.weight_int is None:
                continue
            try:
                check_fits(name, layer.weight_int, layer.spec.weight_bits)
            except KitError as error:
                raise KitError(f"method {method_spec!r} left {error}") from None
            scale = layer.weight_scale
            if not bool(torch.isfinite(scale).all() and (scale > 0).all()):
                raise KitError(f"method {method_spec!r} left weight scales of {name!r} that are not positive and finite")
            layer.set_integer_weight(layer.weight_int.to(torch.int8), scale)
    set_mode(qmodel, "quantize")
    for p in qmodel.parameters():
        p.requires_grad_(False)
    return qmodel.eval()


def check_method(method_spec: str, scheme: Scheme, method_kwargs: dict | None = None) -> None:
    """Fail early (before generating data) on a bad method name, file or argument."""
    if not scheme.quantizes and method_spec != DEFAULT_METHOD:
        raise KitError(f"the fp32 scheme quantizes nothing, so method {method_spec!r} has nothing to optimise; "
                       "drop --method or choose another scheme")
    check_method_args(get_method(method_spec), method_spec, method_kwargs or {})


def method_needs_data(method_spec: str) -> bool:
    return needs_data(get_method(method_spec))


def quantize_model(fp32_model: nn.Module, scheme: Scheme, batches: Iterable[torch.Tensor],
                   layer_rules: list[dict] | None = None, method: str = DEFAULT_METHOD,
                   method_kwargs: dict | None = None) -> nn.Module:
    """The quantized (fake-quant) copy of `fp32_model`; `fp32` returns an unmodified copy."""
    check_method(method, scheme, method_kwargs)
    if not scheme.quantizes:
        if layer_rules:
            raise KitError("the fp32 scheme quantizes nothing; drop --layer-config or choose another scheme")
        return copy.deepcopy(fp32_model).eval()
    if method_needs_data(method):
        batches = list(batches)  # calibration consumes them once, the method reads them again
    model = prepare(fp32_model, scheme, layer_rules)
    calibrate(model, batches)
    freeze(model)
    return optimise(method, fp32_model, model, batches, method_kwargs)
