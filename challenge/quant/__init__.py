"""Simulated (fake) quantization in plain PyTorch, on CPU and CUDA."""
from .layer_config import LayerSpec, read_layer_config
from .modules import QuantLayer, quant_layers
from .methods import DEFAULT_METHOD, get_method, list_methods, register_method
from .quantize import (calibrate, check_method, freeze, method_needs_data, optimise, prepare,
                       quantizable_layer_names, quantize_model)
from .schemes import Scheme, get_scheme, list_schemes

__all__ = ["DEFAULT_METHOD", "LayerSpec", "QuantLayer", "Scheme", "calibrate", "check_method", "freeze",
           "get_method", "get_scheme", "list_methods", "list_schemes", "method_needs_data", "optimise", "prepare",
           "quant_layers", "quantizable_layer_names", "quantize_model", "read_layer_config", "register_method"]
