"""main.py with the decoded-image cache: the same output.txt as decoding, hits on the second run."""
import pytest

from challenge.output_format import parse
from tests.conftest import all_finished
from tests.test_entry_points import SMALL, assert_one_line_error, run, standin_args, start


def test_cached_run_writes_the_output_of_a_decoding_run(tmp_path):
    args = ["--model", "resnet18", *standin_args(), *SMALL, "--limit", "24"]
    pair = all_finished({"decoding": start([*args, "--no-cache"]),
                         "cold": start([*args, "--cache-dir", str(tmp_path)])})  # side by side
    decoding, cold = pair["decoding"], pair["cold"]
    warm = run([*args, "--cache-dir", str(tmp_path)])  # after the cold run: its hits
    for result in (decoding, cold, warm):
        assert result.returncode == 0, result.stderr
    assert cold.stdout == warm.stdout == decoding.stdout and parse(cold.stdout.encode())[0].num_images == 24
    assert "image cache miss" in cold.stderr and "image cache hit" in warm.stderr
    assert f"({4096 + 24 * 150528 + 16} bytes, 24 images, " in warm.stderr
    assert "image cache" not in decoding.stderr and len(list(tmp_path.iterdir())) == 1


@pytest.fixture(scope="module")
def refused(tmp_path_factory):
    """The two refusals below, started together (each process mostly imports torch)."""
    blocker = tmp_path_factory.mktemp("cache") / "file"
    blocker.write_text("")
    args = ["--model", "resnet18", *standin_args(), *SMALL]
    return all_finished({"unwritable": start([*args, "--cache-dir", str(blocker / "c")]),
                         "both": start([*args, "--cache-dir", "x", "--no-cache"])})


def test_unwritable_cache_folder(refused):
    assert_one_line_error(refused["unwritable"], "not writable", "--no-cache")


def test_cache_dir_and_no_cache_together(refused):
    assert_one_line_error(refused["both"], "not both")
