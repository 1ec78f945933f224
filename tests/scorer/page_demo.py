"""A made-up competition for the leaderboard page: several teams, resubmissions, rejections, and
team names that try to inject HTML. Ranked by the kit's own rules (ranking.standings).

    python tests/scorer/page_demo.py OUT.html     # the page the README's screenshot shows
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

MODELS = ("resnet18", "mobilenet_v2", "shufflenet_v2_x1_0")
HOSTILE = '<script>console.error("injected")</script>'
HOSTILE_ATTR = '"><img src=x onerror="console.error(1)">'
# team, hours after the start, status, error, per-model (compression, accuracy) or None
SUBMISSIONS = [
    ("tinybits", 1, "scored", "", [(74.9, 69.1), (74.4, 70.8), (74.3, 68.2)]),
    ("tinybits", 30, "scored", "", [(87.4, 66.0), (86.7, 27.9), (86.5, 64.9)]),
    ("zeroq-fans", 5, "scored", "", [(74.9, 69.6), (74.4, 71.3), (74.3, 68.9)]),
    ("zeroq-fans", 40, "scored", "", [(81.2, 68.8), (80.6, 59.2), (80.4, 67.5)]),
    ("genie-lab", 8, "scored", "", [(81.2, 69.2), (80.6, 69.0), (80.4, 68.0)]),
    ("genie-lab", 20, "invalid", "member '../evil.txt' climbs out of the folder with '..'", None),
    ("mixed-precision", 12, "scored", "", [(84.0, 68.9), (83.1, 66.4), (82.8, 66.0)]),
    ("baseline", 2, "scored", "", [(75.0, 69.0), (74.5, 70.9), (74.4, 68.1)]),
    ("fp32-by-mistake", 3, "scored", "", [(0.0, 69.8), (0.0, 71.9), (0.0, 69.4)]),
    (HOSTILE, 15, "scored", "", [(78.0, 67.0), (77.5, 65.0), (77.1, 66.0)]),
    (HOSTILE_ATTR, 16, "invalid", "output.txt line 3: expected '<path><TAB><class index>'", None),
]
START = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    submissions, scores = [], []
    for number, (team, hours, status, error, figures) in enumerate(SUBMISSIONS, start=1):
        submissions.append({"id": number, "team": team, "path": f"{team}/upload-{number}.zip",
                            "submitted_at": START + 3600 * hours, "status": status, "error": error})
        for model, (compression, accuracy) in zip(MODELS, figures or []):
            scores.append({"submission_id": number, "model": model, "accuracy": accuracy, "accuracy_public": accuracy,
                           "accuracy_private": None, "compression": compression})
    return pd.DataFrame(submissions), pd.DataFrame(scores)


def standings():
    from scorer.config import Rules
    from scorer.ranking import standings as rank

    return rank(*frames(), Rules(models=MODELS))


def page() -> str:
    from scorer import page as page_mod

    return page_mod.render(standings(), "Data-free quantization challenge (demo data)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    Path(sys.argv[1]).write_text(page(), encoding="utf-8")
