"""Quantize a model without real data, evaluate it, write its output.txt section to stdout.

    python main.py --model resnet18 --data $IMAGENET_VAL > resnet18.txt
    python main.py --model resnet18,mobilenet_v2 ...              (in turn, one process)
    torchrun --nproc-per-node 2 main.py --model resnet18 ...     (rank 0 writes the section)

See `python main.py --help` and README.md. run.bash runs the three models.
"""
import sys

from challenge import distributed
from challenge.cli import model_runs, parse_args
from challenge.errors import run_cli
from challenge.runner import run


def main(argv=None) -> int:
    args = parse_args(argv)
    runs = model_runs(args)
    with distributed.session(args.device):  # a process group only under torchrun with several processes
        for model_args in runs:
            run(model_args)
    return 0


if __name__ == "__main__":
    # Under torchrun every rank meets the same user errors and rank 0 alone says them; an error
    # in one rank's own images is said by that rank.
    sys.exit(run_cli(main, quiet=lambda error: not distributed.is_said_here(error)))
