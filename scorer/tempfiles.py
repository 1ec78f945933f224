"""The scorer's temporary folders: named after the process that owns them, so the next run can
remove what a killed one left behind (a SIGKILL runs no cleanup), and never a live scorer's.

    dfq-submission-<pid>-<random>     in tempfile.gettempdir()
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

PREFIX = "dfq-submission-"


def prefix() -> str:
    return f"{PREFIX}{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale(folder: str | Path | None = None) -> int:
    """Remove the `dfq-submission-<pid>-*` folders whose process is gone; return how many."""
    folder = Path(folder or tempfile.gettempdir())
    removed = 0
    for path in folder.glob(f"{PREFIX}*"):
        owner = path.name[len(PREFIX):].split("-", 1)[0]
        if not owner.isdigit() or not path.is_dir() or path.is_symlink():
            continue  # not ours to judge (an older name without a pid, or not a folder)
        if int(owner) != os.getpid() and not _alive(int(owner)):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed
