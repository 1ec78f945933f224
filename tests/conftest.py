"""Shared fixtures: the real assets in ../shared/assets (tests skip with the reason when absent)."""
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO.parent / "shared" / "assets"
STANDINS = ASSETS / "weights" / "standins"
IMAGENETTE = ASSETS / "imagenette10"
IMAGENET_VAL = ASSETS / "imagenet" / "val"


@pytest.fixture(autouse=True, scope="session")
def _image_cache_in_a_temporary_folder(tmp_path_factory):
    """main.py caches decoded images (challenge/image_cache.py): never in the user's ~/.cache from a test."""
    import os

    previous = os.environ.get("DFQ_CACHE_DIR")
    os.environ["DFQ_CACHE_DIR"] = str(tmp_path_factory.mktemp("dfq-cache"))
    yield
    if previous is None:
        os.environ.pop("DFQ_CACHE_DIR", None)
    else:
        os.environ["DFQ_CACHE_DIR"] = previous


def require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs {path} (the shared assets, see ../shared/assets/MANIFEST.md); not present here")
    return path


@pytest.fixture
def standins() -> Path:
    return require(STANDINS)


@pytest.fixture
def imagenette() -> Path:
    return require(IMAGENETTE)


@pytest.fixture
def small_tree(tmp_path, imagenette) -> Path:
    """Six real JPEGs of three classes, copied so that a test may change them."""
    import shutil

    root = tmp_path / "images"
    for folder in sorted(p for p in imagenette.iterdir() if p.is_dir())[:3]:
        (root / folder.name).mkdir(parents=True)
        for image in sorted(folder.iterdir())[:2]:
            shutil.copy(image, root / folder.name / image.name)
    return root


@pytest.fixture
def mobilenet_weights() -> Path:
    return require(ASSETS / "weights" / "mobilenet_v2-b0353104.pth")


def make_weights_dir(folder: Path) -> Path:
    """A --weights-dir holding the real MobileNetV2 checkpoint and the two stand-ins."""
    folder.mkdir()
    mobilenet = require(ASSETS / "weights" / "mobilenet_v2-b0353104.pth")
    for source in [mobilenet, *sorted(require(STANDINS).glob("*.pth"))]:
        (folder / source.name).symlink_to(source)
    return folder


@pytest.fixture
def weights_dir(tmp_path) -> Path:
    return make_weights_dir(tmp_path / "weights")


@pytest.fixture(scope="session")
def trained_resnet18():
    """The ResNet18 stand-in with its real BatchNorm statistics, in eval mode on CPU."""
    import torch
    import torchvision

    path = require(STANDINS / "resnet18-imagenette10.pth")
    model = torchvision.models.resnet18(num_classes=10)
    model.load_state_dict(torch.load(path, weights_only=True, map_location="cpu"))
    return model.eval()


@pytest.fixture(scope="session")
def shufflenet_alone(tmp_path_factory):
    """main.py on ShuffleNetV2 and the stand-ins' first six images (test_entry_points' SMALL) and
    the artifact it saved: the run that run.bash's and torchrun's are compared with, made once."""
    from tests.test_entry_points import SMALL, run, standin_args

    artifact = tmp_path_factory.mktemp("alone") / "s.safetensors"
    return run(["--model", "shufflenet_v2_x1_0", *standin_args(), *SMALL, "--save-model", str(artifact)]), artifact


def finished(process: subprocess.Popen) -> subprocess.CompletedProcess:
    try:
        stdout, stderr = process.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def all_finished(running: dict) -> dict:
    """name -> finished(process) for processes started side by side; after a timeout, the others
    are ended too (none is left running behind the test)."""
    try:
        return {name: finished(process) for name, process in running.items()}
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.wait()


def side_by_side(commands: list[list[str]]) -> list[subprocess.CompletedProcess]:
    """Run the commands at once from the repository and wait for them all: command-line checks
    whose processes mostly import torch take half the time on two cores."""
    running = {i: subprocess.Popen(c, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for i, c in enumerate(commands)}
    return list(all_finished(running).values())


def counting_backend():
    """A torch.compile backend that runs each graph Dynamo traces as it is and keeps it, and the
    list it keeps them in: how tests count compilations without compiling (seconds each on a GPU)."""
    graphs = []

    def counting(graph_module, example_inputs):
        graphs.append(graph_module)
        return graph_module.forward

    return counting, graphs
