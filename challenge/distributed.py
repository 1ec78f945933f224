"""Several processes under torchrun: one calibration, evaluation sharded, one output.txt.

    torchrun --nproc-per-node N main.py ...     (or: bash run.bash --nproc-per-node N ...)

torchrun sets WORLD_SIZE, RANK and LOCAL_RANK. Rank 0 calibrates and writes the artifact; its bytes
are broadcast and every other rank rebuilds the model from them (artifact.load_artifact gives
exactly the saved model's predictions), so all ranks evaluate the same model. Each rank
evaluates a contiguous shard of the canonical order; the classes are gathered on rank 0, which
alone writes output.txt and the artifact, so the file is the single-process one byte for byte.
Backend gloo on the CPU, nccl on CUDA with one GPU per LOCAL_RANK.

When one rank does work the others need (calibration, building the image cache), it broadcasts
whether it succeeded: a user error on rank 0 ends every rank with that error, never a hang.
Rank 0 alone prints the errors every rank meets; a rank prints an error of its own shard (a
corrupt image with --no-cache), and challenge/launch.py exits with its code.
"""
from __future__ import annotations

import contextlib
import datetime
import os
import sys
import time
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .errors import EXIT_PEER_LOST, KitError, QuietExit, RelayedError, ShardError, one_line

# Rank 0 may calibrate for a long time (brecq: minutes) while the others wait in a broadcast.
WAIT = datetime.timedelta(hours=4)


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.size > 1


def world_from_env() -> World:
    try:
        return World(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                     int(os.environ.get("LOCAL_RANK", 0)))
    except ValueError:
        raise KitError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (torchrun sets them)") from None


def current() -> World:
    """This process's place: the initialized process group's, else a world of one."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), world_from_env().local_rank)
    return World()


def uses_cuda(device_option: str) -> bool:
    return device_option == "cuda" or (device_option == "auto" and torch.cuda.is_available())


@contextlib.contextmanager
def session(device_option: str = "auto"):
    """A process group for the life of the run when launched by torchrun with several processes."""
    world = world_from_env()
    if not world.is_distributed:
        yield world
        return
    cuda = uses_cuda(device_option) and torch.cuda.is_available()
    if cuda:
        if world.local_rank >= torch.cuda.device_count():  # only this rank knows: it says so
            raise ShardError(too_many_for_the_gpus(world.size))
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group("nccl" if cuda else "gloo", timeout=WAIT)
    try:
        yield world
    finally:
        dist.destroy_process_group()


THREADS_ENV = "DFQ_SINGLE_PROCESS_THREADS"


@contextlib.contextmanager
def single_process_threads(world: World):
    """Rank 0 calibrates with the CPU thread count of a single-process run.

    torchrun sets OMP_NUM_THREADS=1, and float calibration's last bits depend on the number of
    threads (another summation split), so the artifact would differ from the single-process one
    and, on a large set, a prediction with it. run.bash puts a single process's count in
    $DFQ_SINGLE_PROCESS_THREADS; a direct torchrun user may set it too. Evaluation under the
    exact runtime does not depend on it."""
    wanted = os.environ.get(THREADS_ENV)
    if not (world.is_distributed and wanted and wanted.isdigit() and int(wanted) > 0):
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(wanted))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def local_device(device: torch.device, world: World) -> torch.device:
    """One GPU per process on a host: cuda:LOCAL_RANK."""
    if device.type == "cuda" and world.is_distributed:
        return torch.device("cuda", world.local_rank)
    return device


def shard(count: int, world: World) -> range:
    """This rank's contiguous part of `count` items; ranks in order cover them in order."""
    return range(count * world.rank // world.size, count * (world.rank + 1) // world.size)


def too_many_for_the_gpus(processes: int) -> str:
    return (f"{processes} processes per node but {torch.cuda.device_count()} GPU(s): use at most one "
            "process per GPU (--nproc-per-node)")


def check_processes(processes: int, device_option: str) -> None:
    """What run.bash --nproc-per-node checks before it launches: one GPU per process on CUDA."""
    if processes > 1 and uses_cuda(device_option) and torch.cuda.is_available() \
            and processes > torch.cuda.device_count():
        raise KitError(too_many_for_the_gpus(processes))


def check_shardable(count: int, processes: int) -> None:
    if processes > count:
        raise KitError(f"{processes} processes for {count} images: each process needs at least one; "
                       "use fewer processes (--nproc-per-node) or more images")


# How long a process that lost a peer waits before it ends: the launcher records the processes
# that have ended when it sees the first one, and the cause (the peer, with its exit code 2 for
# a user error) must be among them. The launcher ends the waiting ones itself.
PEER_LOST_WAIT_S = 10.0
# What gloo and NCCL say when the other end of a collective has gone (gloo raises a plain
# RuntimeError; torch's own errors are DistError).
PEER_LOST_SIGNS = ("closed by peer", "reset by peer", "broken pipe", "connection refused", "aborted")


def _lost_peer(error: RuntimeError) -> bool:
    return isinstance(error, dist.DistError) or any(sign in str(error).lower() for sign in PEER_LOST_SIGNS)


@contextlib.contextmanager
def _peers(world: World):
    """A collective that fails because another process has ended (its own error or crash,
    which that process reports) ends this one too, with EXIT_PEER_LOST. Usually the launcher
    stops it first, quietly; one still running after PEER_LOST_WAIT_S says what it saw."""
    try:
        yield
    except RuntimeError as error:
        if not _lost_peer(error):
            raise
        time.sleep(PEER_LOST_WAIT_S)
        print(f"error: process {world.rank} of {world.size} lost another process ({one_line(error)})",
              file=sys.stderr, flush=True)
        raise QuietExit(EXIT_PEER_LOST) from None


def _broadcast(value, world: World):
    box = [value]
    with _peers(world):
        dist.broadcast_object_list(box, src=0)
    return box[0]


def from_main(world: World, work=None, share=None):
    """`work()` on rank 0 (its result returned there); `share(result)` (default: the result itself,
    plain data: bytes, str, numbers) returned on every other rank, which passes no `work`."""
    if not world.is_distributed:
        return work()
    if world.is_main:
        try:
            result = work()
        except KitError as error:
            _broadcast(("error", str(error)), world)
            raise
        except BaseException:
            _broadcast(("bug", None), world)
            raise
        _broadcast(("ok", share(result) if share else result), world)
        return result
    status, value = _broadcast(None, world)
    if status == "error":
        raise RelayedError(value)
    if status == "bug":
        raise RuntimeError("rank 0 failed; its traceback is above")
    return value


def is_said_here(error: KitError) -> bool:
    """Whether this process prints `error` under torchrun: every rank meets the same mistakes in
    the options and files, and rank 0 says those; an error in a rank's own shard, that rank."""
    return world_from_env().is_main or isinstance(error, ShardError)


@contextlib.contextmanager
def own_errors(world: World):
    """A user error raised here on a rank other than 0 is that rank's own (see is_said_here)."""
    try:
        yield
    except (RelayedError, ShardError):
        raise
    except KitError as error:
        if world.is_main or not world.is_distributed:
            raise
        raise ShardError(f"process {world.rank} of {world.size}: {one_line(error)}") from None


def main_first(world: World, work):
    """`work()` on rank 0, then on the other ranks once it succeeded (rank 0 fills a cache they read)."""
    if world.is_main:
        return from_main(world, work, share=lambda _: None)
    from_main(world)
    return work()


def gather_to_main(items: list, world: World) -> list | None:
    """Every rank's list, concatenated in rank order, on rank 0 (None elsewhere)."""
    if not world.is_distributed:
        return items
    everyone = [None] * world.size
    with _peers(world):
        dist.all_gather_object(everyone, items)
    return [item for part in everyone for item in part] if world.is_main else None
