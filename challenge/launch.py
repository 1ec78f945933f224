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
    """(the launcher's exit code, the rank to name) from each failed rank's exit code. A rank
    that stopped because another had ended (EXIT_PEER_LOST) or that the launcher killed (a
    negative code) is not the cause; a user error wins over a crash."""
    causes = {rank: code for rank, code in failures.items() if code > 0 and code != EXIT_PEER_LOST}
    if EXIT_USER_ERROR in causes.values():
        return EXIT_USER_ERROR, None  # the rank has said it in one line
    if causes:
        rank = min(causes)
        return causes[rank], rank
    return 1, min(failures) if failures else None  # only processes that followed another


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
