"""Arena battles and votes in SQLite (WAL), safe under many concurrent voters.

The web UI's blind arena shows two anonymous answers; the models are revealed only by the reply to
a vote. Every call opens its own short-lived connection, so one ``ArenaStore`` may be shared by any
number of threads, and several processes may use the same file. Writes run in ``BEGIN IMMEDIATE``
transactions with a 30 s busy timeout, so concurrent voters queue instead of failing, and the
``votes`` primary key on ``battle_id`` makes "one vote per battle" an atomic guarantee of the
database rather than a check-then-write race. Connections, transactions and the named migrations
are :mod:`llmatlas.core.sqlite`'s, shared with the run journal.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, cast, get_args

from pydantic import BaseModel, Field

from llmatlas.core.errors import InputError
from llmatlas.core.paths import user_dir
from llmatlas.core.sqlite import BUSY_TIMEOUT_S, Migration, connect, migrate, transaction

Winner = Literal["a", "b", "tie", "both_bad"]
WINNERS: tuple[str, ...] = get_args(Winner)

MIGRATIONS: tuple[Migration, ...] = (
    (
        "create battles and votes",
        """
    CREATE TABLE battles (
        id TEXT PRIMARY KEY,
        created TEXT NOT NULL,
        prompt TEXT NOT NULL,
        model_a TEXT NOT NULL,
        model_b TEXT NOT NULL,
        answer_a TEXT NOT NULL,
        answer_b TEXT NOT NULL,
        meta TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE votes (
        battle_id TEXT PRIMARY KEY REFERENCES battles(id),
        created TEXT NOT NULL,
        winner TEXT NOT NULL CHECK (winner IN ('a', 'b', 'tie', 'both_bad')),
        voter TEXT
    );
    CREATE INDEX votes_by_created ON votes(created);
    """,
    ),
)


def default_path() -> Path:
    return user_dir() / "arena.sqlite"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class Battle(BaseModel):
    """One blind battle; ``winner`` is None until it has been voted on. ``created`` is ISO-8601 UTC."""

    id: str
    created: str
    prompt: str
    model_a: str
    model_b: str
    answer_a: str
    answer_b: str
    winner: Winner | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


class VoteRecord(BaseModel):
    """One vote joined with its battle's models: the input of the ratings."""

    battle_id: str
    model_a: str
    model_b: str
    winner: Winner
    created: str


class ArenaStore:
    """Battles and votes in one SQLite file (default ``<user dir>/arena.sqlite``)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            migrate(db, MIGRATIONS, store=f"arena store {self.path}")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection per call: no connection is ever shared between threads."""
        db = connect(self.path, timeout_s=BUSY_TIMEOUT_S)
        try:
            yield db
        finally:
            db.close()

    @property
    def schema_version(self) -> int:
        with self._connect() as db:
            return int(db.execute("PRAGMA user_version").fetchone()[0])

    # ---------------------------------------------------------------- battles

    def create_battle(
        self,
        prompt: str,
        model_a: str,
        model_b: str,
        answer_a: str,
        answer_b: str,
        meta: dict[str, Any] | None = None,
    ) -> str:
        """Record a battle (before anyone votes) and return its id (uuid4 hex)."""
        if not model_a or not model_b:
            raise InputError("a battle needs two model ids", field="model")
        if model_a == model_b:
            raise InputError(f"a battle needs two different models, got '{model_a}' twice", field="model")
        battle_id = uuid.uuid4().hex
        meta_json = json.dumps(meta or {}, ensure_ascii=False, default=str)
        with self._connect() as db, transaction(db):
            db.execute(
                "INSERT INTO battles(id, created, prompt, model_a, model_b, answer_a, answer_b, meta) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (battle_id, _now(), prompt, model_a, model_b, answer_a, answer_b, meta_json),
            )
        return battle_id

    _BATTLE_SQL = (
        "SELECT b.id, b.created, b.prompt, b.model_a, b.model_b, b.answer_a, b.answer_b, v.winner, b.meta "
        "FROM battles b LEFT JOIN votes v ON v.battle_id = b.id WHERE b.id = ?"
    )

    @staticmethod
    def _battle_from_row(row: tuple[Any, ...]) -> Battle:
        bid, created, prompt, model_a, model_b, answer_a, answer_b, winner, meta = row
        return Battle(
            id=bid,
            created=created,
            prompt=prompt,
            model_a=model_a,
            model_b=model_b,
            answer_a=answer_a,
            answer_b=answer_b,
            winner=winner,
            meta=json.loads(meta) if meta else {},
        )

    def battle(self, battle_id: str) -> Battle | None:
        with self._connect() as db:
            row = db.execute(self._BATTLE_SQL, (battle_id,)).fetchone()
        return self._battle_from_row(row) if row else None

    # ---------------------------------------------------------------- votes

    def vote(self, battle_id: str, winner: str, voter: str | None = None) -> Battle:
        """Record the one vote a battle may get and return the battle, models revealed.

        Raises ``InputError`` for an invalid winner, an unknown battle or a battle already voted on;
        the primary key makes the last check atomic, so of many racing voters exactly one wins.
        """
        if winner not in WINNERS:
            raise InputError(f"winner must be one of {', '.join(WINNERS)}, got {winner!r}", field="winner")
        with self._connect() as db:
            with transaction(db):
                row = db.execute(
                    "SELECT b.id, v.winner FROM battles b LEFT JOIN votes v ON v.battle_id = b.id WHERE b.id = ?",
                    (battle_id,),
                ).fetchone()
                if row is None:
                    raise InputError(f"no battle '{battle_id}'", field="battle_id")
                if row[1] is not None:
                    raise InputError(f"battle '{battle_id}' already has a vote", field="battle_id")
                try:
                    db.execute(
                        "INSERT INTO votes(battle_id, created, winner, voter) VALUES (?,?,?,?)",
                        (battle_id, _now(), winner, voter),
                    )
                except sqlite3.IntegrityError as exc:  # unreachable under BEGIN IMMEDIATE; kept as a guard
                    raise InputError(f"battle '{battle_id}' already has a vote", field="battle_id") from exc
            row = db.execute(self._BATTLE_SQL, (battle_id,)).fetchone()
        return self._battle_from_row(row)

    def votes(self) -> list[VoteRecord]:
        """Every vote with its battle's models, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT v.battle_id, b.model_a, b.model_b, v.winner, v.created "
                "FROM votes v JOIN battles b ON b.id = v.battle_id ORDER BY v.created, v.rowid"
            ).fetchall()
        return [
            VoteRecord(battle_id=r[0], model_a=r[1], model_b=r[2], winner=cast(Winner, r[3]), created=r[4])
            for r in rows
        ]

    def counts(self) -> dict[str, int]:
        """Votes per model (battles that were voted on and involved it), for the leaderboard."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT m, COUNT(*) FROM ("
                " SELECT b.model_a AS m FROM votes v JOIN battles b ON b.id = v.battle_id"
                " UNION ALL"
                " SELECT b.model_b AS m FROM votes v JOIN battles b ON b.id = v.battle_id"
                ") GROUP BY m ORDER BY m"
            ).fetchall()
        return {str(m): int(n) for m, n in rows}
