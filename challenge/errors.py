"""The one exception type for mistakes a person can fix (bad names, files, inputs).

Entry points turn a KitError into one line on stderr and exit code 2; any other
exception is a bug and keeps its traceback.
"""
import sys


class KitError(Exception):
    """A user error: the message says what is wrong and what to do."""


class RelayedError(KitError):
    """Under torchrun: rank 0's user error, received by another rank (rank 0 says it)."""


class ShardError(KitError):
    """Under torchrun: a user error met by one rank alone, in its own part of the images (that
    rank says it)."""


EXIT_USER_ERROR = 2
EXIT_PEER_LOST = 3  # under torchrun: another process ended first (it says why)


class QuietExit(Exception):
    """Ends the process with exit code `code` and nothing printed: another process says why."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def one_line(error: BaseException) -> str:
    """The single line to show for a user error.

    A KitError raised inside a DataLoader worker comes back re-wrapped with the
    worker's traceback in its message; the last line holds the original text.
    """
    text = str(error).strip()
    if "Traceback" in text:
        last = text.splitlines()[-1]
        prefix = f"{KitError.__module__}.{KitError.__name__}: "
        text = last[len(prefix):] if last.startswith(prefix) else last
    return " ".join(text.split())


def run_cli(main, argv=None, quiet=False) -> int:
    """Run `main(argv)`; a KitError becomes `error: <line>` on stderr and exit code 2. `quiet`
    (a bool, or a function of the error) keeps the line back: another process says it."""
    try:
        return main(argv) or 0
    except KitError as error:
        if not (quiet(error) if callable(quiet) else quiet):
            print(f"error: {one_line(error)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except QuietExit as done:
        return done.code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
