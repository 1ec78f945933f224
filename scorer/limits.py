"""Bounded work per submission: resource limits inside a scoring worker, and their reasons.

A worker sets, before each submission, RLIMIT_CPU to its CPU time so far plus `seconds` (the
limit is per process, and a worker scores many submissions), and RLIMIT_AS to its address space
after start-up (libraries, the decoded images) plus `memory_mb`; after the submission it lifts
both. An allocation over the limit fails inside the worker (MemoryError, or torch's allocator
refusing), and the submission is rejected for it; past the CPU limit the kernel ends the worker
with SIGXCPU. The parent also kills a worker past `seconds` of wall-clock time, so that nothing
(a hang in a library, a sleep) escapes the CPU limit.
"""
from __future__ import annotations

import math
import resource
import signal

from .config import Limits

_BAD_ALLOC = ("can't allocate memory", "cannot allocate memory", "not enough memory", "out of memory",
              "std::bad_alloc")


def memory_reason(limits: Limits) -> str:
    return f"the submission needs more than the {limits.memory_mb} MB of memory the scorer allows each submission"


def time_reason(limits: Limits) -> str:
    return f"scoring the submission took longer than the {limits.seconds:g} s the scorer allows each submission"


def is_allocation_failure(error: BaseException) -> bool:
    if isinstance(error, MemoryError):
        return True
    return isinstance(error, RuntimeError) and any(text in str(error).lower() for text in _BAD_ALLOC)


def death_reason(exitcode: int | None, limits: Limits) -> str | None:
    """Why a worker that died took its submission with it, when a limit explains it; else None."""
    if exitcode == -signal.SIGXCPU:
        return time_reason(limits) + " (CPU time)"
    return None


def _address_space() -> int:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[0]) * resource.getpagesize()


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def apply(limits: Limits, cpu: bool = True) -> None:
    """Limits for the next submission, counted from what this process has used so far. `cpu=False`:
    the memory limit only (Codabench's scoring program, whose run the worker times itself)."""
    if cpu:
        cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        seconds = math.ceil(_cpu_seconds() + limits.seconds)
        resource.setrlimit(resource.RLIMIT_CPU, (seconds if cpu_hard == resource.RLIM_INFINITY
                                                 else min(seconds, cpu_hard), cpu_hard))
    memory_hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    memory = _address_space() + limits.memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (memory if memory_hard == resource.RLIM_INFINITY else
                                            min(memory, memory_hard), memory_hard))


def lift() -> None:
    """Back to the hard limits (unlimited unless the organizer's shell set some)."""
    for which in (resource.RLIMIT_CPU, resource.RLIMIT_AS):
        hard = resource.getrlimit(which)[1]
        resource.setrlimit(which, (hard, hard))


def no_core_dumps() -> None:
    """A worker killed by SIGXCPU would otherwise write a core file the size of its memory."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
