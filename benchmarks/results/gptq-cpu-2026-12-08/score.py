"""Score the gptq-cpu runs with the scorer, as benchmarks/frontier.py scores its runs: each run's
output.txt and artifact packed (`python -m scorer pack`) and checked with verification (`check
--verify`) on a one-model challenge over the same images, plus the top-1 of each half.

    python benchmarks/results/gptq-cpu-2026-12-08/score.py RUNS_DIR NAME [NAME ...]

RUNS_DIR holds NAME.safetensors, NAME.txt (main.py's stdout) and NAME.command (its options) for each
run (gptq-cpu.sh writes them). Names starting with "mnv2" are MobileNetV2 on the shared ImageNet
images, "shuf" and "res" the ShuffleNetV2 and ResNet18 stand-ins on the imagenette images. Prints a Markdown row per run.
"""
import json
import os
import shutil
import sys
from argparse import Namespace
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from benchmarks.frontier import halves, score, write_challenge  # noqa: E402

ASSETS = REPO.parent / "shared" / "assets"
SETUPS = {
    "mnv2": Namespace(model="mobilenet_v2", weights=str(ASSETS / "weights/mobilenet_v2-b0353104.pth"), weights_dir=None,
                      classes=None, data=str(ASSETS / "imagenet/val"), limit=None),
    "res": Namespace(model="resnet18", weights=str(ASSETS / "weights/standins/resnet18-imagenette10.pth"), weights_dir=None,
                     classes=str(ASSETS / "imagenette10/wnids.txt"), data=str(ASSETS / "imagenette10"), limit=None),
    "shuf": Namespace(model="shufflenet_v2_x1_0", weights=str(ASSETS / "weights/standins/shufflenet_v2_x1_0-imagenette10.pth"),
                      weights_dir=None, classes=str(ASSETS / "imagenette10/wnids.txt"), data=str(ASSETS / "imagenette10"),
                      limit=None),
}


def main(runs: Path, names: list[str]) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    configs = {}
    for name in names:
        setup = name.split("-")[0]
        if setup not in configs:
            configs[setup] = write_challenge(SETUPS[setup], runs / f"scoring-{setup}")
        run_dir = runs / "scored" / name
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(runs / f"{name}.txt", run_dir / "output.txt")
        shutil.copy(runs / f"{name}.command", run_dir / "command.txt")
        result = score(run_dir, runs / f"{name}.safetensors", configs[setup], env)
        result["halves"] = halves(run_dir / "output.txt", configs[setup])
        (run_dir / "result.json").write_text(json.dumps(result, indent=1) + "\n")
        if "error" in result:
            print(f"| {name} | {result['error']} |", flush=True)
            continue
        print(f"| {name} | {result['compression']:.2f} | {result['top1']:.2f} | {result['halves'][0]:.2f} / "
              f"{result['halves'][1]:.2f} | {result['verified_agree']}/{result['verified']} |", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
