"""The ranking rules, as plain functions over data frames of stored results.

Figures are combined and ranked here, not at scoring time, so a change of combination,
precision, thresholds or daily limit needs no rescoring; only a change of ground truth or
verification does.

Order: compression (at its precision) first, then accuracy (at its precision), then the
earlier upload. Entries at or below the minimum compression, under the minimum accuracy or
past the team's daily allowance are not ranked and are listed apart with the reason, as are
invalid submissions. Each team keeps its best ranked entry.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import numpy as np
import pandas as pd

from challenge.errors import KitError

from .config import Rules

_COMBINERS: dict[str, Callable[[np.ndarray], float]] = {}


def register_combiner(name: str):
    """Decorator: how per-model figures (one row per submission) combine into one."""

    def decorate(fn):
        if name in _COMBINERS:
            raise ValueError(f"combiner {name!r} is already registered")
        _COMBINERS[name] = fn
        return fn

    return decorate


@register_combiner("mean")
def _mean(values: np.ndarray) -> np.ndarray:
    return values.mean(axis=1)


@register_combiner("min")
def _min(values: np.ndarray) -> np.ndarray:
    return values.min(axis=1)


@register_combiner("median")
def _median(values: np.ndarray) -> np.ndarray:
    return np.median(values, axis=1)


def list_combiners() -> list[str]:
    return sorted(_COMBINERS)


def quantize(values, precision: float, rounding: str) -> np.ndarray:
    """Cut figures to their precision, as integers of `precision` units (exact to compare).

    The 1e-9 guards against 72.3 / 0.1 = 722.9999999 flooring to 722 (and 72.35 rounding down).
    """
    units = np.asarray(values, dtype=float) / precision
    return np.floor(units + 1e-9) if rounding == "floor" else np.floor(units + 0.5 + 1e-9)


def _decimals(precision: float) -> int:
    return max(0, -int(math.floor(math.log10(precision) + 1e-9)))


def utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Standings:
    ranked: pd.DataFrame  # one row per team, best first
    rejected: pd.DataFrame  # team, id, submitted, file, reason
    revealed: bool
    # Every submission, oldest first: team, id, submitted, compression, accuracy (combined, at
    # their precision; empty when not scored), outcome ("best", "ranked", or why it is not).
    history: pd.DataFrame | None = None


def _per_model(scores: pd.DataFrame, column: str, models: tuple[str, ...]) -> pd.DataFrame:
    return scores.pivot(index="submission_id", columns="model", values=column).reindex(columns=list(models))


def standings(submissions: pd.DataFrame, scores: pd.DataFrame, rules: Rules, revealed: bool | None = None) -> Standings:
    revealed = rules.revealed if revealed is None else revealed
    hidden_split = rules.private_fraction > 0
    accuracy_column = "accuracy_private" if (revealed and hidden_split) else "accuracy_public"
    models = rules.models
    subs = submissions.set_index("id")
    rejected: list[dict] = []

    def reject(row_id, reason):
        row = subs.loc[row_id]
        rejected.append({"team": row.team, "id": int(row_id), "submitted": utc(row.submitted_at),
                         "file": row.path, "reason": reason})

    for row_id, row in subs[subs.status == "invalid"].iterrows():
        reject(row_id, row.error)
    scored = subs[subs.status == "scored"]
    accuracy = _per_model(scores, accuracy_column, models).reindex(scored.index)
    compression = _per_model(scores, "compression", models).reindex(scored.index)
    incomplete = accuracy.isna().any(axis=1) | compression.isna().any(axis=1)
    for row_id in scored.index[incomplete]:
        lacking = [m for m in models if pd.isna(accuracy.loc[row_id, m]) or pd.isna(compression.loc[row_id, m])]
        reject(row_id, f"no figures for {', '.join(lacking)} under the current rules; rescore")
    scored, accuracy, compression = scored[~incomplete], accuracy[~incomplete], compression[~incomplete]

    if rules.combine not in _COMBINERS:
        raise KitError(f"config: combine = {rules.combine!r}; use one of {', '.join(list_combiners())}")
    combine = _COMBINERS[rules.combine]
    table = pd.DataFrame({
        "team": scored.team, "id": scored.index.astype(int), "submitted_at": scored.submitted_at,
        "compression": combine(compression.to_numpy()) if len(scored) else [],
        "accuracy": combine(accuracy.to_numpy()) if len(scored) else [],
    }, index=scored.index.rename(None))
    table["compression_units"] = quantize(table.compression, rules.compression_precision, rules.rounding)
    table["accuracy_units"] = quantize(table.accuracy, rules.accuracy_precision, rules.rounding)

    keep = pd.Series(True, index=table.index)
    if rules.submissions_per_day > 0 and len(table):
        day = pd.to_datetime(table.submitted_at, unit="s", utc=True).dt.strftime("%Y-%m-%d")
        order = table.assign(day=day).sort_values(["submitted_at", "id"])
        nth = order.groupby(["team", "day"]).cumcount()
        for row_id in nth[nth >= rules.submissions_per_day].index:
            keep[row_id] = False
            reject(row_id, f"over the daily allowance of {rules.submissions_per_day} scored submissions per team")
    min_units = quantize([rules.min_compression], rules.compression_precision, rules.rounding)[0]
    for row_id in table.index[keep & (table.compression_units <= min_units)]:
        keep[row_id] = False
        shown = table.compression_units[row_id] * rules.compression_precision
        reject(row_id, f"compression {shown:.{_decimals(rules.compression_precision)}f}% is at or below "
                       f"the minimum {rules.min_compression}%")
    if rules.min_accuracy is not None:
        min_acc = quantize([rules.min_accuracy], rules.accuracy_precision, rules.rounding)[0]
        for row_id in table.index[keep & (table.accuracy_units < min_acc)]:
            keep[row_id] = False
            reject(row_id, f"accuracy is below the minimum {rules.min_accuracy}%")

    ranked = table[keep].sort_values(["compression_units", "accuracy_units", "submitted_at", "id"],
                                     ascending=[False, False, True, True])
    ranked = ranked.drop_duplicates("team", keep="first").reset_index(drop=True)
    out = pd.DataFrame({
        "rank": np.arange(1, len(ranked) + 1), "team": ranked.team,
        "compression": ranked.compression_units * rules.compression_precision,
        "accuracy": ranked.accuracy_units * rules.accuracy_precision,
    })
    out["compression"] = out.compression.round(_decimals(rules.compression_precision))
    out["accuracy"] = out.accuracy.round(_decimals(rules.accuracy_precision))
    for model in models:
        out[f"{model} compression"] = compression.loc[ranked.id, model].round(2).to_numpy()
        out[f"{model} accuracy"] = accuracy.loc[ranked.id, model].round(2).to_numpy()
    if revealed and hidden_split:
        public = _per_model(scores, "accuracy_public", models).loc[ranked.id]
        out["public accuracy"] = np.round(combine(public.to_numpy()), 2) if len(ranked) else []
    out["submission"] = ranked.id.to_numpy()
    out["submitted"] = [utc(t) for t in ranked.submitted_at]
    rejected_frame = pd.DataFrame(rejected, columns=["team", "id", "submitted", "file", "reason"])
    history = _history(subs, table, rules, set(ranked.id), rejected_frame)
    return Standings(out, rejected_frame.sort_values(["team", "id"]).reset_index(drop=True), revealed, history)


def _history(subs: pd.DataFrame, table: pd.DataFrame, rules: Rules, best: set, rejected: pd.DataFrame) -> pd.DataFrame:
    """Each team's submissions in upload order, with the figures that rank and what became of each."""
    reasons = dict(zip(rejected.id, rejected.reason))
    rows = []
    for row_id, row in subs.sort_values(["submitted_at"]).iterrows():
        scored = row_id in table.index
        rows.append({
            "team": row.team, "id": int(row_id), "submitted": utc(row.submitted_at),
            "compression": round(table.compression_units[row_id] * rules.compression_precision,
                                 _decimals(rules.compression_precision)) if scored else np.nan,
            "accuracy": round(table.accuracy_units[row_id] * rules.accuracy_precision,
                              _decimals(rules.accuracy_precision)) if scored else np.nan,
            "outcome": ("best" if row_id in best else reasons.get(int(row_id), "ranked, not the team's best")
                        if row.status in ("scored", "invalid") else "waiting to be scored"),
        })
    return pd.DataFrame(rows, columns=["team", "id", "submitted", "compression", "accuracy", "outcome"])
