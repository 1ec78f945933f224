"""The benchmark's results: one JSON file (every number, plus device and versions) and one
Markdown table, rewritten after each row; and the merge of runs on disjoint parts of a folder."""
from __future__ import annotations

import json
from pathlib import Path

from challenge.errors import KitError


def merge(files: list[str]) -> tuple[dict, list[dict]]:
    """Rows of runs on disjoint parts of the images, summed into one row per configuration.

    Counts of correct images add up; times and rates are means over the parts; a configuration
    whose quantized model differs between parts (another artifact sha256) is refused, since its
    parts would not measure one model."""
    runs = [json.loads(Path(f).read_text()) for f in files]
    merged: dict[tuple, dict] = {}
    for run in runs:
        for row in run["rows"]:
            key = (row["model"], row["generator"], row["scheme"], row.get("method", "rtn"))
            correct = round(row["top1"] * row["images"] / 100)
            fp32_correct = round(row["fp32_top1"] * row["images"] / 100)
            if key not in merged:
                merged[key] = dict(row, parts=0, correct=0, fp32_correct=0, images=0)
            total = merged[key]
            if total["artifact_sha256"] != row["artifact_sha256"]:
                raise KitError(f"{key}: the parts quantized different models ({total['artifact_sha256'][:12]} vs "
                               f"{row['artifact_sha256'][:12]}); generation is not reproducible across runs")
            total["parts"] += 1
            total["images"] += row["images"]
            total["correct"] += correct
            total["fp32_correct"] += fp32_correct
            for field in ("generation_seconds", "calibration_seconds", "reconstruction_seconds",
                          "eval_images_per_second"):
                value, mean = row.get(field, 0.0), total.get(field, 0.0)
                total[field] = mean + ((value - mean) / total["parts"] if total["parts"] > 1 else 0)
    rows = []
    for total in merged.values():
        total["top1"] = 100 * total["correct"] / total["images"]
        total["fp32_top1"] = 100 * total["fp32_correct"] / total["images"]
        total["gap"] = total["top1"] - total["fp32_top1"]
        rows.append(total)
    return runs[0]["environment"], rows



def markdown(env: dict, rows: list[dict]) -> str:
    lines = [f"Device: {env.get('gpu', 'CPU')} ({env['device']}); torch {env['torch']}, "
             f"torchvision {env['torchvision']}, Python {env['python']}.", "",
             "| model | scheme | generator | method | images | FP32 top-1 | top-1 | gap | compression % "
             "| generation s | calibration s | reconstruction s | eval img/s | peak MiB (gen / method) |",
             "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    order = sorted(rows, key=lambda r: (r["model"], r["scheme"], r["reference"], r["generator"],
                                        r.get("method", "rtn")))
    for r in order:
        name = f"{r['generator']} (reference)" if r["reference"] else r["generator"]
        fp32, top1, gap = ((f"{r['fp32_top1']:.2f}", f"{r['top1']:.2f}", f"{r['gap']:+.2f}")
                           if r.get("top1") is not None else ("-", "-", "-"))
        lines.append(f"| {r['model']} | {r['scheme']} | {name} | {r.get('method', 'rtn')} | {r.get('images', '-')} | "
                     f"{fp32} | {top1} | {gap} | {r['compression']:.2f} | "
                     f"{r['generation_seconds']:.1f} | {r['calibration_seconds']:.1f} | "
                     f"{r.get('reconstruction_seconds', 0.0):.1f} | {r.get('eval_images_per_second', 0):.0f} | "
                     f"{r['generation_peak_mib']:.0f} / {r.get('method_peak_mib', 0.0):.0f} |")
    return "\n".join(lines) + "\n"


def write(out: Path, env: dict, rows: list[dict]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "generators.json").write_text(json.dumps({"environment": env, "rows": rows}, indent=2) + "\n")
    (out / "generators.md").write_text(markdown(env, rows))
