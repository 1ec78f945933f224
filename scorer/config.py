"""The challenge rules: one dataclass with defaults, overridden by a TOML file.

    [challenge]
    models = ["resnet18", "mobilenet_v2", "shufflenet_v2_x1_0"]
    num_classes = 1000
    ground_truth = "ground_truth.csv"     # file,index CSV; paths relative to this TOML
    images = "val"                        # only needed for verification

    [rules]
    min_compression = 25.0                # percent; entries at or below it are not ranked
    ...

Every key is optional; an unknown key is an error (a typo must not silently keep a default).
Relative paths are resolved against the folder of the TOML file.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from challenge.errors import KitError

DEFAULT_MODELS = ("resnet18", "mobilenet_v2", "shufflenet_v2_x1_0")


@dataclass(frozen=True)
class ZipLimits:
    """What an uploaded zip may hold. Generous for real submissions, fatal for bombs."""

    max_zip_bytes: int = 512 * 2**20
    max_members: int = 5000
    max_total_bytes: int = 1024 * 2**20  # uncompressed, all members together
    max_member_bytes: int = 512 * 2**20
    max_ratio: float = 200.0  # uncompressed/compressed, for members over ratio_floor_bytes
    ratio_floor_bytes: int = 2**20  # tiny members compress absurdly well and harm nobody
    max_path_chars: int = 400
    max_output_lines: int = 3_000_000


@dataclass(frozen=True)
class Verification:
    """Re-run each artifact with the kit's exact reference runtime and compare with output.txt."""

    # Images re-evaluated per model. -1 = all: the accuracy that ranks is then computed from
    # the artifact's own predictions, and output.txt is only a cross-check. N > 0 = a sample of
    # N, checked against output.txt, whose accuracy then ranks (a few edited lines can pass).
    # 0 = off (output.txt's accuracy, unchecked).
    sample: int = -1
    # Predictions per model that may differ from output.txt before the submission is rejected.
    # The reference runtime computes on the integers and gives the same predictions on every
    # device, so an honest output.txt differs on none (layers kept in float are the exception:
    # they are not bit-reproducible across devices).
    max_differences: int = 0
    seed: int = 0
    batch_size: int = 32
    # How artifacts are re-evaluated (challenge/runtimes.py): "reference", the kit's exact runtime
    # (what main.py evaluates with, so output.txt matches it image for image), or "onnxruntime",
    # the artifact exported to ONNX and run with ONNX Runtime's integer kernels, which differs
    # from the reference on a few images in a thousand: allow for them in max_differences.
    runtime: str = "reference"
    # The kit's decoded-image cache folder (challenge/image_cache.py), e.g. the one main.py and
    # run.bash filled; empty: decode the images in memory in each process. Changes no score.
    cache_dir: str = ""


@dataclass(frozen=True)
class Limits:
    """Work allowed to one submission in its worker process; over either, it is rejected."""

    # Wall-clock seconds, enforced by the parent (which kills the worker), and the same number
    # of CPU seconds as the worker's RLIMIT_CPU. Full verification of 50,000 images costs about
    # 2.5 CPU hours per submission (three models, one thread), hence the generous default.
    seconds: float = 4 * 3600.0
    # Address space (RLIMIT_AS) a submission may add to the worker's own after start-up.
    memory_mb: int = 4096


@dataclass(frozen=True)
class Legacy2021:
    """The 2021 baseline wrote `In (MB): <size>` then bare labels, per model, no paths."""

    image_order: str = ""  # text file, one relative image path per line, in the order evaluated
    model_order: tuple[str, ...] = DEFAULT_MODELS
    bytes_per_mb: int = 2**20
    # 2021 zips had no artifacts. Off: they must add models/<model>.safetensors like everyone else.
    trust_declared_size: bool = False


@dataclass(frozen=True)
class Rules:
    models: tuple[str, ...] = DEFAULT_MODELS
    num_classes: int = 1000
    ground_truth: str = ""
    images: str = ""
    min_compression: float = 25.0  # percent
    min_accuracy: float | None = None  # percent, on the figure that ranks
    accuracy_precision: float = 0.1  # percent
    compression_precision: float = 0.1  # percent
    rounding: str = "round"  # or "floor": how figures are cut to their precision
    combine: str = "mean"  # how per-model figures make the submission's (see ranking.COMBINERS)
    tie_break: str = "earliest"  # the only one defined: the earlier upload wins
    submissions_per_day: int = 0  # per team and UTC day; 0 = no limit
    private_fraction: float = 0.0  # share of images scored but hidden until revealed
    split_seed: str = "dfq"
    revealed: bool = False
    workers: int = 2  # scoring processes, each with `limits`; 0 = score in the scorer's own process, unlimited
    limits: Limits = field(default_factory=Limits)
    zip: ZipLimits = field(default_factory=ZipLimits)
    verify: Verification = field(default_factory=Verification)
    legacy2021: Legacy2021 = field(default_factory=Legacy2021)

    def fingerprint(self) -> str:
        """A short hash of the rules that change scores, stored with each result."""
        values = dataclasses.asdict(self)
        values["verify"].pop("cache_dir")  # where decoded images are kept changes no score
        text = json.dumps(values, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


_SECTIONS = {"zip": ZipLimits, "verify": Verification, "limits": Limits, "legacy2021": Legacy2021}
_PATH_KEYS = {"ground_truth", "images", "image_order", "cache_dir"}
# Top-level TOML tables whose keys land directly on Rules.
_FLAT_TABLES = ("challenge", "rules")


def _coerce(cls, values: dict, where: str, base: Path):
    known = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            raise KitError(f"config [{where}]: unknown key {key!r}; known keys: {', '.join(sorted(known))}")
        default = getattr(cls(), key)
        if isinstance(default, tuple):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise KitError(f"config [{where}] {key}: expected a list of strings, got {value!r}")
            value = tuple(value)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise KitError(f"config [{where}] {key}: expected true or false, got {value!r}")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise KitError(f"config [{where}] {key}: expected an integer, got {value!r}")
        elif isinstance(default, float) or (default is None and key.startswith("min_")):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise KitError(f"config [{where}] {key}: expected a number, got {value!r}")
            value = float(value)
        elif key in _PATH_KEYS and isinstance(value, str) and value:
            value = str((base / value).resolve())
        kwargs[key] = value
    return cls(**kwargs)


def load_rules(path: str | Path | None, **overrides) -> Rules:
    """Rules from a TOML file (defaults for what it leaves out), then keyword overrides."""
    values: dict = {}
    nested: dict = {}
    base = Path.cwd()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise KitError(f"config file {path} not found; pass --config with the challenge TOML")
        base = path.resolve().parent
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise KitError(f"config file {path} is not valid TOML: {error}") from None
        for table, content in data.items():
            if table in _FLAT_TABLES and isinstance(content, dict):
                values.update(content)
            elif table in _SECTIONS and isinstance(content, dict):
                nested[table] = _coerce(_SECTIONS[table], content, table, base)
            else:
                raise KitError(f"config {path}: unknown table [{table}]; use "
                               f"{', '.join(_FLAT_TABLES + tuple(_SECTIONS))}")
    rules = _coerce(Rules, {k: v for k, v in values.items() if k not in _SECTIONS}, "rules", base)
    rules = dataclasses.replace(rules, **nested, **{k: v for k, v in overrides.items() if v is not None})
    _check(rules)
    return rules


def _check(rules: Rules) -> None:
    if not rules.models:
        raise KitError("config: models is empty; list the models every submission must quantize")
    if rules.rounding not in ("round", "floor"):
        raise KitError(f"config: rounding = {rules.rounding!r}; use 'round' or 'floor'")
    if rules.tie_break != "earliest":
        raise KitError(f"config: tie_break = {rules.tie_break!r}; only 'earliest' is defined")
    if not 0.0 <= rules.private_fraction < 1.0:
        raise KitError(f"config: private_fraction = {rules.private_fraction}; use a value in [0, 1)")
    for name in ("accuracy_precision", "compression_precision"):
        if getattr(rules, name) <= 0:
            raise KitError(f"config: {name} must be positive")
    if rules.num_classes < 1:
        raise KitError("config: num_classes must be at least 1")
    if rules.workers < 0:
        raise KitError("config: workers must be 0 (score in the scorer's process) or more")
    if rules.limits.seconds <= 0 or rules.limits.memory_mb <= 0:
        raise KitError("config [limits]: seconds and memory_mb must be positive")
    if rules.verify.sample < -1 or rules.verify.max_differences < 0:
        raise KitError("config [verify]: sample must be -1 (all), 0 (off) or a count; max_differences at least 0")
    from challenge.runtimes import list_runtimes

    if rules.verify.runtime not in list_runtimes():
        raise KitError(f"config [verify]: runtime = {rules.verify.runtime!r}; use one of {', '.join(list_runtimes())}")
