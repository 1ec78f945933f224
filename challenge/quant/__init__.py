"""Simulated (fake) quantization in plain PyTorch, on CPU and CUDA."""
from .layer_config import LayerSpec, read_layer_config
from .modules import QuantLayer, quant_layers
from .quantize import calibrate, freeze, prepare, quantizable_layer_names, quantize_model
from .schemes import Scheme, get_scheme, list_schemes

__all__ = ["LayerSpec", "QuantLayer", "Scheme", "calibrate", "freeze", "get_scheme", "list_schemes",
           "prepare", "quant_layers", "quantizable_layer_names", "quantize_model", "read_layer_config"]
