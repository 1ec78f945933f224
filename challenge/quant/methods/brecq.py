"""Block reconstruction: BRECQ (Li et al., ICLR 2021) with QDrop (Wei et al., ICLR 2022) and
Genie-M's learned weight step sizes (Jeon et al., CVPR 2023).

Each block (a residual block, or a stem/classifier unit: _units.py) is reconstructed against its
FP32 output, learning together: the rounding of every weight (AdaRound's rectified sigmoid and
annealed regulariser), the step size of every activation quantizer (LSQ, as BRECQ/QDrop), and the
per-channel weight step sizes (as Genie-M), both with Adam and cosine decay. QDrop: the block's input is, element by element, the FP32 or the quantized model's with
probability 0.5, and inside the block each activation keeps its unquantized value with
probability 0.5; both only while learning.

Papers' defaults kept: batch 32, lambda (round_weight) 0.01, beta 20 -> 2 after a 20% warm-up,
rounding Adam at 1e-3, MSE on the block output (QDrop's; BRECQ's Fisher weighting needs labels
or a task loss, which synthetic data has not).
Departures, written here because they are ours:
- 10,000 iterations per block by default instead of the papers' 20,000, to stay inside a
  10-minute budget per model on one GPU (MobileNetV2 on an H100: 49 s of GDFQ generation plus
  377 s of reconstruction); `--method-arg iterations=20000` is the papers' setting.
  benchmarks/results/h100-methods.md has the time-quality curve (500, 2,000, 10,000).
- Every layer follows the scheme (the papers keep the first and last layers at 8 bits; do that
  with --layer-config if wanted), and weights stay on the kit's symmetric grid.
- Activation zero points stay those of calibration; only their step sizes are learned.
- Step sizes are learned in log space at relative rates (_learned.py says why): 1e-4 per step for
  activations and 1e-3 for weights, what the papers' absolute 4e-5 and 1e-4 are for typical 4-bit
  scales (about 0.4 and 0.07).
"""
from . import register_method
from ._reconstruct import Settings, reconstruct


@register_method("brecq")
def brecq(fp32_model, qmodel, batches, *, iterations=10_000, batch_size=32, round_weight=0.01,
          beta_start=20.0, beta_end=2.0, warmup=0.2, lr=1e-3, lr_act_scale=1e-4, lr_weight_scale=1e-3,
          learn_act_scale=True, learn_weight_scale=True, drop_prob=0.5, seed=0):
    settings = Settings("block", iterations, batch_size, round_weight, beta_start, beta_end, warmup, lr,
                        learn_act_scale, lr_act_scale, learn_weight_scale, lr_weight_scale, drop_prob,
                        seed, label="brecq")
    return reconstruct(fp32_model, qmodel, batches, settings)
