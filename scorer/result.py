"""What scoring one submission produces: plain dataclasses, passed from worker processes to the DB."""
from __future__ import annotations

from dataclasses import dataclass, field

SCORED, INVALID = "scored", "invalid"


@dataclass
class ModelResult:
    model: str
    accuracy: float  # percent, all images
    accuracy_public: float  # percent, public part (= accuracy when there is no private part)
    accuracy_private: float | None  # percent, private part; None when there is none
    compression: float  # percent, recomputed from the artifact
    quantized_bytes: int  # the scorer's own size accounting
    fp32_bytes: int
    declared_quantized_bytes: int  # what output.txt's header claimed
    verified: int = 0  # images re-evaluated from the artifact
    disagreements: int = 0  # of those, predictions that differ from output.txt


@dataclass
class Result:
    status: str  # SCORED or INVALID
    error: str = ""  # why it is invalid: one line for the participant
    notes: list[str] = field(default_factory=list)  # reported, not fatal (e.g. a header that disagrees)
    models: list[ModelResult] = field(default_factory=list)
    seconds: float = 0.0

    @classmethod
    def invalid(cls, error: str, notes: list[str] | None = None) -> "Result":
        return cls(INVALID, error=error, notes=notes or [])
