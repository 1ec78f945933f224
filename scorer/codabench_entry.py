"""The command in the bundle's metadata.yaml: check the docker image has what the scorer imports,
install what it lacks, then score (scorer/codabench_score.py).

Standard library only until the check has passed: a public PyTorch image has torch, torchvision,
numpy and Pillow, but not safetensors or pandas, and without this a missing one would end the
run with a traceback instead of a line that says what to do.
"""
from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile

# import name -> what pip installs (the kit's requirements.txt that the scorer needs)
NEEDED = {"torch": "torch", "torchvision": "torchvision", "numpy": "numpy", "PIL": "pillow",
          "pandas": "pandas", "safetensors": "safetensors", "progress": "progress"}


def missing() -> list[str]:
    return [pip for module, pip in NEEDED.items() if importlib.util.find_spec(module) is None]


def install(packages: list[str]) -> str:
    """pip-install into a temporary folder put first on sys.path; '' when it worked, else why not."""
    target = tempfile.mkdtemp(prefix="dfq-deps-")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "--target", target, *packages], capture_output=True, text=True)
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or ["pip failed"])[-1]
    sys.path.insert(0, target)
    importlib.invalidate_caches()
    return ""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scorer.codabench_entry", description=__doc__.splitlines()[0])
    parser.add_argument("--ref", required=True, help="the reference data: $input/ref on Codabench")
    parser.add_argument("--res", required=True, help="the submission: $input/res")
    parser.add_argument("--out", required=True, help="where scores.json and detailed_results.html go: $output")
    args = parser.parse_args(argv)
    lacking = missing()
    if lacking:
        print(f"note: installing {', '.join(lacking)}, which the docker image lacks", file=sys.stderr)
        why = install(lacking)
        if why or missing():
            print(f"error: the docker image lacks {', '.join(lacking)} and pip could not install them ({why}); "
                  "use an image with the kit's requirements.txt installed (bundle --docker-image)", file=sys.stderr)
            return 2
    from challenge.errors import run_cli

    from .codabench_score import main as score

    return run_cli(lambda _: score(args.ref, args.res, args.out))


if __name__ == "__main__":
    sys.exit(main())
