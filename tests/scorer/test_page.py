"""The leaderboard page without a browser: the Pareto front, escaping, the empty page, the files."""
from __future__ import annotations

import pandas as pd

from page_demo import HOSTILE, HOSTILE_ATTR, page, standings
from scorer import leaderboard
from scorer.chart import Point, pareto_front
from scorer.config import Rules
from scorer.ranking import standings as rank


def test_pareto_front_keeps_the_entries_nothing_beats_on_both():
    points = [Point("a", 75, 70), Point("b", 80, 69), Point("c", 80, 60), Point("d", 74, 69), Point("e", 87, 50),
              Point("f", 75, 70)]
    assert [p.label for p in pareto_front(points)] == ["a", "f", "b", "e"]  # c, d beaten; equal points both stay


def test_every_participant_string_is_escaped():
    text = page()
    assert HOSTILE not in text and HOSTILE_ATTR not in text
    assert "&lt;script&gt;console.error(&quot;injected&quot;)&lt;/script&gt;" in text
    assert "<script" not in text and "http" not in text.replace("http://www.w3.org/2000/svg", "")  # no CDN


def test_history_tells_each_submissions_fate():
    history = standings().history.set_index("id")
    assert history.loc[2, "outcome"] == "best" and history.loc[1, "outcome"] == "ranked, not the team's best"
    assert "at or below the minimum" in history.loc[9, "outcome"] and "climbs out" in history.loc[6, "outcome"]


def test_empty_competition_page(tmp_path):
    empty = rank(pd.DataFrame(columns=["id", "team", "path", "submitted_at", "status", "error"]),
                 pd.DataFrame(columns=["submission_id", "model", "accuracy", "accuracy_public", "accuracy_private",
                                       "compression"]), Rules())
    written = leaderboard.write(empty, tmp_path)
    html = (tmp_path / "leaderboard.html").read_text()
    assert len(written) == 4 and "No ranked entry yet" in html and "<svg" not in html
