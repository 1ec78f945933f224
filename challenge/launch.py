"""torchrun for run.bash: PyTorch's launcher, with a failed run reported the way the kit reports one.

    python -m challenge.launch --nproc-per-node N main.py ARGS     (what run.bash --nproc-per-node runs)

torch.distributed.run logs a child's failure and raises ChildFailedError, whose traceback and
report follow the child's own `error: ...` line. Here the launcher stays quiet: a user error
(exit code 2) is the child's one line, and the launcher exits with that code; any other failure
keeps the child's traceback above and adds one line saying which process failed.
"""
from __future__ import annotations

import logging
import sys

from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.run import parse_args, run

from .errors import EXIT_PEER_LOST, EXIT_USER_ERROR


def _silence_launcher_logs() -> None:
    """The launcher's own log lines (its OMP_NUM_THREADS notice, its failure report) would
    surround the child's error line. torch gives its loggers levels and handlers of their own,
    so each is raised above CRITICAL here, in the launcher's process only."""
    for name in list(logging.root.manager.loggerDict):
        if name == "torch" or name.startswith("torch."):
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)


def exit_code(failures: dict[int, int]) -> tuple[int, int | None]:
    """(the launcher's exit code, the rank to name) from each failed rank's exit code. A user
    error (2) wins: its rank has said it in one line. Then a crash (another positive code),
    then a process killed by a signal (negative: the launcher's own stops, or the kernel's
    out-of-memory killer). A rank that stopped because another had ended (EXIT_PEER_LOST)
    is the cause only when nothing else is there."""
    if EXIT_USER_ERROR in failures.values():
        return EXIT_USER_ERROR, None
    for chosen in ({r: c for r, c in failures.items() if c > 0 and c != EXIT_PEER_LOST},
                   {r: c for r, c in failures.items() if c < 0}, failures):
        if chosen:
            rank = min(chosen)
            return (chosen[rank] if chosen[rank] > 0 else 1), rank
    return 1, None


def main(argv=None) -> int:
    args = parse_args(["--standalone", *(sys.argv[1:] if argv is None else argv)])
    _silence_launcher_logs()
    try:
        run(args)
    except ChildFailedError as error:
        failures = {rank: failure.exitcode for rank, failure in error.failures.items()}
        code, rank = exit_code(failures)
        if rank is not None:
            print(f"error: process {rank} of {args.nproc_per_node} failed (exit code {failures[rank]}); "
                  "its output is above", file=sys.stderr)
        return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
