"""Campaigns on a real local Ray cluster (2 CPUs): shards merge to the single-process result, and a
worker killed mid-shard still leaves every sample in the journal exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmatlas import api
from llmatlas.backends.registry import load_backend
from llmatlas.core.paths import cache_dir
from llmatlas.engine.distributed import shard_dir
from llmatlas.engine.journal import Journal
from llmatlas.engine.runner import EvalConfig, run_task

# Skipped where ray is not installed, except in CI (.ci/run sets LLMATLAS_REQUIRE_RAY): there it must run.
ray = __import__("ray") if os.environ.get("LLMATLAS_REQUIRE_RAY") else pytest.importorskip("ray")

pytestmark = pytest.mark.slow

SPEC = "smollm2?threads=1"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """One local Ray cluster for the module: starting one takes ~10 s on this machine."""
    env = {k: v for k, v in os.environ.items() if k.startswith("LLMATLAS_")}
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": env}, logging_level="WARNING")
    yield ray
    ray.shutdown()


def single_process(task: str, limit: int, tmp_path: Path) -> tuple[Any, list[Any]]:
    backend = load_backend(SPEC)
    journal = Journal(tmp_path / "single.sqlite")
    try:
        result = run_task(backend, task, EvalConfig(limit=limit), journal)
        return result, journal.samples(result.run_id)
    finally:
        journal.close()
        backend.close()


def campaign_file(tmp_path: Path, task: str, limit: int, chunk: int | None = None) -> Path:
    p = tmp_path / "ray.yaml"
    p.write_text(
        f"name: on-ray\nmodels:\n  - spec: '{SPEC}'\n    replicas: 2\n    memory_gb: 2\n"
        f"tasks: [{task}]\nlimit: {limit}\nshards: 2\njournal: ray.sqlite\n" + (f"chunk: {chunk}\n" if chunk else ""),
        encoding="utf-8",
    )
    return p


def counts(journal: Path, run_id: str) -> tuple[int, int]:
    db = sqlite3.connect(journal)
    try:
        row = db.execute("SELECT COUNT(*), COUNT(DISTINCT doc_id) FROM samples WHERE run_id=?", (run_id,)).fetchone()
    finally:
        db.close()
    return int(row[0]), int(row[1])


def same_records(merged: list[Any], single: list[Any]) -> None:
    """Item for item: the same items in the same order, the same per-item metrics and prediction,
    and log-likelihoods equal to float32 rounding (the shards batch items differently)."""
    assert [r.doc_id for r in merged] == [r.doc_id for r in single]
    for a, b in zip(merged, single, strict=True):
        assert a.metrics == b.metrics and a.prediction == b.prediction and a.gold == b.gold
        assert a.prompt == b.prompt and a.n_tokens == b.n_tokens
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-4)


def merged_result(journal: Path, run_id: str, single_records: list[Any]) -> Any:
    """The merged run's result, after checking its samples against the single process's."""
    j = Journal(journal)
    try:
        same_records(j.samples(run_id), single_records)
        return j.result(run_id)
    finally:
        j.close()


def test_two_shards_merge_to_the_single_process_result(cluster: Any, tmp_path: Path) -> None:
    single, single_records = single_process("arc_easy", 12, tmp_path)
    roll = api.run_campaign(campaign_file(tmp_path, "arc_easy", 12), ray="local")
    (row,) = roll.rows
    assert row.status == "complete" and row.run_id == single.run_id and row.n == 12 and row.shards == 2
    assert row.metrics == {k: m.value for k, m in single.metrics.items()}
    journal = tmp_path / "ray.sqlite"
    assert counts(journal, single.run_id) == (12, 12)
    merged = merged_result(journal, single.run_id, single_records)
    assert merged.metrics == single.metrics and merged.config["shards"] == 2
    assert sorted(p.name for p in shard_dir().glob(f"{single.run_id}.*of2.sqlite")) == [
        f"{single.run_id}.0of2.sqlite",
        f"{single.run_id}.1of2.sqlite",
    ]
    # the same campaign again: every sample is in the journal, nothing is sent to a worker
    again = api.run_campaign(campaign_file(tmp_path, "arc_easy", 12), ray="local")
    assert again.rows[0].metrics == row.metrics and counts(journal, single.run_id) == (12, 12)


def test_a_worker_killed_mid_shard_leaves_every_sample_exactly_once(cluster: Any, tmp_path: Path) -> None:
    limit = 24
    single, single_records = single_process("arc_easy", limit, tmp_path)
    path = campaign_file(tmp_path, "arc_easy", limit, chunk=1)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["rollup"] = api.run_campaign(path, ray="local")
        except BaseException as exc:  # pragma: no cover - shown by the assertion below
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    killed: int | None = None
    deadline = time.monotonic() + 240
    shard = shard_dir() / f"{single.run_id}.0of2.sqlite"
    while killed is None and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.05)
        if not shard.exists():
            continue
        try:
            n, _ = counts(shard, single.run_id)
        except sqlite3.Error:
            continue
        if 2 <= n < limit // 2:  # mid-shard: some samples journaled on the worker, more to come
            lock = shard.with_name(f"{shard.name}.{single.run_id}.lock")
            pid = int(lock.read_text().strip())
            assert pid != os.getpid()
            os.kill(pid, signal.SIGKILL)
            killed = n
    assert killed is not None, "the shard finished before its worker could be killed"
    thread.join(timeout=300)
    assert "error" not in outcome, outcome.get("error")
    (row,) = outcome["rollup"].rows
    assert row.status == "complete" and row.n == limit
    journal = tmp_path / "ray.sqlite"
    assert counts(journal, single.run_id) == (limit, limit)  # every sample, exactly once
    merged = merged_result(journal, single.run_id, single_records)
    assert merged.metrics == single.metrics
    assert merged.config["resumed"], "the retried shard resumed from its worker's journal"
    # the retry scored only what the killed worker had not journaled
    assert merged.config["scored_this_session"] == limit - killed
    assert str(cache_dir()) in str(shard)
