"""The quantized-model artifact: one safetensors file, no pickle anywhere.

Metadata: one safetensors metadata entry, `dfq_artifact`, a JSON object with sorted keys:
format, format_version, arch, num_classes, scheme, generator, method (the optimisation method,
quant/methods/; absent in files of earlier kits, meaning rtn), method_args (its keyword arguments,
JSON values), kit_version, and `layers`:
{layer name: {weight_bits, act_bits, per_channel, reduce_range}} for every conv/linear layer of
the BatchNorm-folded architecture (empty for the `fp32` scheme, which stores the plain FP32
state_dict). One entry because safetensors writes several in random order: one sorted JSON
string makes the same model give the same file, byte for byte.

Tensors, for each layer L of `layers`:
  L.weight.int        uint8, the integer weights bit-packed (quant/packing.py), if weight_bits
  L.weight.scale      float32 [out_channels] (per channel) or [1], if weight_bits
  L.weight            float32, if the layer's weight stays float (weight_bits null)
  L.bias              float32, the folded bias
  L.input.scale       float32 [1], if act_bits
  L.input.zero_point  int32 [1], if act_bits
and every other tensor of the model's state_dict as float32 under its own name.

`read_artifact` validates a file completely against the architecture (untrusted input: the
scorer calls it) and does the size accounting; `load_artifact` rebuilds the model, whose
predictions are exactly those of the model that was saved.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from . import __version__
from .errors import KitError
from .models import MODEL_NAMES, build_architecture
from .quant.fold import fold_batchnorm
from .quant.layer_config import LayerSpec
from .quant.modules import QUANTIZABLE, QuantLayer, activation_range, quant_layers
from .quant.packing import pack, unpack
from .quant.quantize import wrap_layers
from .size import MAX_BITS, MIN_BITS, fp32_size_bytes_of_arch, quantized_size_bytes

FORMAT = "dfq-quantized-model"
FORMAT_VERSION = "1"
METADATA_KEY = "dfq_artifact"
MAX_CLASSES = 100_000


class ArtifactError(KitError):
    """The artifact file is missing, corrupt or inconsistent; the message says which part."""


@dataclass
class ArtifactContents:
    arch: str
    num_classes: int
    scheme: str
    generator: str
    metadata: dict
    layers: dict[str, dict]
    int_weights: dict[str, tuple[torch.Tensor, int]] = field(repr=False)  # L -> (int8 values in shape, bits)
    floats: dict[str, torch.Tensor] = field(repr=False)  # every other stored tensor
    quantized_bytes: int = 0
    fp32_bytes: int = 0


# ---------------------------------------------------------------- writing

def _layer_tensors(name: str, layer: QuantLayer) -> dict[str, torch.Tensor]:
    tensors = {}
    if layer.spec.weight_bits is not None:
        tensors[f"{name}.weight.int"] = pack(layer.weight_int.cpu(), layer.spec.weight_bits)
        tensors[f"{name}.weight.scale"] = layer.weight_scale.cpu().float()
    else:
        tensors[f"{name}.weight"] = layer.layer.weight.detach().cpu().float()
    if layer.layer.bias is not None:
        tensors[f"{name}.bias"] = layer.layer.bias.detach().cpu().float()
    if layer.input_quant is not None:
        tensors[f"{name}.input.scale"] = layer.input_quant.scale.cpu().float()
        tensors[f"{name}.input.zero_point"] = layer.input_quant.zero_point.cpu().to(torch.int32)
    return tensors


def _other_tensors(model: nn.Module, layer_names) -> dict[str, torch.Tensor]:
    prefixes = tuple(f"{n}." for n in layer_names)
    return {k: v.detach().cpu().float() for k, v in model.state_dict().items()
            if not k.startswith(prefixes) and not k.endswith("num_batches_tracked")}


def _json_value(value):
    return value if isinstance(value, (bool, int, float, str, type(None))) else repr(value)


def save_artifact(path, qmodel: nn.Module, *, arch: str, num_classes: int, scheme: str, generator: str,
                  method: str = "rtn", method_args: dict | None = None) -> None:
    """Write atomically: a reader never sees a half-written file."""
    layers = quant_layers(qmodel)
    tensors = _other_tensors(qmodel, layers)
    for name, layer in layers.items():
        tensors.update(_layer_tensors(name, layer))
    header = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "arch": arch, "num_classes": num_classes,
        "scheme": scheme, "generator": generator, "kit_version": __version__, "method": method,
        "method_args": {str(k): _json_value(v) for k, v in (method_args or {}).items()},
        "layers": {name: layer.spec.to_json() for name, layer in layers.items()},
    }
    metadata = {METADATA_KEY: json.dumps(header, sort_keys=True)}
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        save_file({k: v.contiguous() for k, v in tensors.items()}, temporary, metadata=metadata)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


# ---------------------------------------------------------------- reading and checking

def _fail(path, what: str) -> None:
    raise ArtifactError(f"artifact {str(path)!r}: {what}")


def _read_file(path) -> tuple[dict, dict[str, torch.Tensor]]:
    from safetensors import safe_open

    if not Path(path).is_file():
        _fail(path, "file does not exist; save one with main.py --save-model PATH")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as error:
        _fail(path, f"not a readable safetensors file ({type(error).__name__}); only .safetensors artifacts "
                    "written by the kit are accepted")
    return metadata, tensors


def _parse_metadata(path, raw: dict) -> dict:
    try:
        metadata = json.loads(raw.get(METADATA_KEY, ""))
    except (ValueError, RecursionError):  # JSONDecodeError, huge integers, deep nesting
        _fail(path, f"metadata {METADATA_KEY!r} is missing or not valid JSON; save artifacts with main.py --save-model")
    if not isinstance(metadata, dict):
        _fail(path, f"metadata {METADATA_KEY!r} must be a JSON object")
    if metadata.get("format") != FORMAT:
        _fail(path, f"metadata format is {metadata.get('format')!r}, expected {FORMAT!r}")
    if metadata.get("format_version") != FORMAT_VERSION:
        _fail(path, f"format_version {metadata.get('format_version')!r} is not supported (expected {FORMAT_VERSION})")
    if metadata.get("arch") not in MODEL_NAMES:
        _fail(path, f"arch {metadata.get('arch')!r} is not one of {', '.join(MODEL_NAMES)}")
    classes = metadata.get("num_classes")
    if type(classes) is not int or not 1 <= classes <= MAX_CLASSES:
        _fail(path, f"num_classes {classes!r} is not an integer in 1..{MAX_CLASSES}")
    if not isinstance(metadata.get("layers", {}), dict):
        _fail(path, "metadata 'layers' must be a JSON object")
    for key in ("scheme", "generator", "method"):
        if not isinstance(metadata.get(key, ""), str):
            _fail(path, f"metadata {key!r} must be a string")
    if not isinstance(metadata.get("method_args", {}), dict):
        _fail(path, "metadata 'method_args' must be a JSON object")
    return metadata


def _check_layer_spec(path, name: str, spec) -> LayerSpec:
    if not isinstance(spec, dict) or set(spec) != {"weight_bits", "act_bits", "per_channel", "reduce_range"}:
        _fail(path, f"layer {name!r}: spec must have weight_bits, act_bits, per_channel, reduce_range")
    for key in ("weight_bits", "act_bits"):
        bits = spec[key]
        if bits is not None and (type(bits) is not int or not MIN_BITS <= bits <= MAX_BITS):
            _fail(path, f"layer {name!r}: {key} {bits!r} must be null or an integer {MIN_BITS}..{MAX_BITS}")
    if not isinstance(spec["per_channel"], bool) or not isinstance(spec["reduce_range"], bool):
        _fail(path, f"layer {name!r}: per_channel and reduce_range must be true or false")
    return LayerSpec(spec["weight_bits"], spec["act_bits"], spec["per_channel"], "minmax", "minmax", spec["reduce_range"])


def _expect(path, tensors: dict, key: str, dtype, shape) -> torch.Tensor:
    if key not in tensors:
        _fail(path, f"tensor {key!r} is missing")
    tensor = tensors.pop(key)
    if tensor.dtype != dtype or tuple(tensor.shape) != tuple(shape):
        _fail(path, f"tensor {key!r} is {tensor.dtype} {tuple(tensor.shape)}, expected {dtype} {tuple(shape)}")
    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
        _fail(path, f"tensor {key!r} holds NaN or infinite values")
    return tensor


def _reference_model(arch: str, num_classes: int, quantized: bool) -> nn.Module:
    with torch.device("meta"):
        model = build_architecture(arch, num_classes)
    return fold_batchnorm(model) if quantized else model  # on the meta device: shapes only


def _read_layer(path, name, spec: LayerSpec, module: nn.Module, tensors: dict, contents: ArtifactContents):
    shape = tuple(module.weight.shape)
    if spec.weight_bits is not None:
        numel = math.prod(shape)
        packed = _expect(path, tensors, f"{name}.weight.int", torch.uint8, (math.ceil(numel * spec.weight_bits / 8),))
        values = unpack(packed, spec.weight_bits, numel).reshape(shape)
        scale = _expect(path, tensors, f"{name}.weight.scale", torch.float32, (shape[0] if spec.per_channel else 1,))
        if not bool((scale > 0).all()):
            _fail(path, f"tensor {name}.weight.scale must be positive")
        contents.int_weights[name] = (values, spec.weight_bits)
        contents.floats[f"{name}.weight.scale"] = scale
    else:
        contents.floats[f"{name}.weight"] = _expect(path, tensors, f"{name}.weight", torch.float32, shape)
    if module.bias is not None:
        contents.floats[f"{name}.bias"] = _expect(path, tensors, f"{name}.bias", torch.float32, (shape[0],))
    if spec.act_bits is not None:
        scale = _expect(path, tensors, f"{name}.input.scale", torch.float32, (1,))
        zero_point = _expect(path, tensors, f"{name}.input.zero_point", torch.int32, (1,))
        qmin, qmax = activation_range(spec.act_bits, spec.reduce_range)
        if not float(scale) > 0 or not qmin <= int(zero_point) <= qmax:
            _fail(path, f"layer {name!r}: input scale must be positive and zero point in [{qmin}, {qmax}]")
        contents.floats[f"{name}.input.scale"] = scale
        contents.floats[f"{name}.input.zero_point"] = zero_point


def read_artifact(path) -> ArtifactContents:
    """Validate an artifact completely and account its size; raises ArtifactError."""
    raw_metadata, tensors = _read_file(path)
    metadata = _parse_metadata(path, raw_metadata)
    arch, num_classes, raw_layers = metadata["arch"], metadata["num_classes"], metadata.get("layers", {})
    reference = _reference_model(arch, num_classes, quantized=bool(raw_layers))
    modules = {n: m for n, m in reference.named_modules() if isinstance(m, QUANTIZABLE)}
    if raw_layers and set(raw_layers) != set(modules):
        missing, extra = sorted(set(modules) - set(raw_layers)), sorted(set(raw_layers) - set(modules))
        _fail(path, f"layers do not match {arch}: missing {missing[:3]}, unknown {extra[:3]}")
    contents = ArtifactContents(arch, num_classes, metadata.get("scheme", ""), metadata.get("generator", ""),
                                metadata, {}, {}, {})
    for name, raw in raw_layers.items():
        spec = _check_layer_spec(path, name, raw)
        contents.layers[name] = raw
        try:
            _read_layer(path, name, spec, modules[name], tensors, contents)
        except ValueError as error:
            _fail(path, f"layer {name!r}: {error}")
    prefixes = tuple(f"{n}." for n in raw_layers)
    for key, value in reference.state_dict().items():
        if key.startswith(prefixes) or key.endswith("num_batches_tracked"):
            continue
        contents.floats[key] = _expect(path, tensors, key, torch.float32, value.shape)
    if tensors:
        _fail(path, f"unexpected tensors {sorted(tensors)[:3]}; the artifact must hold only the model's tensors")
    try:
        contents.quantized_bytes = quantized_size_bytes(contents.int_weights, contents.floats)
    except KitError as error:
        _fail(path, str(error))
    contents.fp32_bytes = fp32_size_bytes_of_arch(arch, num_classes)
    return contents


def load_artifact(path, device="cpu") -> tuple[nn.Module, ArtifactContents]:
    """The reference runtime: the quantized model rebuilt from an artifact, in eval mode."""
    contents = read_artifact(path)
    # Built on the meta device and then given memory without initialising it: every value is
    # loaded below, so torchvision's random initialisation (the scorer paid it per model per
    # submission) would be thrown away.
    with torch.device("meta"):
        model = build_architecture(contents.arch, contents.num_classes).eval()
        if contents.layers:
            fold_batchnorm(model)
            specs = {name: _check_layer_spec(path, name, raw) for name, raw in contents.layers.items()}
            wrap_layers(model, specs)
    model.to_empty(device="cpu")
    for name, buffer in model.named_buffers():
        if name.endswith("num_batches_tracked"):  # the one buffer an artifact does not store
            buffer.zero_()
    floats = dict(contents.floats)
    with torch.no_grad():
        for name, layer in quant_layers(model).items():
            if name in contents.int_weights:
                values, _ = contents.int_weights[name]
                layer.set_integer_weight(values, floats.pop(f"{name}.weight.scale"))
            else:
                layer.layer.weight.copy_(floats.pop(f"{name}.weight"))
            if layer.layer.bias is not None:
                layer.layer.bias.copy_(floats.pop(f"{name}.bias"))
            if layer.input_quant is not None:
                layer.input_quant.scale.copy_(floats.pop(f"{name}.input.scale"))
                layer.input_quant.zero_point.copy_(floats.pop(f"{name}.input.zero_point"))
                layer.input_quant.observer = None
                layer.input_quant.mode = "quantize"
        missing, unexpected = model.load_state_dict(floats, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked") and not k.startswith(
        tuple(f"{n}." for n in contents.layers))]
    if missing or unexpected:
        _fail(path, f"tensors do not fit {contents.arch}: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model.to(device).eval(), contents
