"""Issue 20: main.py with reconstruction's feature maps in the layout named first, to compare
channels-last (the default) with channels-first on the same command.
Usage: python benchmarks/results/h200-speed/layout_trial.py channels_last|contiguous MAIN_ARGS..."""
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
import torch  # noqa: E402

from challenge.quant.methods import _reconstruct  # noqa: E402

layout = sys.argv.pop(1)
_reconstruct.LAYOUT = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}[layout]
print(f"reconstruction layout: {layout}", file=sys.stderr)
sys.argv[0] = str(ROOT / "main.py")
runpy.run_path(str(ROOT / "main.py"), run_name="__main__")
