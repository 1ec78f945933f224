"""Scorer state in SQLite: every change is one transaction, so a kill at any point leaves it consistent.

A submission is one distinct zip (by sha256): the same bytes uploaded twice are scored once.
Its status moves pending -> scoring -> scored | invalid. A row left in 'scoring' by a killed
scorer is put back to 'pending' on the next start; `attempts` counts how often work began,
so a zip that crashes the scorer again and again is eventually marked invalid instead of
stopping every run. `results_written` counts committed results since the row was queued:
exactly 1 for every finished row is the invariant the crash test checks.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pandas as pd

from .result import Result

PENDING, SCORING, SCORED, INVALID = "pending", "scoring", "scored", "invalid"
MAX_ATTEMPTS = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    team TEXT NOT NULL,
    path TEXT NOT NULL,
    submitted_at REAL NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'scoring', 'scored', 'invalid')),
    error TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '[]',
    attempts INTEGER NOT NULL DEFAULT 0,
    results_written INTEGER NOT NULL DEFAULT 0,
    scored_at REAL,
    rules TEXT NOT NULL DEFAULT '',
    seconds REAL
);
CREATE TABLE IF NOT EXISTS uploads (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL REFERENCES submissions(sha256)
);
CREATE TABLE IF NOT EXISTS model_scores (
    submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    accuracy REAL NOT NULL,
    accuracy_public REAL NOT NULL,
    accuracy_private REAL,
    compression REAL NOT NULL,
    quantized_bytes INTEGER NOT NULL,
    fp32_bytes INTEGER NOT NULL,
    declared_quantized_bytes INTEGER NOT NULL,
    verified INTEGER NOT NULL,
    disagreements INTEGER NOT NULL,
    PRIMARY KEY (submission_id, model)
);
"""


def connect(path: str | Path) -> sqlite3.Connection:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: we open every transaction ourselves (BEGIN IMMEDIATE) and know where it ends.
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    with transaction(conn):
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
    return conn


class transaction:
    """`with transaction(conn):` BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind, value, traceback):
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")
        return False


def known_upload(conn, path: str, size: int, mtime_ns: int) -> bool:
    row = conn.execute("SELECT size, mtime_ns FROM uploads WHERE path = ?", (path,)).fetchone()
    return row is not None and tuple(row) == (size, mtime_ns)


def register_upload(conn, *, path: str, team: str, sha256: str, size: int, mtime_ns: int,
                    submitted_at: float) -> bool:
    """Record an upload; True when its bytes are new (a new submission to score)."""
    with transaction(conn):
        cursor = conn.execute(
            "INSERT OR IGNORE INTO submissions (sha256, team, path, submitted_at, status) VALUES (?, ?, ?, ?, ?)",
            (sha256, team, path, submitted_at, PENDING))
        conn.execute("INSERT OR REPLACE INTO uploads (path, size, mtime_ns, sha256) VALUES (?, ?, ?, ?)",
                     (path, size, mtime_ns, sha256))
        return cursor.rowcount == 1


def recover(conn) -> int:
    """Rows a killed scorer left in 'scoring' go back to 'pending'. Returns how many."""
    with transaction(conn):
        return conn.execute("UPDATE submissions SET status = ? WHERE status = ?", (PENDING, SCORING)).rowcount


def requeue_all(conn) -> int:
    """For rescore: every submission is pending again; its old figures stay until the new ones land."""
    with transaction(conn):
        return conn.execute("UPDATE submissions SET status = ?, results_written = 0, attempts = 0",
                            (PENDING,)).rowcount


def pending(conn) -> list[tuple[int, str]]:
    return [tuple(r) for r in conn.execute("SELECT id, path FROM submissions WHERE status = ? ORDER BY id",
                                           (PENDING,))]


def claim(conn, submission_id: int) -> bool:
    """pending -> scoring. False (and the row marked invalid) when it has crashed the scorer too often."""
    with transaction(conn):
        row = conn.execute("SELECT attempts FROM submissions WHERE id = ? AND status = ?",
                           (submission_id, PENDING)).fetchone()
        if row is None:
            return False
        if row[0] >= MAX_ATTEMPTS:
            conn.execute("UPDATE submissions SET status = ?, error = ?, results_written = results_written + 1, "
                         "scored_at = ? WHERE id = ?",
                         (INVALID, f"scoring this submission stopped the scorer {row[0]} times; ask the organizers",
                          time.time(), submission_id))
            conn.execute("DELETE FROM model_scores WHERE submission_id = ?", (submission_id,))
            return False
        conn.execute("UPDATE submissions SET status = ?, attempts = attempts + 1 WHERE id = ?",
                     (SCORING, submission_id))
        return True


def release(conn, submission_id: int) -> None:
    """scoring -> pending, for work lost with a dead worker (its attempt still counts)."""
    with transaction(conn):
        conn.execute("UPDATE submissions SET status = ? WHERE id = ? AND status = ?",
                     (PENDING, submission_id, SCORING))


def finish(conn, submission_id: int, result: Result, rules_fingerprint: str) -> None:
    """Store a result and its per-model figures in one transaction."""
    with transaction(conn):
        conn.execute("DELETE FROM model_scores WHERE submission_id = ?", (submission_id,))
        conn.executemany(
            "INSERT INTO model_scores (submission_id, model, accuracy, accuracy_public, accuracy_private, "
            "compression, quantized_bytes, fp32_bytes, declared_quantized_bytes, verified, disagreements) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(submission_id, m.model, m.accuracy, m.accuracy_public, m.accuracy_private, m.compression,
              m.quantized_bytes, m.fp32_bytes, m.declared_quantized_bytes, m.verified, m.disagreements)
             for m in result.models])
        updated = conn.execute(
            "UPDATE submissions SET status = ?, error = ?, notes = ?, results_written = results_written + 1, "
            "scored_at = ?, rules = ?, seconds = ? WHERE id = ? AND status = ?",
            (result.status, result.error, json.dumps(result.notes), time.time(), rules_fingerprint,
             result.seconds, submission_id, SCORING)).rowcount
        if updated != 1:
            raise RuntimeError(f"submission {submission_id} was not being scored; refusing to overwrite it")


def submissions_frame(conn) -> pd.DataFrame:
    return pd.read_sql_query("SELECT * FROM submissions ORDER BY id", conn)


def model_scores_frame(conn) -> pd.DataFrame:
    return pd.read_sql_query("SELECT * FROM model_scores ORDER BY submission_id, model", conn)
