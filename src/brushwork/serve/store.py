"""Where the service keeps its jobs: an embedded SQLite database and, beside it, a folder per
job for its uploads, its latest preview and its result. Nothing is lost on a restart: a job that
was running when the server stopped is queued again when it starts.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

STATES = ("queued", "running", "done", "failed", "cancelled")
ENDED = ("done", "failed", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    client TEXT NOT NULL,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    settings TEXT NOT NULL,
    names TEXT NOT NULL,
    step INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL,
    error TEXT,
    pixels INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created);
"""


@dataclass(frozen=True)
class JobRow:
    """A job as stored: its settings (a dict of Settings' fields), its inputs' names
    ({"content": name, "styles": [...], "masks": [...] or None}), and how far it got."""

    id: str
    client: str
    state: str
    created: float
    started: float | None
    finished: float | None
    settings: dict[str, Any]
    names: dict[str, Any]
    step: int
    total: int
    error: str | None
    pixels: int  # the output's width x height, for estimates


class Store:
    """Jobs in SQLite (one connection, serialised by a lock) and their files on disk."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        (self.folder / "jobs").mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.folder / "jobs.sqlite3", check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ---- files -----------------------------------------------------------------------------
    def path(self, job_id: str, name: str = "") -> Path:
        return self.folder / "jobs" / job_id / name

    def read(self, job_id: str, name: str) -> bytes | None:
        try:
            return self.path(job_id, name).read_bytes()
        except OSError:
            return None

    # ---- rows ------------------------------------------------------------------------------
    def add(self, row: JobRow, files: dict[str, bytes | IO[bytes]]) -> None:
        """A new queued job and its uploads, bytes or file objects (written before the row, so a queued row always
        has its files)."""
        from .. import images

        folder = self.path(row.id)
        folder.mkdir(parents=True)
        try:
            for name, data in files.items():
                if isinstance(data, bytes):
                    images.write_atomic(folder / name, data)
                else:  # a spooled upload: copied from its file, never read whole
                    with images.atomic(folder / name) as tmp, open(tmp, "wb") as out:
                        data.seek(0)
                        shutil.copyfileobj(data, out)
                        out.flush()
                        os.fsync(out.fileno())
            with self._lock:
                self._db.execute(
                    "INSERT INTO jobs (id, client, state, created, settings, names, total, "
                    "pixels) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (row.id, row.client, row.state, row.created, json.dumps(row.settings),
                     json.dumps(row.names), row.total, row.pixels))
        except BaseException:  # a full disk, say: no job, and no folder that nothing removes
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def get(self, job_id: str) -> JobRow | None:
        with self._lock:
            r = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _row(r) if r else None

    def queued(self) -> list[JobRow]:
        """Queued jobs, first come first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs WHERE state = 'queued' ORDER BY created, id"
                                    ).fetchall()
        return [_row(r) for r in rows]

    def running(self) -> list[JobRow]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs WHERE state = 'running'").fetchall()
        return [_row(r) for r in rows]

    def count(self, states: tuple[str, ...], client: str | None = None) -> int:
        marks = ",".join("?" * len(states))
        sql, args = f"SELECT COUNT(*) FROM jobs WHERE state IN ({marks})", list(states)
        if client is not None:
            sql, args = sql + " AND client = ?", args + [client]
        with self._lock:
            return self._db.execute(sql, args).fetchone()[0]

    def update(self, job_id: str, **fields: Any) -> None:
        if not fields:
            return
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*fields.values(), job_id))

    def take(self, job_id: str) -> bool:
        """Mark a queued job running; False if it is no longer queued (cancelled meanwhile)."""
        with self._lock:
            cur = self._db.execute("UPDATE jobs SET state = 'running', started = ? "
                                   "WHERE id = ? AND state = 'queued'", (time.time(), job_id))
        return cur.rowcount == 1

    def cancel_queued(self, job_id: str) -> bool:
        """Cancel a job that is still queued; False if it is not (the dispatcher took it
        meanwhile: then it is cancelled as a running job). One statement, so a cancel and a
        take cannot both win."""
        with self._lock:
            cur = self._db.execute("UPDATE jobs SET state = 'cancelled', finished = ? "
                                   "WHERE id = ? AND state = 'queued'", (time.time(), job_id))
        return cur.rowcount == 1

    def requeue_running(self) -> int:
        """After a restart: jobs that were running start again from the queue."""
        with self._lock:
            cur = self._db.execute("UPDATE jobs SET state = 'queued', step = 0, started = NULL "
                                   "WHERE state = 'running'")
        return cur.rowcount

    def expire(self, older_than: float) -> int:
        """Ended jobs that ended before `older_than` (a time), with their files."""
        with self._lock:
            ids = [r[0] for r in self._db.execute(
                "SELECT id FROM jobs WHERE state IN ('done', 'failed', 'cancelled') "
                "AND finished < ?", (older_than,))]
            self._db.executemany("DELETE FROM jobs WHERE id = ?", [(i,) for i in ids])
        for i in ids:
            shutil.rmtree(self.path(i), ignore_errors=True)
        return len(ids)


def _row(r: tuple) -> JobRow:
    (id_, client, state, created, started, finished, settings, names, step, total, error,
     pixels) = r
    return JobRow(id_, client, state, created, started, finished, json.loads(settings),
                  json.loads(names), step, total, error, pixels)
