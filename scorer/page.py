"""The leaderboard page: one self-contained HTML file (inline CSS and SVG, no script, no CDN).

Sections: the ranking, a compression-against-accuracy chart of every ranked entry with the Pareto
front, per-model figures, each team's history, and the entries not ranked with the reason. The
same page, built from a single submission, is Codabench's detailed_results.html.

Team names, file names and reasons come from uploaders: every string goes through html.escape,
in the tables, the chart and its tooltips alike.
"""
from __future__ import annotations

import html
import math
from datetime import datetime, timezone

import pandas as pd

from .chart import Point, svg
from .ranking import Standings

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1d2433;
       background: #f6f7f9; }
header { background: #1d3557; color: #fff; padding: 1.2em 2em; }
header h1 { margin: 0 0 .3em; font-size: 1.6em; }
header p { margin: 0; opacity: .85; }
main { padding: 1em 2em 3em; max-width: 1100px; }
section { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: .8em 1.2em 1.2em;
          margin-top: 1.2em; }
h2 { font-size: 1.15em; margin: .4em 0 .8em; }
table { border-collapse: collapse; width: 100%; font-size: .92em; }
th, td { border-bottom: 1px solid #e6e9ee; padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f5; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.first td { font-weight: 600; }
details { margin: .4em 0; } summary { cursor: pointer; font-weight: 600; }
.scroll { overflow-x: auto; }
table.history { table-layout: fixed; } table.history th:last-child { width: 45%; }
.empty { color: #6b7380; font-style: italic; }
.reason { color: #9b2226; }
svg.chart { max-width: 100%; height: auto; }
svg .plot { fill: #fbfcfd; stroke: #c9ced6; } svg .grid { stroke: #e6e9ee; }
svg .tick, svg .label { font-size: 11px; fill: #4a5261; } svg .axis { font-size: 13px; fill: #1d2433; }
svg .entry { fill: #457b9d; stroke: #fff; stroke-width: 1.5; }
svg .front-point { fill: #e63946; } svg .front { fill: none; stroke: #e63946; stroke-width: 2; stroke-dasharray: 6 4; }
.legend span { display: inline-block; margin-right: 1.5em; font-size: .9em; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 4px; }
"""


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"  # every figure to the hundredth: columns line up and nothing is hidden
    return html.escape(str(value))


def table(frame: pd.DataFrame | None, *, numeric=(), css_class="", first_row_class="") -> str:
    """An escaped HTML table; numbers right-aligned."""
    if frame is None or frame.empty:
        return '<p class="empty">none</p>'
    head = "".join(f'<th class="num">{html.escape(str(c))}</th>' if c in numeric else f"<th>{html.escape(str(c))}</th>"
                   for c in frame.columns)
    rows = []
    for position, row in enumerate(frame.itertuples(index=False)):
        cells = "".join(f'<td class="num">{_cell(v)}</td>' if c in numeric else f"<td>{_cell(v)}</td>"
                        for c, v in zip(frame.columns, row))
        css = f' class="{first_row_class}"' if first_row_class and position == 0 else ""
        rows.append(f"<tr{css}>{cells}</tr>")
    return (f'<div class="scroll"><table class="{css_class}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def _ranking(standings: Standings) -> str:
    ranked = standings.ranked
    columns = [c for c in ("rank", "team", "compression", "accuracy", "public accuracy", "submission", "submitted")
               if c in ranked.columns]
    return table(ranked[columns], numeric={"rank", "compression", "accuracy", "public accuracy", "submission"},
                 css_class="ranking", first_row_class="first")


def _per_model(standings: Standings) -> str:
    """One column per model, `compression / accuracy`: three models fit the page's width."""
    ranked = standings.ranked
    if ranked.empty:
        return '<p class="empty">none</p>'
    models = [c.removesuffix(" compression") for c in ranked.columns if c.endswith(" compression")]
    frame = pd.DataFrame({"rank": ranked["rank"], "team": ranked["team"]})
    for model in models:
        frame[f"{model}: compression / accuracy (%)"] = [
            f"{c:.2f} / {a:.2f}" for c, a in zip(ranked[f"{model} compression"], ranked[f"{model} accuracy"])]
    return table(frame, numeric=set(frame.columns) - {"team"}, css_class="per-model")


def _history(standings: Standings) -> str:
    history = standings.history
    if history is None or history.empty:
        return '<p class="empty">none</p>'
    blocks = []
    for team, rows in history.groupby("team", sort=True):
        rows = rows.drop(columns=["team"])
        blocks.append(f"<details open><summary>{html.escape(str(team))} ({len(rows)} submission"
                      f"{'s' if len(rows) != 1 else ''})</summary>"
                      f"{table(rows, numeric={'id', 'compression', 'accuracy'}, css_class='history')}</details>")
    return "\n".join(blocks)


def _chart(standings: Standings) -> str:
    points = [Point(str(r.team), float(r.compression), float(r.accuracy))
              for r in standings.ranked.itertuples(index=False)]
    legend = ('<p class="legend"><span><i class="dot" style="background:#457b9d"></i>ranked entry</span>'
              '<span><i class="dot" style="background:#e63946"></i>on the Pareto front (no entry beats it on both '
              'figures)</span></p>') if points else ""
    return svg(points) + legend


def subtitle(standings: Standings, built: datetime | None = None) -> str:
    when = (built or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    part = "private part (final)" if standings.revealed else "public part; the private part is hidden until revealed"
    return f"Accuracy on the {part}. Ranked by compression, then accuracy, then the earlier upload. Built {when}."


def render(standings: Standings, title: str, *, intro: str = "") -> str:
    """The whole page as one string."""
    intro_html = f"<p>{html.escape(intro)}</p>" if intro else ""
    sections = [
        ("ranking", "Ranking", _ranking(standings)),
        ("chart", "Compression against accuracy", _chart(standings)),
        ("per-model", "Per-model figures", _per_model(standings)),
        ("history", "Each team's history", _history(standings)),
        ("not-ranked", "Not ranked", table(standings.rejected, numeric={"id"}, css_class="not-ranked")),
    ]
    body = "\n".join(f'<section id="{key}"><h2>{name}</h2>\n{content}\n</section>' for key, name, content in sections)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>\n"
            f"<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle(standings))}</p>{intro_html}</header>\n"
            f"<main>\n{body}\n</main></body></html>\n")
