"""Quantize a model without real data, evaluate it, write its output.txt section to stdout.

    python main.py --model resnet18 --data $IMAGENET_VAL > resnet18.txt
    python main.py --model resnet18,mobilenet_v2 ...              (in turn, one process)
    torchrun --nproc-per-node 2 main.py --model resnet18 ...     (rank 0 writes the section)

See `python main.py --help` and README.md. run.bash runs the three models.
"""
import sys

import synth
from challenge import distributed, generation
from challenge.cli import model_plans, parse_args
from challenge.errors import run_cli
from challenge.runner import run


def run_all(argv=None, stdout=None) -> list:
    """Every model of the command line in turn; a runner.ModelRun each (None on ranks other than
    0, or with --list-layers / --check-processes), whose `.seconds` say where the time went."""
    plans = model_plans(parse_args(argv), argv)
    # The generator is resolved here, above the kit (challenge/ never imports synth/), and
    # checked with its settings before the first model's run.
    generator = synth.get_generator(plans[0].generation.spec)
    generation.check(generator, plans[0].generation)
    with distributed.session(plans[0].device):  # a process group only under torchrun with several processes
        return [run(plan, generator, stdout or sys.stdout) for plan in plans]


def main(argv=None) -> int:
    run_all(argv)
    return 0


if __name__ == "__main__":
    # Under torchrun every rank meets the same user errors and rank 0 alone says them; an error
    # in one rank's own images is said by that rank.
    sys.exit(run_cli(main, quiet=lambda error: not distributed.is_said_here(error)))
