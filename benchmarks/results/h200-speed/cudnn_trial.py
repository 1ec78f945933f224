"""Issue 20 (2026-12-07, seventh session): main.py with cuDNN's algorithm choice free
("free": cudnn.deterministic off) or as the kit sets it ("deterministic": on, so that the same
command gives the same output.txt), to see what determinism costs per step.

Why: AdaRound learns through the weights, so every brecq step runs cuDNN's weight-gradient
kernels, and its deterministic ones can be much slower than the rest (depthwise convolutions
especially); Genie-D runs the input gradients. If "free" is much faster, the kit could offer it as
an explicit option (giving up bit-for-bit repeats on a GPU). Usage:
python benchmarks/results/h200-speed/cudnn_trial.py free|deterministic MAIN_ARGS..."""
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
import torch  # noqa: E402

from challenge import process  # noqa: E402

mode = sys.argv.pop(1)
if mode not in ("free", "deterministic"):
    sys.exit(f"error: the first argument is free or deterministic, not {mode!r}")
kit_seed_everything = process.seed_everything


def seed_everything(seed: int) -> None:
    kit_seed_everything(seed)
    torch.backends.cudnn.deterministic = mode == "deterministic"
    print(f"cudnn: seeded, deterministic={torch.backends.cudnn.deterministic}", file=sys.stderr)


process.seed_everything = seed_everything  # before runner.py imports it by name
print(f"cudnn: {mode}", file=sys.stderr)
sys.argv[0] = str(ROOT / "main.py")
runpy.run_path(str(ROOT / "main.py"), run_name="__main__")
