"""main.py under torchrun (CPU, gloo): rank 0's output.txt and artifact are the single-process ones."""
import sys

import pytest
import torch

from challenge import distributed
from challenge.errors import KitError
from tests.conftest import all_finished, make_weights_dir
from tests.test_entry_points import SMALL, assert_one_line_error, run, standin_args, start

TORCHRUN = (sys.executable, "-m", "torch.distributed.run", "--standalone")
LAUNCH = (sys.executable, "-m", "challenge.launch", "--nproc-per-node", "2", "main.py")  # what run.bash starts


@pytest.mark.parametrize("count,size", [(10, 2), (7, 3), (3, 3)])
def test_shards_cover_the_canonical_order_once(count, size):
    parts = [distributed.shard(count, distributed.World(rank, size)) for rank in range(size)]
    assert [i for part in parts for i in part] == list(range(count)) and all(len(p) >= 1 for p in parts)


def test_more_processes_than_images_is_a_user_error():
    with pytest.raises(KitError, match="3 processes for 2 images"):
        distributed.check_shardable(2, 3)


def test_two_gloo_processes_write_the_single_process_output(tmp_path, shufflenet_alone):
    single, artifact = shufflenet_alone  # main.py in one process, on the same six images
    double = run(["--model", "shufflenet_v2_x1_0", *standin_args(), *SMALL, "--cache-dir", str(tmp_path / "cache"),
                  "--save-dir", str(tmp_path / "two")],
                 script=(*TORCHRUN, "--nproc-per-node", "2", "main.py"),
                 env={"DFQ_SINGLE_PROCESS_THREADS": str(torch.get_num_threads())})  # as run.bash sets it
    assert single.returncode == 0, single.stderr
    assert double.returncode == 0, double.stderr
    assert double.stdout == single.stdout and double.stdout.count("\n") == 7
    assert "2 processes" in double.stderr and double.stderr.count(": top-1 ") == 1
    assert (tmp_path / "two" / "shufflenet_v2_x1_0.safetensors").read_bytes() == artifact.read_bytes()


def _tree_with_a_corrupt_last_image(root):
    """Four images of one class; the last in canonical order (process 1's part of 4) is cut short."""
    import shutil

    from tests.conftest import IMAGENETTE, require

    folder = root / "n01440764"
    folder.mkdir(parents=True)
    for source in sorted((require(IMAGENETTE) / "n01440764").iterdir())[:4]:
        shutil.copyfile(source, folder / source.name)
    last = sorted(folder.iterdir())[-1]
    last.write_bytes(last.read_bytes()[:200])
    return last


@pytest.fixture(scope="module")
def refused(tmp_path_factory):
    """The refusals of the three tests below, started together (their processes mostly import
    torch), and the image cut short: name -> result."""
    folder = tmp_path_factory.mktemp("refused")
    weights = ["--weights-dir", str(make_weights_dir(folder / "weights"))]
    last = _tree_with_a_corrupt_last_image(folder / "data")
    commands = {
        "too_many_processes": ([*standin_args(), *SMALL, "--limit", "2", "--nproc-per-node", "3"],
                               ("bash", "run.bash")),
        "own_images": (["--model", "resnet18", "--data", str(folder / "data"), *standin_args()[2:4], *weights, *SMALL,
                        "--limit", "4", "--no-cache"], LAUNCH),
        "calibrating": (["--model", "resnet18", *standin_args()[:4], *weights, *SMALL, "--limit", "4",
                         "--gen-arg", "nonsense=1"], LAUNCH),
    }
    return all_finished({name: start(args, script=script) for name, (args, script) in commands.items()}), last


def test_run_bash_refuses_more_processes_than_images(refused):
    results, _ = refused
    assert_one_line_error(results["too_many_processes"], "3 processes for 2 images")


def test_an_error_in_one_process_s_own_images_is_its_one_line(refused):
    """Only process 1 decodes the bad file (--no-cache): it says so; process 0, left waiting in
    the gather, ends quietly; the launcher adds nothing and exits 2."""
    results, last = refused
    assert_one_line_error(results["own_images"], "process 1 of 2", "cannot read image", last.name)


def test_an_error_only_the_calibrating_process_meets_is_one_line(refused):
    """A wrong generator argument shows only when process 0 generates: every process ends, one line."""
    results, _ = refused
    assert_one_line_error(results["calibrating"], "rejected its arguments")


@pytest.mark.parametrize("failures,expected", [
    ({0: 3, 1: 2}, (2, None)), ({1: 2}, (2, None)), ({0: -15, 1: 2}, (2, None)),
    ({0: 3, 1: 1}, (1, 1)), ({0: 1, 1: -15}, (1, 0)), ({0: 3, 1: -9}, (1, 1)), ({0: 3}, (3, 0))])
def test_the_launcher_reports_the_cause_not_the_processes_that_followed(failures, expected):
    from challenge.launch import exit_code

    assert exit_code(failures) == expected
