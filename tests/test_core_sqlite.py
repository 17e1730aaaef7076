"""core.sqlite: the one SQLite helper the journal and the arena share (WAL, write transactions,
named migrations under the write lock)."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from pathlib import Path

import pytest

from llmatlas.arena import store as arena_store
from llmatlas.arena.store import ArenaStore
from llmatlas.core.sqlite import connect, migrate, transaction
from llmatlas.engine.journal import MIGRATIONS, Journal

PROCESSES = 8
ROUNDS = 20


def _open_journal(args: tuple[str, int]) -> str:
    """Open a (possibly brand new) journal, register a run, close: 'ok' or the error."""
    path, worker = args
    try:
        j = Journal(path)
        try:
            j.start(f"run-{worker}", "mock:m", "arc_easy", {"worker": worker})
        finally:
            j.close()
        return "ok"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def test_eight_processes_open_a_fresh_journal_at_once(tmp_path: Path) -> None:
    """The failure this fixes: 115 of 160 opens failed ('table runs already exists', 'database is
    locked') when the schema version was read outside the write lock."""
    ctx = mp.get_context("spawn")
    failures: list[str] = []
    with ctx.Pool(PROCESSES) as pool:
        for round_ in range(ROUNDS):
            path = str(tmp_path / f"journal-{round_}.sqlite")
            results = pool.map(_open_journal, [(path, w) for w in range(PROCESSES)])
            failures += [r for r in results if r != "ok"]
            db = sqlite3.connect(path)
            try:
                assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
                assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == PROCESSES
                assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            finally:
                db.close()
    assert not failures, f"{len(failures)} of {PROCESSES * ROUNDS} opens failed: {failures[:3]}"


def test_arena_store_and_journal_share_the_migration_ledger(tmp_path: Path) -> None:
    store = ArenaStore(tmp_path / "arena.sqlite")
    assert store.schema_version == 1
    j = Journal(tmp_path / "runs.sqlite")
    j.close()
    for name, migrations in (("arena.sqlite", arena_store.MIGRATIONS), ("runs.sqlite", MIGRATIONS)):
        db = sqlite3.connect(tmp_path / name)
        names = [r[0] for r in db.execute("SELECT name FROM _migrations")]
        db.close()
        assert names and names == [m[0] for m in migrations]


def test_migrations_are_named_append_only_and_recorded(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    first = [("one", "CREATE TABLE a (x INTEGER);")]
    both = [*first, ("two", "CREATE TABLE b (y INTEGER); CREATE INDEX b_y ON b(y);")]
    db = connect(path)
    assert migrate(db, first) == 1
    assert migrate(db, both) == 2  # only the new one runs
    assert [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")] == ["one", "two"]
    with pytest.raises(sqlite3.DatabaseError, match="do not match"):
        migrate(db, [("renamed", "CREATE TABLE a (x INTEGER);"), both[1]])
    with pytest.raises(sqlite3.DatabaseError, match="newer llmatlas"):
        migrate(db, first)
    db.close()


def test_a_journal_from_before_the_ledger_opens_and_is_recorded(tmp_path: Path) -> None:
    """Files written by the previous llmatlas counted migrations in user_version only."""
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path, isolation_level=None)
    old.executescript(f"BEGIN; {MIGRATIONS[0][1]} PRAGMA user_version=1; COMMIT;")
    old.execute("INSERT INTO runs(run_id, created, model, task, config) VALUES ('r', 'now', 'm', 't', '{}')")
    old.close()
    j = Journal(path)
    try:
        assert [r.run_id for r in j.runs()] == ["r"]
        names = [r[0] for r in j.db.execute("SELECT name FROM _migrations")]
        assert names == [m[0] for m in MIGRATIONS]  # the old schema adopted, the later ones applied
    finally:
        j.close()


def test_a_failed_migration_leaves_nothing_half_done(tmp_path: Path) -> None:
    db = connect(tmp_path / "y.sqlite")
    bad = [("ok", "CREATE TABLE a (x INTEGER);"), ("broken", "CREATE TABLE b (y INTEGER); NOT SQL;")]
    with pytest.raises(sqlite3.OperationalError):
        migrate(db, bad)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 0
    assert not db.execute("SELECT name FROM sqlite_master WHERE name IN ('a', '_migrations')").fetchall()
    with transaction(db):
        db.execute("CREATE TABLE c (z INTEGER)")
    db.close()


def test_core_imports_no_other_llmatlas_package() -> None:
    """core/ is the bottom layer: every other package may use it, it uses none of them."""
    import ast

    core = Path(__file__).resolve().parents[1] / "src" / "llmatlas" / "core"
    for path in core.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            for name in names:
                assert not name.startswith("llmatlas") or name.startswith("llmatlas.core"), (path.name, name)


def test_api_evaluate_runs_journals_and_resumes(tmp_path: Path) -> None:
    """The library's evaluate(): the one load-backend / open-journal / run / close sequence that the
    CLI, the quickstart and the advisor's --eval share."""
    from llmatlas import api

    data = Path(__file__).parent / "data"
    journal = tmp_path / "runs.sqlite"
    (first,) = api.evaluate("mock:m", ["arc_easy"], limit=5, data_dir=str(data), journal_path=journal)
    (again,) = api.evaluate("mock:m", ["arc_easy"], limit=5, data_dir=str(data), journal_path=journal)
    assert first.n == again.n == 5 and first.run_id == again.run_id
    assert again.config.get("resumed") is True or again.metrics == first.metrics
    with pytest.raises(Exception, match="unknown task"):
        api.evaluate("mock:m", ["no_such_task"], journal_path=journal)


def test_a_journal_of_the_first_schema_migrates_and_records_failures(tmp_path: Path) -> None:
    """A journal written before the error column opens, lists its runs, and records a failure."""
    path = tmp_path / "old.sqlite"
    db = connect(path)
    migrate(db, MIGRATIONS[:1], store="old journal")
    with transaction(db):
        db.execute(
            "INSERT INTO runs(run_id, created, model, task, config) VALUES "
            "('r1', '2026-01-02T03:04:05+00:00', 'm', 'arc_easy', '{\"task\": \"arc_easy\"}')"
        )
    db.close()
    j = Journal(path)
    (run,) = j.runs()
    assert run.run_id == "r1" and run.status == "running" and run.spec == {"task": "arc_easy"} and run.error is None
    j.fail("r1", "RuntimeError: server went away")
    (run,) = j.runs()
    assert run.status == "failed" and run.error == "RuntimeError: server went away"
    assert j.start("r1", "m", "arc_easy", {"task": "arc_easy"}) is True  # started again: a resume
    (run,) = j.runs()
    assert run.status == "running" and run.error is None
    j.close()
