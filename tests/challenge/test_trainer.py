"""The reconstruction step's schedules (challenge/quant/methods/_trainer.py): what a step reads by
its counter is gathered from one table, and the optimisers learn at the rates of that step."""
import math

import torch
import torchvision

from challenge.quant import calibrate, freeze, get_scheme, optimise, prepare
from challenge.quant.methods import _trainer


def test_each_step_reads_its_row_of_beta_and_the_cosine_decayed_rates(monkeypatch):
    torch.manual_seed(0)
    fp32 = torchvision.models.mobilenet_v2(num_classes=10).eval()
    batches = [torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    qmodel = prepare(fp32, get_scheme("w4a8"))
    calibrate(qmodel, batches)
    seen = {}  # trainer -> per step: the learning rates its optimisers read, beta, the regulariser's weight
    plain_step = _trainer.UnitTrainer.step

    def step(trainer):
        plain_step(trainer)
        seen.setdefault(trainer, []).append(([float(g["lr"]) for o in trainer.optimisers[1:] for g in o.param_groups],
                                             float(trainer.current[0, 0]), float(trainer.current[0, 1])))

    monkeypatch.setattr(_trainer.UnitTrainer, "step", step)
    iterations = 6
    optimise("brecq", fp32, freeze(qmodel), batches, {"iterations": iterations, "batch_size": 4})
    # features.1 on: rounding, weight step sizes, activation step sizes (the stem's input range is fixed)
    trainer = [t for t in seen if len(t.optimisers) == 3][0]
    settings = trainer.settings
    assert len(seen[trainer]) == iterations
    start = settings.warmup * iterations
    for k, (rates, beta, penalty_weight) in enumerate(seen[trainer]):
        cosine = torch.tensor(0.5 * (1 + math.cos(math.pi * k / iterations)), dtype=torch.float64).float()
        assert rates == [float(settings.lr_weight_scale * cosine), float(settings.lr_act_scale * cosine)]
        progress = min(1.0, max(0.0, (k - start) / max(1.0, iterations - start)))
        assert math.isclose(beta, settings.beta_end + (settings.beta_start - settings.beta_end) * (1 - progress),
                            rel_tol=1e-6)
        assert math.isclose(penalty_weight, settings.round_weight if k >= start else 0.0, rel_tol=1e-6)
    assert seen[trainer][-1][0][0] < seen[trainer][0][0][0] / 10  # the rates the optimisers read did move
