"""AdaRound (Nagel et al., ICML 2020, "Up or Down? Adaptive Rounding for Post-Training
Quantization"): each layer learns whether each weight rounds up or down, layer by layer.

The paper's setup: the layer's input comes from the quantized model (its "asymmetric"
reconstruction), the target is the FP32 layer's output, the rounding is the rectified sigmoid with
the annealed regulariser (beta 20 -> 2 after 20% of the iterations, lambda 0.01), Adam at 1e-3,
10,000 iterations of batch 32; step sizes stay those of calibration.
Departures: the target is the layer's output before its activation function (the activation is
a separate module here), and the input quantizer of the layer is applied as in the final model.
"""
from . import register_method
from ._reconstruct import Settings, reconstruct


@register_method("adaround")
def adaround(fp32_model, qmodel, batches, *, iterations=10_000, batch_size=32, round_weight=0.01,
             beta_start=20.0, beta_end=2.0, warmup=0.2, lr=1e-3, seed=0):
    settings = Settings("layer", iterations, batch_size, round_weight, beta_start, beta_end, warmup, lr,
                        seed=seed, label="adaround")
    return reconstruct(fp32_model, qmodel, batches, settings)
