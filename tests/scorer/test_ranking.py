"""The ranking rules: compression first, accuracy at its precision, earliest wins ties, thresholds."""

import pandas as pd

from scorer.config import Rules
from scorer.leaderboard import markdown, write
from scorer.ranking import list_combiners, quantize, standings

DAY = 86400.0


def _frames(entries, models=("m",)):
    """entries: (team, submitted_at, compression, accuracy[, status, error, private accuracy])."""
    subs, scores = [], []
    for i, entry in enumerate(entries, start=1):
        team, at, comp, acc, *rest = entry
        status = rest[0] if rest else "scored"
        subs.append({"id": i, "team": team, "path": f"{team}/{i}.zip", "submitted_at": at, "status": status,
                     "error": rest[1] if len(rest) > 1 else ""})
        if status == "scored":
            for m in models:
                scores.append({"submission_id": i, "model": m, "accuracy": acc, "accuracy_public": acc,
                               "accuracy_private": rest[2] if len(rest) > 2 else acc, "compression": comp})
    return pd.DataFrame(subs), pd.DataFrame(scores)


def _rank(entries, **rules):
    result = standings(*_frames(entries), Rules(models=("m",), **rules))
    return result


def test_compression_first_then_accuracy():
    board = _rank([("a", 1, 70.0, 60.0), ("b", 2, 75.0, 50.0), ("c", 3, 70.0, 65.0)]).ranked
    assert list(board.team) == ["b", "c", "a"]
    assert list(board["rank"]) == [1, 2, 3]


def test_accuracy_compared_at_its_precision_and_ties_go_to_the_earliest():
    # 70.04 and 70.01 are both 70.0 at 0.1% precision: the earlier upload wins.
    board = _rank([("late", 5, 75.0, 70.04), ("early", 1, 75.0, 70.01)]).ranked
    assert list(board.team) == ["early", "late"]
    # At 0.01% precision they differ, and the better accuracy wins.
    board = _rank([("late", 5, 75.0, 70.04), ("early", 1, 75.0, 70.01)], accuracy_precision=0.01).ranked
    assert list(board.team) == ["late", "early"]


def test_floor_rounding():
    assert list(quantize([72.3, 72.35, 72.39], 0.1, "floor")) == [723, 723, 723]
    assert list(quantize([72.3, 72.35, 72.39], 0.1, "round")) == [723, 724, 724]


def test_at_or_below_minimum_compression_is_excluded():
    result = _rank([("a", 1, 25.0, 90.0), ("b", 2, 24.0, 90.0), ("c", 3, 25.1, 10.0)])
    assert list(result.ranked.team) == ["c"]
    assert set(result.rejected.team) == {"a", "b"}
    assert result.rejected.reason.str.contains("at or below the minimum 25.0%").all()


def test_minimum_accuracy():
    result = _rank([("a", 1, 50.0, 9.0), ("b", 2, 40.0, 60.0)], min_accuracy=10.0)
    assert list(result.ranked.team) == ["b"]


def test_one_best_entry_per_team_and_invalid_listed_apart():
    result = _rank([("a", 1, 50.0, 60.0), ("a", 2, 60.0, 50.0), ("b", 3, 55.0, 70.0),
                    ("c", 4, 0, 0, "invalid", "output.txt line 3: blank line")])
    assert list(result.ranked.team) == ["a", "b"]
    assert list(result.ranked.submission) == [2, 3]
    assert result.rejected.loc[0, "reason"] == "output.txt line 3: blank line"


def test_daily_allowance():
    entries = [("a", 10, 50.0, 60.0), ("a", 20, 90.0, 60.0), ("a", DAY + 5, 40.0, 60.0)]
    result = _rank(entries, submissions_per_day=1)
    assert list(result.ranked.submission) == [1]  # the 90% upload was the second of its day
    assert "daily allowance" in result.rejected.reason.iloc[0]


def test_private_part_hidden_until_revealed():
    entries = [("a", 1, 50.0, 80.0, "scored", "", 10.0), ("b", 2, 50.0, 70.0, "scored", "", 90.0)]
    hidden = _rank(entries, private_fraction=0.5)
    assert list(hidden.ranked.team) == ["a", "b"]
    assert "public accuracy" not in hidden.ranked.columns
    assert "90" not in markdown(hidden, "t")
    revealed = _rank(entries, private_fraction=0.5, revealed=True)
    assert list(revealed.ranked.team) == ["b", "a"]


def test_combiners_and_per_model_columns():
    models = ("x", "y")
    subs, scores = _frames([("a", 1, 50.0, 60.0)], models)
    scores.loc[scores.model == "y", "compression"] = 70.0
    for name in list_combiners():
        board = standings(subs, scores, Rules(models=models, combine=name)).ranked
        assert board.loc[0, "compression"] == {"mean": 60.0, "min": 50.0, "median": 60.0}[name]
        assert board.loc[0, "y compression"] == 70.0


def test_leaderboard_files_escape_team_names(tmp_path):
    result = _rank([("<script>|x", 1, 50.0, 60.0)])
    paths = write(result, tmp_path)
    assert sorted(p.name for p in paths) == ["leaderboard.csv", "leaderboard.html", "leaderboard.md", "rejected.csv"]
    assert "<script>" not in (tmp_path / "leaderboard.html").read_text()
    assert "\\|x" in (tmp_path / "leaderboard.md").read_text()
