"""The run journal: SQLite in WAL mode; every scored sample is committed before the next batch.

A run is identified by a fingerprint of (model, task, settings, data hash). Starting the same run
again resumes it: samples already journaled are skipped, so a run killed at any point (even with
SIGKILL) finishes with every sample scored exactly once. Schema changes go through ``MIGRATIONS``
(named, append-only, applied under the write lock by :mod:`llmatlas.core.sqlite`), so any number of
processes may open a new journal at once.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from llmatlas.core.errors import InputError
from llmatlas.core.paths import user_dir
from llmatlas.core.sqlite import Migration, connect, migrate, transaction
from llmatlas.engine.results import RunRecord, RunResult, SampleRecord

MIGRATIONS: tuple[Migration, ...] = (
    (
        "create runs and samples",
        """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        created TEXT NOT NULL,
        model TEXT NOT NULL,
        task TEXT NOT NULL,
        config TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'running',
        result TEXT
    );
    CREATE TABLE samples (
        run_id TEXT NOT NULL REFERENCES runs(run_id),
        doc_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (run_id, doc_id)
    );
    CREATE INDEX samples_by_seq ON samples(run_id, seq);
    """,
    ),
    ("record why a run failed", "ALTER TABLE runs ADD COLUMN error TEXT;"),
)


def default_path() -> Path:
    return user_dir() / "runs.sqlite"


def fingerprint(parts: dict[str, Any]) -> str:
    """Stable short id of a run's identity (same settings -> same id -> resume)."""
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


class Journal:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._claims: dict[str, int] = {}  # run id -> descriptor of its held lock file
        self.db = connect(self.path)
        try:
            migrate(self.db, MIGRATIONS, store=f"journal {self.path}")
        except BaseException:
            self.db.close()
            raise

    @contextmanager
    def tx(self) -> Iterator[None]:
        with transaction(self.db):
            yield

    def close(self) -> None:
        for fd in self._claims.values():
            os.close(fd)  # closing the descriptor releases its lock
        self._claims.clear()
        self.db.close()

    def _claim(self, run_id: str) -> None:
        """Hold the run's lock file for as long as this journal is open: a second process that
        starts the same run meanwhile is told so (exit 2) instead of racing it to the same samples."""
        if run_id in self._claims:
            return
        lock = self.path.with_name(f"{self.path.name}.{run_id}.lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise InputError(
                f"run {run_id} is being written by another process (pid {holder}); wait for it to finish, "
                "then run the same command again to resume or read it (`llmatlas results`)",
                path=self.path,
                field="journal",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._claims[run_id] = fd

    # ------------------------------------------------------------------ runs

    def start(self, run_id: str, model: str, task: str, config: dict[str, Any]) -> bool:
        """Claim and register a run; returns True if it already existed (a resume)."""
        self._claim(run_id)
        with self.tx():
            cur = self.db.execute(
                "INSERT OR IGNORE INTO runs(run_id, created, model, task, config) VALUES (?,?,?,?,?)",
                (run_id, dt.datetime.now(dt.UTC).isoformat(), model, task, json.dumps(config, default=str)),
            )
            resumed = cur.rowcount == 0
            if resumed:  # a failed run started again is running again
                self.db.execute(
                    "UPDATE runs SET status='running', error=NULL WHERE run_id=? AND status='failed'", (run_id,)
                )
        return resumed

    def fail(self, run_id: str, error: str) -> None:
        """Mark a run stopped by an error; what it journaled stays, and the same command resumes it."""
        with self.tx():
            self.db.execute("UPDATE runs SET status='failed', error=? WHERE run_id=?", (error[:2000], run_id))

    def done_ids(self, run_id: str) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT doc_id FROM samples WHERE run_id=?", (run_id,))}

    def add_samples(self, run_id: str, items: Iterable[tuple[int, SampleRecord]]) -> None:
        """Commit a batch of samples atomically; a sample already present is an error, never a duplicate."""
        with self.tx():
            self.db.executemany(
                "INSERT INTO samples(run_id, doc_id, seq, record) VALUES (?,?,?,?)",
                [(run_id, rec.doc_id, seq, rec.model_dump_json()) for seq, rec in items],
            )

    def merge(self, run_id: str, items: Iterable[tuple[int, SampleRecord]]) -> int:
        """Add samples scored elsewhere (a shard's journal); one already present is kept as it is,
        so merging the same shard twice, or a retried shard, never duplicates. Returns how many were new."""
        with self.tx():
            cur = self.db.executemany(
                "INSERT INTO samples(run_id, doc_id, seq, record) VALUES (?,?,?,?) "
                "ON CONFLICT(run_id, doc_id) DO NOTHING",
                [(run_id, rec.doc_id, seq, rec.model_dump_json()) for seq, rec in items],
            )
            return max(cur.rowcount, 0)

    def numbered(self, run_id: str) -> list[tuple[int, SampleRecord]]:
        """A run's samples with their item positions (what :meth:`merge` takes)."""
        rows = self.db.execute("SELECT seq, record FROM samples WHERE run_id=? ORDER BY seq", (run_id,))
        return [(seq, SampleRecord.model_validate_json(r)) for seq, r in rows]

    def samples(self, run_id: str) -> list[SampleRecord]:
        rows = self.db.execute("SELECT record FROM samples WHERE run_id=? ORDER BY seq", (run_id,))
        return [SampleRecord.model_validate_json(r[0]) for r in rows]

    def finish(self, result: RunResult) -> None:
        with self.tx():
            self.db.execute(
                "UPDATE runs SET status=?, result=? WHERE run_id=?",
                ("complete" if result.complete else "partial", result.model_dump_json(), result.run_id),
            )

    def finished(self, run_id: str) -> RunResult | None:
        """The result a run last finished with (exact id), or None: one row read, not every run's."""
        row = self.db.execute("SELECT result FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return RunResult.model_validate_json(row[0]) if row is not None and row[0] is not None else None

    def result(self, run_id: str) -> RunResult:
        row = self.db.execute("SELECT result FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            matches = [r[0] for r in self.db.execute("SELECT run_id FROM runs WHERE run_id LIKE ?", (run_id + "%",))]
            if len(matches) == 1:
                return self.result(matches[0])
            raise InputError(f"no run '{run_id}' in {self.path} (`llmatlas results` lists them)", field="run")
        if row[0] is None:
            raise InputError(f"run '{run_id}' has not finished; run the same command again to resume", field="run")
        return RunResult.model_validate_json(row[0])

    def runs(self) -> list[RunRecord]:
        """Every run, oldest first, with its spec, progress, status and (when finished) result."""
        rows = self.db.execute(
            "SELECT r.run_id, r.created, r.model, r.task, r.status, r.config, r.error, r.result, "
            "(SELECT COUNT(*) FROM samples s WHERE s.run_id = r.run_id) FROM runs r ORDER BY r.created"
        )
        return [
            RunRecord(
                run_id=run_id,
                created=created,
                model=model,
                task=task,
                status=status,
                spec=json.loads(config),
                samples=n,
                error=error,
                result=RunResult.model_validate_json(result) if result else None,
            )
            for run_id, created, model, task, status, config, error, result, n in rows
        ]
