"""The frontier as a PNG: predicted sensitivity against compression, and measured top-1 where
labelled images were given (on its own axis, marked as measured on real data)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..size import compression_ratio
from .pipeline import SearchResult


def plot_frontier(path: str | Path, result: SearchResult) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    space, frontier = result.space, result.frontier
    fp32 = space.sizes.fp32_bytes
    every = compression_ratio(fp32, space.sizes.fixed_bytes + frontier.sizes.astype(np.float64))
    figure, axis = plt.subplots(figsize=(7, 4.2), dpi=100)
    axis.step(every, np.maximum(frontier.costs, 1e-12), where="post", color="0.7", linewidth=1,
              label="exact frontier (every Pareto point)")
    sweep = result.sweep
    axis.plot([r.compression for r in sweep], [max(r.sensitivity, 1e-12) for r in sweep], "o", color="tab:blue",
              markersize=4, label="sweep")
    chosen = result.chosen
    axis.plot([chosen.compression], [max(chosen.sensitivity, 1e-12)], "*", color="tab:red", markersize=12,
              label=f"chosen ({chosen.compression:.2f}%)")
    axis.set_yscale("log")
    axis.set_xlim(min(r.compression for r in sweep) - 0.5, max(r.compression for r in sweep) + 0.5)
    axis.set_xlabel("compression % (as the scorer counts it)")
    axis.set_ylabel(f"predicted sensitivity ({space.proxy}, synthetic data)")
    axis.set_title(f"{space.arch}, {space.scheme.name}: per-layer weight widths", fontsize=10)
    handles, labels = axis.get_legend_handles_labels()
    if result.measured:
        points = sorted((r.compression, result.measured[r.target]) for r in sweep if r.target in result.measured)
        twin = axis.twinx()
        twin.plot(*zip(*points), "s--", color="tab:green", markersize=5, label="top-1, measured on real images")
        if result.fp32_top1 is not None:
            twin.axhline(result.fp32_top1, color="tab:green", linewidth=0.8, linestyle=":",
                         label=f"FP32 top-1 ({result.fp32_top1:.2f}%)")
        twin.set_ylabel("top-1 % (measured on real images; not used to choose)", color="tab:green")
        extra_handles, extra_labels = twin.get_legend_handles_labels()
        handles, labels = handles + extra_handles, labels + extra_labels
    axis.legend(handles, labels, fontsize=8, loc="center left")  # where neither curve runs
    axis.grid(True, alpha=0.3)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path)
    plt.close(figure)
    return path
