"""Publishable leaderboard files: CSV (for scripts), Markdown (for the repo) and one static HTML page.

Markdown is written here rather than with DataFrame.to_markdown, which needs the optional
`tabulate` package. Every cell is escaped: team names come from uploaders.
"""
from __future__ import annotations

import html
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from .ranking import Standings

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; margin-bottom: 2em; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; }}
th {{ background: #eee; }}
</style></head><body>
<h1>{title}</h1>
<p>{subtitle}</p>
<h2>Ranking</h2>
{ranked}
<h2>Not ranked</h2>
{rejected}
</body></html>
"""


def _subtitle(standings: Standings) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    part = "private part (final)" if standings.revealed else "public part; the private part is hidden until revealed"
    return f"Accuracy on the {part}. Ranked by compression, then accuracy, then the earlier upload. Built {when}."


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
    return (f"# {title}\n\n{_subtitle(standings)}\n\n## Ranking\n\n{markdown_table(standings.ranked)}\n"
            f"## Not ranked\n\n{markdown_table(standings.rejected)}")


def html_page(standings: Standings, title: str) -> str:
    def table(frame):
        return frame.to_html(index=False, escape=True, na_rep="", border=0) if not frame.empty else "<p>none</p>"

    return PAGE.format(title=html.escape(title), subtitle=html.escape(_subtitle(standings)),
                       ranked=table(standings.ranked), rejected=table(standings.rejected))


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
