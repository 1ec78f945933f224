"""Quantize a model without real data, evaluate it, write its output.txt section to stdout.

    python main.py --model resnet18 --data $IMAGENET_VAL > resnet18.txt
    python main.py --model resnet18,mobilenet_v2 ...              (in turn, one process)
    torchrun --nproc-per-node 2 main.py --model resnet18 ...     (rank 0 writes the section)

See `python main.py --help` and README.md. run.bash runs the three models.
"""
import os
import sys

from challenge.cli import model_plans, parse_args
from challenge.errors import run_cli


def run_all(argv=None, stdout=None) -> list:
    """Every model of the command line in turn; a runner.ModelRun each (None on ranks other than
    0, or with --list-layers / --check-processes), whose `.seconds` say where the time went."""
    plans = model_plans(parse_args(argv), argv)  # before torch loads: a mistake is said at once
    import synth
    from challenge import distributed, generation
    from challenge.runner import run

    # The generator is resolved here, above the kit (challenge/ never imports synth/), and
    # checked with its settings before the first model's run.
    generator = synth.get_generator(plans[0].generation.spec)
    generation.check(generator, plans[0].generation)
    with distributed.session(plans[0].device):  # a process group only under torchrun with several processes
        return [run(plan, generator, stdout or sys.stdout) for plan in plans]


def main(argv=None) -> int:
    run_all(argv)
    return 0


def said_here(error) -> bool:
    """Under torchrun every rank meets the same user errors and rank 0 alone says them; an error
    in one rank's own images is said by that rank. Alone, this process says them all (without
    loading torch, for a mistake met before it)."""
    if os.environ.get("WORLD_SIZE", "1") == "1":
        return True
    from challenge import distributed

    return distributed.is_said_here(error)


if __name__ == "__main__":
    sys.exit(run_cli(main, quiet=lambda error: not said_here(error)))
