"""What one model's run will do, as plain data: built once from the command line (cli.py) and
handed to the stages (runner.py), each reading only its part.

    plan = model_plans(parse_args(argv))[0]
    plan.generation      # the generate stage's: generator spec, its arguments, samples, seed
    plan.search          # the search stage's (None without --target-compression)

The dictionaries (keyword arguments) are read, never changed, by the stages.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .names import DEFAULT_METHOD
from .runtimes import DEFAULT_RUNTIME


@dataclass(frozen=True)
class GenerationPlan:
    """The calibration data: `spec` (a registered name or path/to/file.py:function) is resolved
    by the entry point, which hands the generator down; the rest is passed to it."""

    spec: str = "gaussian"
    kwargs: dict = field(default_factory=dict)  # --gen-arg
    num_samples: int | None = None  # None: the generator's own default
    batch_size: int | None = None
    seed: int = 0
    reuse_in: Path | None = None  # --reuse-synthetic: the folder its images are kept in and read back from

    def arguments(self) -> dict:
        """The generator's keyword arguments besides the model, classes, input shape and seed:
        --num-samples and --batch-size override a --gen-arg of the same name."""
        kwargs = dict(self.kwargs)
        if self.num_samples is not None:
            kwargs["num_samples"] = self.num_samples
        if self.batch_size is not None:
            kwargs["batch_size"] = self.batch_size
        return kwargs


@dataclass(frozen=True)
class SearchPlan:
    target: float  # --target-compression
    kwargs: dict = field(default_factory=dict)  # --search-arg, as given


@dataclass(frozen=True)
class ModelPlan:
    model: str
    data: str | None = None
    weights: str | None = None
    weights_dir: str | None = None
    classes: str | None = None
    scheme: str = "int8"
    generation: GenerationPlan = field(default_factory=GenerationPlan)
    method: str = DEFAULT_METHOD
    method_kwargs: dict = field(default_factory=dict)
    layer_config: str | None = None
    search: SearchPlan | None = None
    device: str = "auto"
    seed: int = 0
    eval_batch_size: int | None = None
    workers: int | None = None
    limit: int | None = None
    cache_dir: str | None = None
    no_cache: bool = False
    runtime: str = DEFAULT_RUNTIME
    artifact: Path | None = None  # --save-model, or --save-dir/<model>.safetensors
    export_onnx: str | None = None
    check_processes: int | None = None
    list_layers: bool = False
    command: str = "python main.py"  # the command line, recorded in the search's report
