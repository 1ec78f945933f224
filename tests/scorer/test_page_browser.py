"""The leaderboard page in a real browser (headless Chromium): what a person sees.

Checks the rendered DOM (table rows, chart points, the hostile team names shown as text and
nothing they tried to inject), that the console stays silent, with the network blocked (the page
must work offline), and keeps a screenshot: `leaderboard.png` in this test's pytest temporary
folder (pytest prints it; by default /tmp/pytest-of-<user>/pytest-<n>/test_page_in_chromium0/).
Skipped, with the reason, where no Chromium is installed (`.ci/run` installs Debian's `chromium`).
"""
from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from page_demo import HOSTILE, HOSTILE_ATTR, page, standings

BROWSER = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium here: apt-get install chromium (CI does)")
# --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start. The host rules make
# every network request fail, so anything fetched from outside the file would show as an error.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--host-rules=MAP * ~NOTFOUND",
         "--enable-logging=stderr", "--v=0"]


def chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BROWSER, *FLAGS, *args], capture_output=True, text=True, timeout=120)


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


class Seen(HTMLParser):
    """What the rendered DOM holds: rows per table class, chart points, elements, visible text."""

    def __init__(self):
        super().__init__()
        self.rows: dict[str, int] = {}
        self.points: list[str] = []
        self.tags: set[str] = set()
        self.text: list[str] = []
        self._table, self._in_body = None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if tag == "table":
            self._table = attrs.get("class", "")
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows[self._table] = self.rows.get(self._table, 0) + 1
        elif tag == "circle" and "entry" in attrs.get("class", "").split():
            self.points.append(attrs.get("data-team", ""))

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False

    def handle_data(self, data):
        self.text.append(data)


def test_page_in_chromium(tmp_path):
    board = standings()
    path = tmp_path / "leaderboard.html"
    path.write_text(page(), encoding="utf-8")
    dom = chromium("--dump-dom", path.as_uri())
    assert dom.returncode == 0, dom.stderr[-1000:]
    assert console_messages(dom.stderr) == []
    seen = Seen()
    seen.feed(dom.stdout)
    ranked = list(board.ranked.team)
    assert seen.rows["ranking"] == len(ranked) == 6
    assert seen.points == ranked  # one point per ranked entry, in rank order
    assert seen.rows["not-ranked"] == len(board.rejected) == 3
    assert seen.rows["history"] == len(board.history) and seen.rows["per-model"] == len(ranked)
    text = " ".join(seen.text)
    assert HOSTILE in text and HOSTILE_ATTR in text  # shown as the names they are...
    assert "script" not in seen.tags and "img" not in seen.tags  # ...and nothing they tried to inject ran
    assert "climbs out of the folder" in text and "at or below the minimum 25.0%" in text
    assert "Pareto front" in text

    shot = tmp_path / "leaderboard.png"
    done = chromium("--window-size=1200,1900", f"--screenshot={shot}", path.as_uri())
    assert done.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    assert console_messages(done.stderr) == []
    print(f"screenshot: {shot}")


def test_console_check_sees_an_error(tmp_path):
    """The console check above can fail: a page that logs an error, or fetches from the network, is caught."""
    path = tmp_path / "noisy.html"
    path.write_text('<!doctype html><p>x</p><script>console.error("broken")</script>'
                    '<link rel="stylesheet" href="https://cdn.example.com/x.css">', encoding="utf-8")
    messages = console_messages(chromium("--dump-dom", path.as_uri()).stderr)
    assert any("broken" in m for m in messages)
