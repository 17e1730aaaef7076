"""SQLite the way every llmatlas store uses it (the run journal, the arena): WAL, a busy timeout,
write transactions that take the lock up front, and named, append-only migrations applied under
that lock — as Simon Willison's ``llm`` does — so any number of processes may open a new file at
once.

Two things make concurrent opening of a fresh file safe:

* switching a file to WAL needs an exclusive lock, and SQLite answers "database is locked" at once
  (without waiting for the busy timeout) when several processes try together: :func:`connect`
  retries with jitter until the file is in WAL mode;
* the schema version is read *inside* ``BEGIN IMMEDIATE``, so two processes cannot both see
  version 0 and both create the tables.

A migration is ``(name, sql)``. The list is append-only: a store's ``PRAGMA user_version`` counts the
migrations applied, and ``_migrations`` records their names, which are checked on every open (a
renamed or reordered migration is an error rather than a silently skipped schema change).
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

BUSY_TIMEOUT_S = 30.0
Migration = tuple[str, str]  # (name, SQL script)


def connect(path: str | Path, *, timeout_s: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), in WAL mode, waiting up to
    ``timeout_s`` for locks."""
    db = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
    try:
        db.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
        _ensure_wal(db, Path(path), timeout_s)
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
    except BaseException:
        db.close()
        raise
    return db


def _ensure_wal(db: sqlite3.Connection, path: Path, timeout_s: float) -> None:
    """Switch the file to WAL (a property of the file: later connections inherit it), retrying while
    other processes hold the lock the switch needs."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            if str(db.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower() == "wal":
                return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
        if time.monotonic() > deadline:
            raise sqlite3.OperationalError(f"cannot switch {path} to WAL mode: the database stays locked")
        time.sleep(random.uniform(0.005, 0.05))


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """A write transaction that takes the write lock up front (no lock-upgrade deadlocks)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    else:
        db.execute("COMMIT")


def statements(script: str) -> list[str]:
    """Split a script into statements, so it runs inside our own transaction (``executescript``
    would commit first)."""
    out: list[str] = []
    buf = ""
    for ch in script:
        buf += ch
        if ch == ";" and sqlite3.complete_statement(buf):  # a ';' inside quotes does not complete one
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


_LEDGER = "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)"


def migrate(db: sqlite3.Connection, migrations: Sequence[Migration], *, store: str = "database") -> int:
    """Apply the migrations this file has not seen, all under one write lock; returns the version.

    A file written by an older llmatlas (versions counted in ``user_version`` before names were
    recorded) gets its applied migrations' names recorded on first open.
    """
    names = [name for name, _ in migrations]
    if len(set(names)) != len(names):
        raise ValueError(f"{store}: migration names must be unique")
    with transaction(db):
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > len(migrations):
            raise sqlite3.DatabaseError(
                f"{store} was written by a newer llmatlas (schema {version}, this one knows {len(migrations)})"
            )
        db.execute(_LEDGER)
        recorded = [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")]
        now = dt.datetime.now(dt.UTC).isoformat()
        if not recorded and version:
            db.executemany("INSERT INTO _migrations(name, applied) VALUES (?, ?)", [(n, now) for n in names[:version]])
        elif recorded != names[:version]:
            raise sqlite3.DatabaseError(
                f"{store}: applied migrations {recorded} do not match this llmatlas's first {version} {names[:version]}"
            )
        for i, (name, sql) in enumerate(migrations[version:], start=version + 1):
            for stmt in statements(sql):
                db.execute(stmt)
            db.execute("INSERT INTO _migrations(name, applied) VALUES (?, ?)", (name, now))
            db.execute(f"PRAGMA user_version={i}")
        return len(migrations)
