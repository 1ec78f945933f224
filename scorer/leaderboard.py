"""Publishable leaderboard files: CSV (for scripts), Markdown (for the repo) and one static HTML page
(scorer/page.py).

Markdown is written here rather than with DataFrame.to_markdown, which needs the optional
`tabulate` package. Every cell is escaped: team names come from uploaders.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import page
from .ranking import Standings


def _md_cell(value) -> str:
    text = "" if pd.isna(value) else str(value)
    return " ".join(text.replace("|", "\\|").replace("<", "&lt;").split())


def markdown_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_none_\n"
    lines = ["| " + " | ".join(_md_cell(c) for c in frame.columns) + " |",
             "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def markdown(standings: Standings, title: str) -> str:
    return (f"# {title}\n\n{page.subtitle(standings)}\n\n## Ranking\n\n{markdown_table(standings.ranked)}\n"
            f"## Not ranked\n\n{markdown_table(standings.rejected)}")


def html_page(standings: Standings, title: str) -> str:
    return page.render(standings, title)


def write(standings: Standings, out_dir: str | Path, title: str = "Data-free quantization challenge") -> list[Path]:
    """Write leaderboard.csv, rejected.csv, leaderboard.md and leaderboard.html; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "leaderboard.csv": standings.ranked.to_csv(index=False),
        "rejected.csv": standings.rejected.to_csv(index=False),
        "leaderboard.md": markdown(standings, title),
        "leaderboard.html": html_page(standings, title),
    }
    written = []
    for name, text in files.items():
        path = out_dir / name
        temporary = path.with_suffix(path.suffix + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)  # readers never see half a file
        written.append(path)
    return written
