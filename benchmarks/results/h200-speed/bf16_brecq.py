"""main.py with every reconstruction step under bf16 autocast (issue 20, 2026-12-06 call 8): a
trial of whether bf16 block forwards pay before it becomes an option. Usage: python
benchmarks/results/h200-speed/bf16_brecq.py MAIN_ARGS..."""
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
import torch  # noqa: E402

from challenge.quant.methods import _trainer  # noqa: E402

plain_step = _trainer.UnitTrainer.step


def bf16_step(self):
    with torch.autocast(self.device.type, dtype=torch.bfloat16, cache_enabled=False):
        plain_step(self)


_trainer.UnitTrainer.step = bf16_step
sys.argv = [str(ROOT / "main.py")] + sys.argv[1:]
runpy.run_path(str(ROOT / "main.py"), run_name="__main__")
