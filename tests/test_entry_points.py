"""main.py and run.bash as a participant runs them: real processes, real assets."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from challenge.output_format import parse
from tests.conftest import IMAGENETTE, STANDINS, all_finished, finished, require, side_by_side

REPO = Path(__file__).resolve().parents[1]
SMALL = ["--limit", "6", "--num-samples", "4", "--batch-size", "4", "--workers", "0", "--device", "cpu"]


def start(args, cwd=REPO, env=None, script=(sys.executable, "main.py")) -> subprocess.Popen:
    # This interpreter, not whichever `python` is first on PATH: the tests must pass from a
    # virtual environment that is not activated. run.bash reads it from $PYTHON.
    environment = dict(os.environ, PYTHON=sys.executable, **(env or {}))
    environment.pop("IMAGENET_VAL", None) if "IMAGENET_VAL" not in (env or {}) else None
    return subprocess.Popen([*script, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=environment)


def run(args, cwd=REPO, env=None, script=(sys.executable, "main.py")):
    return finished(start(args, cwd, env, script))


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    # Progress logs may come before it; the error is one line, the last, with no traceback.
    assert len(errors) == 1 and lines[-1] == errors[0] and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def standin_args():
    return ["--data", str(require(IMAGENETTE)), "--classes", str(IMAGENETTE / "wnids.txt"),
            "--weights-dir", str(require(STANDINS))]


def _refused_commands(folder: Path) -> dict:
    """The commands of the tests below that end in an error (test -> start()'s arguments), with
    their files in `folder`; those that need the shared assets only where they are present (their
    tests skip without them)."""
    bash = {"script": ("bash", "run.bash")}
    commands = {
        "unknown_model": {"args": ["--model", "vgg16", "--data", "."]},
        "unknown_generator": {"args": ["--model", "resnet18", "--generator", "magic"]},
        "unknown_scheme": {"args": ["--model", "resnet18", "--scheme", "int3"]},
        "abbreviated_options": {"args": ["--mod", "resnet18"], **bash},
        "run_bash_stops": {"args": ["--scheme", "nope"], **bash},
    }
    if STANDINS.is_dir():
        weights_dir = ["--weights-dir", str(STANDINS)]
        commands["missing_data_folder"] = {"args": ["--model", "resnet18", *weights_dir, "--data", "/no/such/folder"]}
        commands["no_data_folder"] = {"args": ["--model", "resnet18", *weights_dir]}
        if IMAGENETTE.is_dir():
            classes = ["--classes", str(IMAGENETTE / "wnids.txt")]
            data = ["--data", str(IMAGENETTE), *classes]
            commands["missing_weights"] = {"args": ["--model", "resnet18", *data],
                                           "env": {"TORCH_HOME": str(folder), "https_proxy": "http://127.0.0.1:9"}}
            other = STANDINS / "shufflenet_v2_x1_0-imagenette10.pth"
            commands["other_architecture"] = {"args": ["--model", "resnet18", *data, "--weights", str(other)]}
            commands["several_models"] = {"args": ["--model", "resnet18,resnet81", *data, *weights_dir, *SMALL]}
            commands["reuse_without_cache"] = {"args": [*REUSE[:-2], *data, *weights_dir, *SMALL, "--no-cache"]}
            # A class folder not in the list; a JPEG cut short, decoded in this process or in workers.
            unknown_class = folder / "unknown-class"
            shutil.copytree(IMAGENETTE / "n01440764", unknown_class / "n01440764")
            (unknown_class / "n99999999").mkdir()
            commands["class_folder"] = {"args": ["--model", "resnet18", "--data", str(unknown_class), *classes,
                                                 *weights_dir, *SMALL]}
            for workers in ("0", "2"):
                corrupt = folder / f"corrupt-{workers}"
                shutil.copytree(IMAGENETTE / "n01440764", corrupt / "n01440764")
                first = sorted((corrupt / "n01440764").iterdir())[0]
                first.write_bytes(first.read_bytes()[:200])
                args = ["--model", "resnet18", "--data", str(corrupt), *classes, *weights_dir, *SMALL]
                args[args.index("--workers") + 1] = workers
                commands[f"corrupt_jpeg_{workers}"] = {"args": args}
    return commands


@pytest.fixture(scope="module")
def refused(tmp_path_factory) -> dict:
    """The results of _refused_commands, all started at once on first use: each process mostly
    imports torch, so side by side they take half the time on two cores."""
    commands = _refused_commands(tmp_path_factory.mktemp("refused"))
    return all_finished({test: start(**command) for test, command in commands.items()})


def test_unknown_model(refused):
    assert_one_line_error(refused["unknown_model"], "unknown model 'vgg16'", "resnet18")


def test_option_mistakes_and_help_come_before_torch_loads(tmp_path):
    """--help and a mistake in the options are answered without loading torch (in a third of a
    second, not after seconds of imports): here a `torch` that cannot be imported stands in front."""
    fake = tmp_path / "no-torch" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('main.py loaded torch before checking its options')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake.parent), os.environ.get("PYTHONPATH", "")])}
    main = [sys.executable, "main.py"]
    helped = subprocess.run([*main, "--help"], cwd=REPO, capture_output=True, text=True, env=env)
    assert helped.returncode == 0 and "--target-compression" in helped.stdout, helped.stderr
    for args, expected in ((["--model", "vgg16"], "unknown model 'vgg16'"),
                           (["--model", "resnet18,resnet18"], "names a model twice"),
                           (["--model", "resnet18", "--reuse-synthetic", "--no-cache"], "--reuse-synthetic"),
                           (["--model", "resnet18", "--method-arg", "iterations=2"], "--method-arg needs --method")):
        assert_one_line_error(subprocess.run([*main, *args], cwd=REPO, capture_output=True, text=True, env=env),
                              expected)
    # and the fake does stop a run that gets past the options (the test would prove nothing otherwise)
    past = subprocess.run([*main, "--model", "resnet18"], cwd=REPO, capture_output=True, text=True, env=env)
    assert past.returncode != 0 and "main.py loaded torch" in past.stderr


def test_unknown_generator(refused):
    assert_one_line_error(refused["unknown_generator"], "unknown generator 'magic'", "gaussian")


def test_unknown_scheme(refused):
    assert_one_line_error(refused["unknown_scheme"], "unknown scheme 'int3'", "int8")


def test_missing_data_folder(refused):
    require(STANDINS)
    assert_one_line_error(refused["missing_data_folder"], "data folder '/no/such/folder' does not exist")


def test_no_data_folder_at_all(refused):
    require(STANDINS)
    assert_one_line_error(refused["no_data_folder"], "IMAGENET_VAL")


def test_class_folder_not_in_the_list(refused):
    require(IMAGENETTE), require(STANDINS)
    assert_one_line_error(refused["class_folder"], "n99999999", "not in the model's class list")


@pytest.mark.parametrize("workers", ["0", "2"])
def test_corrupt_jpeg(refused, workers):
    first = sorted((require(IMAGENETTE) / "n01440764").iterdir())[0]  # the one cut short
    require(STANDINS)
    assert_one_line_error(refused[f"corrupt_jpeg_{workers}"], "cannot read image", first.name)


def test_bad_generator_settings():
    """A --gen-arg whose type does not fit the generator's default, or a batch larger than the
    samples: one line, before any heavy work (run side by side: each process mostly imports torch)."""
    cases = {
        "a generator batch of 16 (--batch-size) is larger than the 8 calibration samples (--num-samples)":
            ["--num-samples", "8", "--batch-size", "16"],
        "larger than the 1000 calibration samples (generator 'gaussian''s default)": ["--batch-size", "2000"],
        "--gen-arg iterations=2.5: generator 'zeroq' takes a whole number": [
            "--generator", "zeroq", "--gen-arg", "iterations=2.5"],
        "--gen-arg lr='fast': generator 'zeroq' takes a number": ["--generator", "zeroq", "--gen-arg", "lr=fast"],
    }
    listing = [sys.executable, "main.py", "--model", "resnet18", "--weights", str(require(STANDINS) /
               "resnet18-imagenette10.pth"), "--list-layers"]  # beside them: the names a layer config matches
    *results, listed = side_by_side([*([sys.executable, "main.py", "--model", "resnet18", *args]
                                       for args in cases.values()), listing])
    for expected, result in zip(cases, results):
        assert_one_line_error(result, expected)
    assert listed.returncode == 0 and listed.stdout == "", listed.stderr
    assert listed.stderr.splitlines()[:2] == ["conv1", "layer1.0.conv1"] and "fc" in listed.stderr.splitlines()


def test_missing_weights_without_network(refused):
    require(IMAGENETTE), require(STANDINS)
    assert_one_line_error(refused["missing_weights"], "resnet18-f37072fd.pth", "--weights")


def test_checkpoint_of_another_architecture(refused):
    require(IMAGENETTE), require(STANDINS)
    assert_one_line_error(refused["other_architecture"], "does not fit the resnet18 architecture")


def test_main_writes_only_output_and_is_deterministic(tmp_path, shufflenet_alone):
    first, artifact = shufflenet_alone
    again = tmp_path / "s.safetensors"
    second = run(["--model", "shufflenet_v2_x1_0", *standin_args(), *SMALL, "--save-model", str(again)])
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    (section,) = parse(first.stdout.encode())
    assert section.model == "shufflenet_v2_x1_0" and section.num_images == 6
    # Where the time went: one line, every stage that ran, in order (runner.ModelRun.seconds).
    (line,) = [line for line in first.stderr.splitlines() if line.startswith("shufflenet_v2_x1_0: seconds: ")]
    stages = [part.rsplit(" ", 1)[0] for part in line.split(": seconds: ")[1].split("; ")[0].split(", ")]
    assert stages == ["setup", "generate", "prepare", "calibrate", "round", "save", "images", "evaluate"], line
    assert artifact.is_file() and again.read_bytes() == artifact.read_bytes()


# The reuse test's arguments but the data, weights and sizes, and its cache folder (given last).
REUSE = ["--model", "shufflenet_v2_x1_0", "--generator", "zeroq", "--gen-arg", "iterations=2", "--reuse-synthetic",
         "--cache-dir", None]


def test_reused_synthetic_images_give_the_same_output(tmp_path, refused):
    """--reuse-synthetic: the first run keeps ZeroQ's images, the second reads them back instead of
    generating (the log says which) and writes the same output.txt; with --no-cache, one line
    (that run is among the refusals, side by side)."""
    args = [*REUSE[:-2], *standin_args(), *SMALL, "--cache-dir", str(tmp_path)]
    first, second = run(args), run(args)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "synthetic images kept for reuse" in first.stderr and "synthetic images reused from" in second.stderr
    assert first.stdout == second.stdout and len(list((tmp_path / "synthetic").iterdir())) == 1
    assert_one_line_error(refused["reuse_without_cache"], "--reuse-synthetic", "--no-cache")


def test_participant_generator_file(tmp_path):
    own = tmp_path / "mine.py"
    # Decorated, as the README shows: the kit must import the file once, not register it twice.
    own.write_text("import torch\nfrom synth import register_generator\n\n@register_generator('mine')\ndef noise(model, *, num_classes, input_shape, num_samples=4, batch_size=2, seed=0):\n"
                   "    for _ in range(0, num_samples, batch_size):\n        yield torch.rand(batch_size, *input_shape)\n")
    result = run(["--model", "resnet18", *standin_args(), *SMALL, "--generator", f"{own}:noise"])
    assert result.returncode == 0, result.stderr
    assert parse(result.stdout.encode())[0].generator == f"{own}:noise"


def test_run_bash_writes_all_three_models(tmp_path, weights_dir, shufflenet_alone):
    result = run([*standin_args()[:4], "--weights-dir", str(weights_dir), *SMALL, "--save-dir", str(tmp_path)],
                 script=("bash", "run.bash"))
    assert result.returncode == 0, result.stderr
    sections = parse(result.stdout.encode())
    assert [s.model for s in sections] == ["resnet18", "mobilenet_v2", "shufflenet_v2_x1_0"]
    assert sorted(p.name for p in tmp_path.glob("*.safetensors")) == [
        "mobilenet_v2.safetensors", "resnet18.safetensors", "shufflenet_v2_x1_0.safetensors"]
    # The three run in one process; the last must not depend on the two before it (the same
    # checkpoint file as in weights_dir, main.py alone).
    alone, artifact = shufflenet_alone
    assert alone.returncode == 0, alone.stderr
    assert result.stdout.endswith(alone.stdout)
    assert artifact.read_bytes() == (tmp_path / "shufflenet_v2_x1_0.safetensors").read_bytes()


@pytest.mark.parametrize("extra,fragment", [
    (["--model", "resnet18,resnet81"], "unknown model 'resnet81'"),  # before the first model runs
    (["--model", "resnet18,resnet18"], "names a model twice"),
    (["--model", "resnet18,shufflenet_v2_x1_0", "--save-model", "m.safetensors"], "--save-model names one file"),
    (["--model", "resnet18,shufflenet_v2_x1_0", "--weights", "w.pth"], "--weights names one file")])
def test_several_models_are_checked_together(extra, fragment):
    """In-process (main.py's own parsing, no interpreter start): what several models refuse."""
    from challenge.cli import model_plans, parse_args
    from challenge.errors import KitError

    with pytest.raises(KitError, match=fragment):
        model_plans(parse_args([*extra, "--data", "unused"]))


def test_several_models_in_one_process_are_one_error_line(refused):
    require(IMAGENETTE), require(STANDINS)
    assert_one_line_error(refused["several_models"], "unknown model 'resnet81'")


def test_abbreviated_options_cannot_slip_past_run_bash(refused):
    result = refused["abbreviated_options"]
    assert result.returncode == 2 and "unrecognized arguments: --mod" in result.stderr


def test_run_bash_stops_at_the_first_error(refused):
    result = refused["run_bash_stops"]
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("error:") == 1


@pytest.mark.parametrize("generator, extra", [
    ("zeroq", ["--gen-arg", "iterations=3"]),
    ("gdfq", ["--gen-arg", "iterations=3", "--gen-arg", "train_batch_size=2"]),
    ("real-images", ["--gen-arg", f"root={IMAGENETTE / 'n01440764'}"]),
    ("genie", ["--gen-arg", "iterations=1"]),
])
def test_every_generator_through_main(generator, extra):
    """Generators run lazily inside the kit's calibration loop: the whole path, not just the generator."""
    result = run(["--model", "shufflenet_v2_x1_0", *standin_args(), *SMALL, "--generator", generator, *extra])
    assert result.returncode == 0, result.stderr
    assert parse(result.stdout.encode())[0].generator == generator


def test_every_registered_generator_has_an_entry_point_test():
    import synth

    tested = {"gaussian", "zeroq", "gdfq", "real-images", "genie"}
    assert set(synth.list_generators()) <= tested, "add the new generator to test_every_generator_through_main"
