"""main.py under torchrun (CPU, gloo): rank 0's output.txt and artifact are the single-process ones."""
import sys

import pytest
import torch

from challenge import distributed
from challenge.errors import KitError
from tests.test_entry_points import SMALL, assert_one_line_error, run, standin_args

TORCHRUN = (sys.executable, "-m", "torch.distributed.run", "--standalone")


@pytest.mark.parametrize("count,size", [(10, 2), (7, 3), (3, 3)])
def test_shards_cover_the_canonical_order_once(count, size):
    parts = [distributed.shard(count, distributed.World(rank, size)) for rank in range(size)]
    assert [i for part in parts for i in part] == list(range(count)) and all(len(p) >= 1 for p in parts)


def test_more_processes_than_images_is_a_user_error():
    with pytest.raises(KitError, match="3 processes for 2 images"):
        distributed.check_shardable(2, 3)


def test_two_gloo_processes_write_the_single_process_output(tmp_path):
    args = ["--model", "shufflenet_v2_x1_0", *standin_args(), *SMALL, "--limit", "10"]
    single = run([*args, "--no-cache", "--save-dir", str(tmp_path / "one")])
    double = run([*args, "--cache-dir", str(tmp_path / "cache"), "--save-dir", str(tmp_path / "two")],
                 script=(*TORCHRUN, "--nproc-per-node", "2", "main.py"),
                 env={"DFQ_SINGLE_PROCESS_THREADS": str(torch.get_num_threads())})  # as run.bash sets it
    assert single.returncode == 0, single.stderr
    assert double.returncode == 0, double.stderr
    assert double.stdout == single.stdout and double.stdout.count("\n") == 11
    assert "2 processes" in double.stderr and double.stderr.count(": top-1 ") == 1
    name = "shufflenet_v2_x1_0.safetensors"
    assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()


def test_run_bash_refuses_more_processes_than_images():
    result = run([*standin_args(), *SMALL, "--limit", "2", "--nproc-per-node", "3"], script=("bash", "run.bash"))
    assert_one_line_error(result, "3 processes for 2 images")
