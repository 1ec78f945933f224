"""The one exception type for mistakes a person can fix (bad names, files, inputs).

Entry points turn a KitError into one line on stderr and exit code 2; any other
exception is a bug and keeps its traceback.
"""
import sys


class KitError(Exception):
    """A user error: the message says what is wrong and what to do."""


EXIT_USER_ERROR = 2


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


def run_cli(main, argv=None, quiet: bool = False) -> int:
    """Run `main(argv)`; a KitError becomes `error: <line>` on stderr (unless `quiet`) and exit code 2."""
    try:
        return main(argv) or 0
    except KitError as error:
        if not quiet:
            print(f"error: {one_line(error)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
