"""The scorer: ingest untrusted submission zips, score them, publish a leaderboard.

`python -m scorer run|rescore|leaderboard|pack|check ...`; see submissions/README.md.
Depends on challenge/ (output format, artifact, size accounting, reference runtime), never
the other way round.
"""
