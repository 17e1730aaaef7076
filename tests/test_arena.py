"""The blind arena: the SQLite vote store under concurrency, and Bradley–Terry ratings with bootstrap CIs."""

from __future__ import annotations

import math
import multiprocessing as mp
import random
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmatlas.arena import ArenaStore, Battle, VoteRecord, bradley_terry, ratings_with_ci
from llmatlas.arena.store import MIGRATIONS
from llmatlas.core.errors import InputError

ELO = 400.0 / math.log(10.0)  # Elo points per unit of natural-log strength

Vote = tuple[str, str, str]


def simulate(true: dict[str, float], n: int, seed: int, tie_rate: float = 0.0) -> list[Vote]:
    """Battles between random pairs, won with the Bradley–Terry probability of the true Elo ratings."""
    rng = np.random.default_rng(seed)
    models = list(true)
    out: list[Vote] = []
    for _ in range(n):
        i, j = rng.choice(len(models), size=2, replace=False)
        a, b = models[int(i)], models[int(j)]
        if rng.random() < tie_rate:
            out.append((a, b, "tie"))
            continue
        p_a = 1.0 / (1.0 + 10.0 ** ((true[b] - true[a]) / 400.0))
        out.append((a, b, "a" if rng.random() < p_a else "b"))
    return out


def repeat(a: str, b: str, winner: str, times: int) -> list[Vote]:
    return [(a, b, winner)] * times


# ---------------------------------------------------------------- Bradley–Terry point estimates


def test_recovers_known_strengths() -> None:
    true = {"w": 1200.0, "x": 1100.0, "y": 1000.0, "z": 900.0}
    fitted = bradley_terry(simulate(true, 20_000, seed=7))
    for m in true:
        assert fitted[m] - fitted["z"] == pytest.approx(true[m] - true["z"], abs=25)
    assert sum(fitted.values()) / len(fitted) == pytest.approx(1000.0, abs=1e-9)


def test_symmetric_results_give_equal_ratings() -> None:
    votes = repeat("a", "b", "a", 10) + repeat("a", "b", "b", 10)
    r = bradley_terry(votes)
    assert r == pytest.approx({"a": 1000.0, "b": 1000.0}, abs=1e-6)
    cycle = repeat("a", "b", "a", 5) + repeat("b", "c", "a", 5) + repeat("c", "a", "a", 5)
    assert bradley_terry(cycle) == pytest.approx({"a": 1000.0, "b": 1000.0, "c": 1000.0}, abs=1e-6)


def test_ties_count_as_half_a_win_each_way() -> None:
    all_ties = repeat("a", "b", "tie", 7) + repeat("b", "c", "both_bad", 3)
    assert bradley_terry(all_ties) == pytest.approx({"a": 1000.0, "b": 1000.0, "c": 1000.0}, abs=1e-6)
    # 'both_bad' is a tie; and 2 ties weigh like one win plus one loss.
    base = repeat("a", "b", "a", 6) + repeat("a", "b", "b", 2)
    with_ties = bradley_terry([*base, *repeat("a", "b", "tie", 4)])
    with_bad = bradley_terry([*base, *repeat("a", "b", "both_bad", 4)])
    as_halves = bradley_terry([*base, *repeat("a", "b", "a", 2), *repeat("a", "b", "b", 2)])
    assert with_ties == pytest.approx(with_bad, abs=1e-9)
    assert with_ties == pytest.approx(as_halves, abs=1e-6)


def test_unbeaten_and_winless_models_get_finite_extreme_ratings() -> None:
    votes = (
        repeat("champ", "b", "a", 5)
        + repeat("b", "c", "a", 6)
        + repeat("b", "c", "b", 4)
        + repeat("c", "loser", "a", 3)
    )
    r = bradley_terry(votes)
    assert all(math.isfinite(v) for v in r.values())
    assert max(r, key=lambda m: r[m]) == "champ"
    assert min(r, key=lambda m: r[m]) == "loser"
    assert r["b"] > r["c"]
    rows = ratings_with_ci(votes, rounds=200)
    assert all(math.isfinite(x) for row in rows for x in (row.rating, row.ci_low, row.ci_high))
    assert rows[0].model == "champ"


@pytest.mark.parametrize(
    ("wins_a", "wins_b", "ties"),
    [(3, 1, 0), (30, 10, 5), (200, 7, 13), (1000, 3000, 500), (1, 1, 1), (2, 9, 40)],
)
def test_two_models_match_the_closed_form(wins_a: int, wins_b: int, ties: int) -> None:
    """For two models the MLE is θa − θb = ln(wa / wb), ties counted as halves: exact up to the tiny ridge."""
    votes = repeat("a", "b", "a", wins_a) + repeat("b", "a", "a", wins_b) + repeat("a", "b", "tie", ties)
    random.Random(0).shuffle(votes)
    r = bradley_terry(votes)
    expected = ELO * math.log((wins_a + ties / 2) / (wins_b + ties / 2))
    assert r["a"] - r["b"] == pytest.approx(expected, abs=1e-3)
    assert (r["a"] + r["b"]) / 2 == pytest.approx(1000.0, abs=1e-9)


def test_matches_an_independent_lbfgs_fit() -> None:
    """Same optimum as an unpenalised one-vote-at-a-time likelihood minimised by scipy's L-BFGS-B."""
    optimize = pytest.importorskip("scipy.optimize")
    true = {"p": 1150.0, "q": 1080.0, "r": 1000.0, "s": 990.0, "t": 870.0}
    votes = simulate(true, 1500, seed=3, tie_rate=0.15)
    models = sorted(true)
    ia = np.array([models.index(a) for a, _, _ in votes])
    ib = np.array([models.index(b) for _, b, _ in votes])
    y = np.array([{"a": 1.0, "b": 0.0, "tie": 0.5}[w] for _, _, w in votes])

    def nll(free: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.concatenate([[0.0], free])  # first model pinned at 0 for identifiability
        d = theta[ia] - theta[ib]
        p = 1.0 / (1.0 + np.exp(-d))
        loss = -(y * np.log(p) + (1 - y) * np.log(1 - p)).sum()
        g = np.zeros(len(models))
        np.add.at(g, ia, p - y)
        np.add.at(g, ib, y - p)
        return float(loss), g[1:]

    res = optimize.minimize(nll, np.zeros(len(models) - 1), jac=True, method="L-BFGS-B", options={"gtol": 1e-10})
    theta = np.concatenate([[0.0], res.x]) * ELO
    expected = theta - theta.mean() + 1000.0
    got = bradley_terry(votes)
    for k, m in enumerate(models):
        assert got[m] == pytest.approx(expected[k], abs=1e-2)


def test_anchor_disconnected_graphs_and_empty_input() -> None:
    votes = repeat("a", "b", "a", 3) + repeat("a", "b", "b", 1) + repeat("c", "d", "a", 1) + repeat("c", "d", "b", 3)
    r = bradley_terry(votes)
    # Two separate groups: each is centred on base, differences within a group are still the MLE.
    assert (r["a"] + r["b"]) / 2 == pytest.approx(1000.0, abs=1e-6)
    assert (r["c"] + r["d"]) / 2 == pytest.approx(1000.0, abs=1e-6)
    assert r["a"] - r["b"] == pytest.approx(ELO * math.log(3), abs=1e-3)
    anchored = bradley_terry(votes, anchor="b", base=1500.0, scale=400.0)
    assert anchored["b"] == pytest.approx(1500.0)
    assert anchored["a"] - anchored["b"] == pytest.approx(r["a"] - r["b"], abs=1e-9)
    assert bradley_terry([]) == {}
    assert ratings_with_ci([]) == []
    with pytest.raises(InputError, match="anchor"):
        bradley_terry(votes, anchor="nobody")


def test_scale_changes_only_the_units() -> None:
    votes = simulate({"a": 1100.0, "b": 1000.0, "c": 950.0}, 300, seed=1)
    r400 = bradley_terry(votes)
    r200 = bradley_terry(votes, scale=200.0, base=0.0)
    for m in r400:
        assert r200[m] == pytest.approx((r400[m] - 1000.0) / 2, abs=1e-6)


def test_rejects_bad_votes() -> None:
    with pytest.raises(InputError, match="winner"):
        bradley_terry([("a", "b", "left")])
    with pytest.raises(InputError, match="itself"):
        bradley_terry([("a", "a", "tie")])
    with pytest.raises(InputError, match="level"):
        ratings_with_ci([("a", "b", "a")], level=1.5)


# ---------------------------------------------------------------- bootstrap confidence intervals


def test_ci_contains_estimate_shrinks_with_votes_and_is_seeded() -> None:
    true = {"a": 1150.0, "b": 1050.0, "c": 1000.0, "d": 900.0}
    few = ratings_with_ci(simulate(true, 300, seed=11), rounds=300)
    many = ratings_with_ci(simulate(true, 6000, seed=12), rounds=300)
    for row in few + many:
        assert row.ci_low <= row.rating <= row.ci_high
    width_few = {r.model: r.ci_high - r.ci_low for r in few}
    width_many = {r.model: r.ci_high - r.ci_low for r in many}
    for m in true:
        assert width_many[m] < width_few[m] / 2  # ~ 1/sqrt(20) in theory
    assert [r.model for r in many] == ["a", "b", "c", "d"]
    assert [r.rating for r in many] == sorted((r.rating for r in many), reverse=True)

    votes = simulate(true, 500, seed=13)
    first = ratings_with_ci(votes, rounds=200, seed=5)
    assert ratings_with_ci(votes, rounds=200, seed=5) == first
    shuffled = votes[:]
    random.Random(1).shuffle(shuffled)
    again = ratings_with_ci(shuffled, rounds=200, seed=5)
    for x, y in zip(first, again, strict=True):
        assert x.model == y.model
        assert (x.rating, x.ci_low, x.ci_high) == pytest.approx((y.rating, y.ci_low, y.ci_high), abs=1e-9)
    other = ratings_with_ci(votes, rounds=200, seed=6)
    assert [r.ci_low for r in other] != [r.ci_low for r in first]
    narrow = ratings_with_ci(votes, rounds=200, seed=5, level=0.5)
    for wide_row, narrow_row in zip(first, narrow, strict=True):
        assert wide_row.ci_low <= narrow_row.ci_low <= narrow_row.ci_high <= wide_row.ci_high


def test_point_estimate_and_tallies() -> None:
    votes = repeat("a", "b", "a", 4) + repeat("b", "a", "a", 1) + repeat("a", "c", "tie", 2) + [("b", "c", "both_bad")]
    rows = {r.model: r for r in ratings_with_ci(votes, rounds=50)}
    assert (rows["a"].votes, rows["a"].wins, rows["a"].losses, rows["a"].ties) == (7, 4, 1, 2)
    assert (rows["b"].votes, rows["b"].wins, rows["b"].losses, rows["b"].ties) == (6, 1, 4, 1)
    assert (rows["c"].votes, rows["c"].wins, rows["c"].losses, rows["c"].ties) == (3, 0, 0, 3)
    point = bradley_terry(votes)
    for m, row in rows.items():
        assert row.rating == pytest.approx(point[m], abs=1e-9)
    zero = ratings_with_ci(votes, rounds=0)
    assert all(r.ci_low == r.rating == r.ci_high for r in zero)


def test_bootstrap_is_fast() -> None:
    """The docstring's claim: 1,000 rounds over 5,000 votes among 10 models well under 5 s on 2 cores."""
    true = {f"m{k}": 1300.0 - 45.0 * k for k in range(10)}
    votes = simulate(true, 5000, seed=2, tie_rate=0.1)
    start = time.perf_counter()
    rows = ratings_with_ci(votes, rounds=1000)
    elapsed = time.perf_counter() - start
    assert len(rows) == 10
    assert elapsed < 5.0, f"bootstrap took {elapsed:.2f} s"


model_names = st.sampled_from(["m1", "m2", "m3", "m4", "m5"])
vote_strategy = st.tuples(model_names, model_names, st.sampled_from(["a", "b", "tie", "both_bad"])).filter(
    lambda v: v[0] != v[1]
)


@settings(max_examples=60, deadline=None)
@given(votes=st.lists(vote_strategy, min_size=1, max_size=40), order_seed=st.integers(0, 2**16))
def test_ratings_are_finite_centred_and_order_free(votes: list[Vote], order_seed: int) -> None:
    r = bradley_terry(votes)
    assert all(math.isfinite(v) for v in r.values())
    assert sum(r.values()) / len(r) == pytest.approx(1000.0, abs=1e-6)
    shuffled = votes[:]
    random.Random(order_seed).shuffle(shuffled)
    assert bradley_terry(shuffled) == pytest.approx(r, abs=1e-9)
    records = [
        VoteRecord(battle_id=str(k), model_a=a, model_b=b, winner=w, created="") for k, (a, b, w) in enumerate(votes)
    ]
    assert bradley_terry(records) == pytest.approx(r, abs=1e-9)


# ---------------------------------------------------------------- the store


def test_store_create_vote_read(tmp_path: Path) -> None:
    store = ArenaStore(tmp_path / "arena.sqlite")
    bid = store.create_battle("2+2?", "gpt-4o", "llama-2-70b", "4", "four", meta={"latency_a": 0.5})
    assert len(bid) == 32 and int(bid, 16) >= 0
    battle = store.battle(bid)
    assert isinstance(battle, Battle)
    assert (battle.prompt, battle.model_a, battle.model_b, battle.answer_a, battle.answer_b) == (
        "2+2?",
        "gpt-4o",
        "llama-2-70b",
        "4",
        "four",
    )
    assert battle.winner is None and battle.meta == {"latency_a": 0.5}
    assert store.votes() == [] and store.counts() == {}

    voted = store.vote(bid, "b", voter="alice")
    assert voted.winner == "b" and voted.model_a == "gpt-4o"
    assert store.battle(bid) == voted
    with pytest.raises(InputError, match="already"):
        store.vote(bid, "a")
    with pytest.raises(InputError, match="winner"):
        store.vote(store.create_battle("p", "x", "y", "1", "2"), "left")
    with pytest.raises(InputError, match="no battle"):
        store.vote("0" * 32, "tie")
    with pytest.raises(InputError, match="different"):
        store.create_battle("p", "x", "x", "1", "2")
    assert store.battle("missing") is None

    other = store.create_battle("hi", "gpt-4o", "mixtral-8x7b", "hello", "hey")
    store.vote(other, "both_bad")
    votes = store.votes()
    assert [(v.battle_id, v.model_a, v.model_b, v.winner) for v in votes] == [
        (bid, "gpt-4o", "llama-2-70b", "b"),
        (other, "gpt-4o", "mixtral-8x7b", "both_bad"),
    ]
    assert store.counts() == {"gpt-4o": 2, "llama-2-70b": 1, "mixtral-8x7b": 1}
    assert {r.model for r in ratings_with_ci(votes, rounds=20)} == {"gpt-4o", "llama-2-70b", "mixtral-8x7b"}


def test_store_schema_and_migrations_are_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "arena.sqlite"
    first = ArenaStore(path)
    bid = first.create_battle("p", "a", "b", "1", "2")
    second = ArenaStore(path)  # opening again applies nothing and loses nothing
    assert second.schema_version == len(MIGRATIONS)
    assert second.battle(bid) is not None
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        with pytest.raises(sqlite3.IntegrityError):  # the database itself refuses a bad winner
            db.execute("INSERT INTO votes(battle_id, created, winner) VALUES (?, '', 'left')", (bid,))
    finally:
        db.close()


def test_store_default_path_is_in_the_user_dir(isolated_home: Path) -> None:
    store = ArenaStore()
    assert store.path == isolated_home / "arena.sqlite"
    assert store.path.exists()


# ---------------------------------------------------------------- concurrency: no vote lost, none doubled


def test_fifty_concurrent_voters_lose_nothing(tmp_path: Path) -> None:
    store = ArenaStore(tmp_path / "arena.sqlite")
    shared = store.create_battle("shared", "a", "b", "x", "y")
    barrier = threading.Barrier(100)
    created: list[str] = []
    outcomes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def own_battle(k: int) -> None:
        try:
            barrier.wait()
            bid = store.create_battle(f"prompt {k}", f"m{k % 5}", f"m{(k + 1) % 5}", "x", "y")
            store.vote(bid, ["a", "b", "tie", "both_bad"][k % 4], voter=f"v{k}")
            with lock:
                created.append(bid)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    def race(k: int) -> None:
        barrier.wait()
        try:
            store.vote(shared, "a" if k % 2 else "b", voter=f"r{k}")
            result = "ok"
        except InputError as exc:
            result = "dup" if "already" in str(exc) else f"other: {exc}"
        except BaseException as exc:
            result = f"other: {exc!r}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=own_battle, args=(k,)) for k in range(50)]
    threads += [threading.Thread(target=race, args=(k,)) for k in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert Counter(outcomes) == {"ok": 1, "dup": 49}
    ids = [v.battle_id for v in store.votes()]
    assert len(ids) == len(set(ids)) == 51
    assert set(ids) == {*created, shared}
    assert sum(store.counts().values()) == 2 * 51


def _process_voter(path: str, worker: int, n: int) -> list[str]:
    """One voting process: its own store object, battles and votes (module level so spawn can import it)."""
    store = ArenaStore(path)
    out = []
    for k in range(n):
        bid = store.create_battle(f"w{worker} p{k}", f"m{worker}", f"n{(worker + k) % 8}", "x", "y")
        store.vote(bid, ["a", "b", "tie"][k % 3], voter=f"w{worker}")
        out.append(bid)
    return out


def test_eight_processes_lose_no_vote(tmp_path: Path) -> None:
    path = str(tmp_path / "fresh" / "arena.sqlite")  # not created yet: processes also race to migrate it
    with mp.get_context("spawn").Pool(8) as pool:
        results = pool.starmap(_process_voter, [(path, w, 25) for w in range(8)])
    expected = {bid for ids in results for bid in ids}
    assert len(expected) == 200
    ids = [v.battle_id for v in ArenaStore(path).votes()]
    assert len(ids) == 200
    assert set(ids) == expected
