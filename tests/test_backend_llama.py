"""The llama backend on the embedded SmolLM2 (slow tier): shared-context scores equal per-choice ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmatlas.backends.base import MCQuestion
from llmatlas.backends.registry import load_backend
from llmatlas.engine.journal import Journal
from llmatlas.engine.runner import EvalConfig, run_task
from llmatlas.tasks.registry import get_task

pytestmark = pytest.mark.slow
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def smollm2():  # type: ignore[no-untyped-def]
    b = load_backend("smollm2")
    yield b
    b.close()


def test_shared_context_equals_per_choice_reference(smollm2) -> None:  # type: ignore[no-untyped-def]
    task = get_task("arc_easy")
    questions = [task.question(d) for d in task.load(str(DATA)).samples[:25]]
    questions.append(MCQuestion("The capital of France is", (" Paris", " a", " Lyon, a city of France")))
    fast = smollm2.loglikelihood(questions)
    ref = smollm2.loglikelihood_reference(questions)
    for f_row, r_row in zip(fast, ref, strict=True):
        for f, r in zip(f_row, r_row, strict=True):
            assert f.n_tokens == r.n_tokens and f.greedy == r.greedy
            assert abs(f.logprob - r.logprob) <= 1e-4


def test_chunk_size_gives_identical_predictions(smollm2, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    results = []
    for chunk in (1, 16):
        jr = Journal(tmp_path / f"j{chunk}.sqlite")
        res = run_task(smollm2, "arc_easy", EvalConfig(limit=20, data_dir=str(DATA), chunk=chunk), jr)
        results.append([(s.prediction, s.logprobs) for s in jr.samples(res.run_id)])
        jr.close()
    assert results[0] == results[1]


def test_real_eval_beats_nothing_and_records_audit_data(smollm2, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    jr = Journal(tmp_path / "j.sqlite")
    res = run_task(smollm2, "hellaswag", EvalConfig(limit=20, data_dir=str(DATA)), jr)
    assert res.n == 20 and 0.0 <= res.metrics["acc"].value <= 1.0
    assert res.backend == "llama" and res.backend_details["sha256_1MiB"]
    s = jr.samples(res.run_id)[0]
    assert len(s.logprobs) == 4 and all(lp < 0 for lp in s.logprobs)
