"""challenge/export/cpu.py: ONNX Runtime's integer sums are exact on this CPU, whatever it is.

On x86-64 without VNNI its fast uint8 x int8 kernels add pairs of products into a saturating
int16; the kit's sessions ask for its exact kernels there, which ONNX Runtime then uses for the
layers with a weight beyond +-64 only. One small convolution whose pairs overflow int16 (2 * 255 *
127 > 32767) shows the sums exact; one whose weights are 64 (2 * 255 * 64 = 32,640 fits) keeps
the fast kernels, and is exact too.
"""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install -r requirements.txt)")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -r requirements.txt)")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from challenge.export.cpu import u8s8_saturates  # noqa: E402
from challenge.export.graph import OPSET  # noqa: E402
from challenge.export.runtime import exact_kernel_layers, session  # noqa: E402

CHANNELS = 8


def _saturating_conv(weight: int = 127, out_zero_point: int = 0) -> bytes:
    """uint8 input -> QDQ 1x1 conv (every weight `weight`) -> uint8 output at scale 2000."""
    constants = {"x.scale": np.float32(1), "x.zp": np.uint8(0), "w": np.full((4, CHANNELS, 1, 1), weight, np.int8),
                 "w.scale": np.float32(1), "w.zp": np.int8(0), "y.scale": np.float32(2000),
                 "y.zp": np.uint8(out_zero_point)}
    nodes = [helper.make_node("DequantizeLinear", ["x", "x.scale", "x.zp"], ["x.dq"]),
             helper.make_node("DequantizeLinear", ["w", "w.scale", "w.zp"], ["w.dq"]),
             helper.make_node("Conv", ["x.dq", "w.dq"], ["y.f"], kernel_shape=[1, 1]),
             helper.make_node("QuantizeLinear", ["y.f", "y.scale", "y.zp"], ["y"])]
    graph = helper.make_graph(nodes, "saturation",
                              [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, CHANNELS, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.UINT8, [1, 4, 4, 4])],
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in constants.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 10
    return model.SerializeToString()


def test_integer_sums_are_exact_where_pairs_overflow_int16():
    model = _saturating_conv()
    (y,) = session(model).run(None, {"x": np.full((1, CHANNELS, 4, 4), 255, np.uint8)})
    assert (y == round(CHANNELS * 255 * 127 / 2000)).all(), y.ravel()[:4]  # 130; saturated pairs give 66
    assert exact_kernel_layers(model) == ((1, 1) if u8s8_saturates() else (0, 1))


@pytest.mark.parametrize("weight, out_zero_point", [(64, 0), (-64, 255)])
def test_seven_bit_weights_keep_the_fast_kernels_and_are_exact(weight, out_zero_point):
    model = _saturating_conv(weight, out_zero_point)
    assert exact_kernel_layers(model) == (0, 1)  # on every CPU: ONNX Runtime leaves +-64 as int8
    (y,) = session(model).run(None, {"x": np.full((1, CHANNELS, 4, 4), 255, np.uint8)})
    assert (y == out_zero_point + round(CHANNELS * 255 * weight / 2000)).all(), y.ravel()[:4]  # 65 or 190


@pytest.mark.parametrize("flags, saturates", [("fpu sse avx2 fma", True), ("avx2 avx512f avx512_vnni", False),
                                               ("avx2 avx_vnni", False), ("avx2 amx_int8 amx_tile", False)])
def test_vnni_or_amx_means_exact_fast_kernels(tmp_path, monkeypatch, flags, saturates):
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert u8s8_saturates(str(cpuinfo)) is saturates
    assert u8s8_saturates(str(tmp_path / "absent")) is True  # unknown: the exact kernels


def test_arm_is_never_asked_for_the_slower_kernels(monkeypatch):
    monkeypatch.setattr("platform.machine", lambda: "aarch64")
    assert u8s8_saturates() is False
