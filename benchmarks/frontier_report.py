"""What benchmarks/frontier.py writes: the table (Markdown), the rows (JSON) and the plot (PNG) of
compression against verified top-1, the best method's curve beside round to nearest's.

The search's forecast (its `.prediction.json`: total sensitivity, and the KL and top-1 agreement
with FP32 of the chosen widths on the synthetic samples) sits in the same row as what the scorer
measured, so a reader sees how far the prediction went.
"""
from __future__ import annotations

import json
import platform
from pathlib import Path

CURVES = {"best": "tab:blue", "rtn": "tab:orange"}


def _cell(value, fmt: str = "{:.2f}") -> str:
    return "" if value is None else fmt.format(value)


def rows(runs) -> list[dict]:
    fp32 = next((r.result.get("top1") for r in runs if r.curve == "fp32"), None)
    table = []
    for run in runs:
        if run.curve == "fp32":
            continue
        result, predicted = run.result, run.result.get("predicted", {})
        top1 = result.get("top1")
        table.append({
            "label": run.label, "curve": run.curve, "scheme": run.scheme, "target": run.target,
            "compression": result.get("compression"), "quantized_bytes": result.get("quantized_bytes"),
            "top1": top1, "gap": None if top1 is None or fp32 is None else round(top1 - fp32, 2),
            "halves": result.get("halves"),
            "verified": result.get("verified"), "verified_agree": result.get("verified_agree"),
            "main_top1": result.get("main_top1"), "seconds": result.get("seconds"),
            "predicted_compression": predicted.get("compression"), "bits_per_weight": predicted.get("bits_per_weight"),
            "predicted_sensitivity": predicted.get("sensitivity"), "proxy": predicted.get("proxy"),
            "predicted_kl": predicted.get("joint_kl"), "predicted_agreement": predicted.get("agreement"),
            "error": result.get("error")})
    return table


def markdown(table: list[dict], fp32: float | None, args, command: str, fp32_halves=None) -> str:
    halves = f" (halves {fp32_halves[0]:.2f} / {fp32_halves[1]:.2f})" if fp32_halves else ""
    lines = [f"# Frontier: {args.model}, widths searched under {args.scheme}, generator {args.generator}", "",
             f"FP32 top-1 on these images: {_cell(fp32)}%{halves}. Top-1 and compression are the scorer's "
             "(`python -m scorer pack`, then `check --verify`: the artifact re-evaluated on every image). "
             "Predicted: the search's own forecast on its synthetic samples, before any real image "
             "(the sum of per-layer sensitivities, and the KL and top-1 agreement with FP32 of the "
             "chosen widths together, weights only). Halves A / B: top-1 on the images at even and odd "
             "positions of the canonical order.", "",
             "| curve | target % | compression % | bits/weight | top-1 % | gap | halves A / B | predicted sensitivity | "
             "predicted KL | predicted agreement % | verified | seconds |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in sorted(table, key=lambda r: (list(CURVES).index(r["curve"]) if r["curve"] in CURVES else 2,
                                            r["target"] or 0, r["label"])):
        curve = {"best": f"{args.method} (searched)", "rtn": "rtn (searched)"}.get(row["curve"], row["label"])
        if row["error"]:
            lines.append(f"| {curve} | {_cell(row['target'], '{:g}')} | failed: {row['error']} ||||||||||")
            continue
        verified = f"{row['verified_agree']}/{row['verified']}" if row["verified"] else ""
        lines.append(
            f"| {curve} | {_cell(row['target'], '{:g}')} | {_cell(row['compression'])} | "
            f"{_cell(row['bits_per_weight'])} | {_cell(row['top1'])} | {_cell(row['gap'], '{:+.2f}')} | "
            f"{' / '.join(f'{h:.2f}' for h in row['halves']) if row['halves'] else ''} | "
            f"{_cell(row['predicted_sensitivity'], '{:.4g}')} | {_cell(row['predicted_kl'], '{:.4g}')} | "
            f"{_cell(row['predicted_agreement'])} | {verified} | {_cell(row['seconds'], '{:.0f}')} |")
    lines += ["", f"Command: `{command}`", f"Runs: `OUT/runs/<label>/command.txt`. Host: {platform.node()}."]
    return "\n".join(lines) + "\n"


def plot(path: Path, table: list[dict], fp32: float | None, args) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5), dpi=100)
    names = {"best": f"{args.method}, searched widths", "rtn": "round to nearest, searched widths"}
    for curve, color in CURVES.items():
        points = sorted((r["compression"], r["top1"]) for r in table
                        if r["curve"] == curve and r["top1"] is not None and r["compression"] is not None)
        if points:
            axis.plot(*zip(*points), "o-", color=color, label=names[curve])
    for row in table:
        if row["curve"] == "scheme" and row["top1"] is not None:
            axis.plot(row["compression"], row["top1"], "s", color="tab:green")
            axis.annotate(row["scheme"], (row["compression"], row["top1"]), textcoords="offset points",
                          xytext=(4, 4), fontsize=8)
    if fp32 is not None:
        axis.axhline(fp32, color="0.4", linestyle="--", linewidth=1, label=f"FP32 ({fp32:.2f}%)")
    axis.set_xlabel("compression % (scorer)")
    axis.set_ylabel("top-1 % (scorer, verified)")
    axis.set_title(f"{args.model}: compression against top-1 ({args.generator} data)", fontsize=10)
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8, loc="lower left")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def write_report(out: Path, args, runs, command: str) -> list[Path]:
    fp32 = next((r.result.get("top1") for r in runs if r.curve == "fp32"), None)
    fp32_halves = next((r.result.get("halves") for r in runs if r.curve == "fp32"), None)
    table = rows(runs)
    (out / "frontier.json").write_text(json.dumps({"model": args.model, "fp32_top1": fp32, "fp32_halves": fp32_halves,
                                                   "command": command, "rows": table}, indent=1) + "\n")
    (out / "frontier.md").write_text(markdown(table, fp32, args, command, fp32_halves))
    return [out / "frontier.md", out / "frontier.json", plot(out / "frontier.png", table, fp32, args)]
