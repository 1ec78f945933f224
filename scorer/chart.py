"""Compression against accuracy as plain inline SVG, with the Pareto front drawn.

Plain SVG written here rather than matplotlib's: the page must stay one small file that works
offline, and every label is a participant's team name, escaped like any other cell. Each point
carries `class="entry"` and `data-team`, so a browser test can count what a person sees.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass

WIDTH, HEIGHT = 720, 420
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 20, 52  # margins for the axes' labels


@dataclass(frozen=True)
class Point:
    label: str  # a team name: untrusted
    compression: float  # percent
    accuracy: float  # percent


def pareto_front(points: list[Point]) -> list[Point]:
    """The points no other point beats on both figures (higher is better on each), by compression."""
    front = [p for p in points
             if not any(q.compression >= p.compression and q.accuracy >= p.accuracy
                        and (q.compression > p.compression or q.accuracy > p.accuracy) for q in points)]
    return sorted(front, key=lambda p: (p.compression, -p.accuracy))


def _range(values: list[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    pad = max((high - low) * 0.08, 0.5)
    return math.floor(low - pad), math.ceil(high + pad)


def _ticks(low: float, high: float, count: int = 6) -> list[float]:
    raw = (high - low) / count
    step = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next(s * step for s in (1, 2, 5, 10) if s * step >= raw)
    first = math.ceil(low / step) * step
    return [round(first + i * step, 6) for i in range(int((high - first) / step) + 1)]


def svg(points: list[Point], title: str = "Compression against accuracy") -> str:
    """The chart as an <svg> element; an empty-state message when there is nothing to draw."""
    if not points:
        return '<p class="empty">No ranked entry yet: the chart appears with the first one.</p>'
    x_low, x_high = _range([p.compression for p in points])
    y_low, y_high = _range([p.accuracy for p in points])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(value):
        return LEFT + (value - x_low) / (x_high - x_low) * plot_w

    def y(value):
        return TOP + (y_high - value) / (y_high - y_low) * plot_h

    parts = [f'<svg class="chart" role="img" aria-label="{html.escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
             f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" class="plot"/>']
    for tick in _ticks(x_low, x_high):
        parts.append(f'<line x1="{x(tick):.1f}" y1="{TOP}" x2="{x(tick):.1f}" y2="{TOP + plot_h}" class="grid"/>'
                     f'<text x="{x(tick):.1f}" y="{TOP + plot_h + 18}" class="tick" text-anchor="middle">{tick:g}</text>')
    for tick in _ticks(y_low, y_high):
        parts.append(f'<line x1="{LEFT}" y1="{y(tick):.1f}" x2="{LEFT + plot_w}" y2="{y(tick):.1f}" class="grid"/>'
                     f'<text x="{LEFT - 8}" y="{y(tick) + 4:.1f}" class="tick" text-anchor="end">{tick:g}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 12}" class="axis" text-anchor="middle">'
                 'compression (%), higher ranks first</text>'
                 f'<text transform="translate(16 {TOP + plot_h / 2:.1f}) rotate(-90)" class="axis" '
                 'text-anchor="middle">top-1 accuracy (%)</text>')
    front = pareto_front(points)
    if len(front) > 1:
        path = " ".join(f"{x(p.compression):.1f},{y(p.accuracy):.1f}" for p in front)
        parts.append(f'<polyline points="{path}" class="front"><title>Pareto front</title></polyline>')
    on_front = set(front)
    for p in points:
        name = html.escape(p.label)
        css = "entry front-point" if p in on_front else "entry"
        parts.append(f'<circle cx="{x(p.compression):.1f}" cy="{y(p.accuracy):.1f}" r="6" class="{css}" '
                     f'data-team="{name}"><title>{name}: compression {p.compression:g}%, '
                     f'accuracy {p.accuracy:g}%</title></circle>'
                     f'<text x="{x(p.compression) + 9:.1f}" y="{y(p.accuracy) - 8:.1f}" class="label">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
