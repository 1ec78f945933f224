"""The anchor: ONNX Runtime's own static quantizer on the kit's FP32 ONNX export.

`onnxruntime.quantization.quantize_static` with its QDQ format, per-channel int8 weights, uint8
activations and its default min-max calibration, calibrated on the same synthetic images as the
kit's artifact (the kit's `gaussian` generator). What a deployment engineer would get from ONNX
Runtime's tools without the kit; benchmarks/eval_speed.py --anchor times it beside the kit's export.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np
import torch
from torch import nn

from challenge.export import INPUT_NAME, OUTPUT_NAME


def quantize_static(fp32_onnx: bytes, batches) -> bytes:
    """The QDQ model ONNX Runtime's quantizer writes for the float model, calibrated on `batches`."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quant_pre_process)
    from onnxruntime.quantization import quantize_static as ort_quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter([{INPUT_NAME: np.ascontiguousarray(b.detach().cpu().float().numpy())} for b in batches])

        def get_next(self):
            return next(self.feeds, None)

    with tempfile.TemporaryDirectory() as scratch:
        fp32, prepared, out = (os.path.join(scratch, f) for f in ("fp32.onnx", "prepared.onnx", "int8.onnx"))
        with open(fp32, "wb") as stream:
            stream.write(fp32_onnx)
        quant_pre_process(fp32, prepared)  # shape inference and graph cleanup, as its documentation asks
        ort_quantize_static(prepared, out, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax)
        with open(out, "rb") as stream:
            return stream.read()


class SessionModel(nn.Module):
    """A plain ONNX Runtime session (no kit-side graph changes) as a torch module."""

    def __init__(self, model_bytes: bytes):
        from challenge.export.runtime import session

        super().__init__()
        self.session = session(model_bytes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        batch = np.ascontiguousarray(images.detach().cpu().float().numpy())
        return torch.from_numpy(self.session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0])
