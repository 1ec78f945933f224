"""Quantize one model without real data, evaluate it, write its output.txt section to stdout.

    python main.py --model resnet18 --data $IMAGENET_VAL > resnet18.txt

See `python main.py --help` and README.md. run.bash runs the three models.
"""
import sys

from challenge.cli import parse_args
from challenge.errors import run_cli
from challenge.runner import run


def main(argv=None) -> int:
    run(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
