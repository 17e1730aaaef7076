"""MT-Bench on scripted backends: two-turn answering, judge prompts, strict verdicts, A/B comparisons, runs."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from llmatlas.backends.base import Backend, BackendInfo, ContinuationScore, Generation, GenerationRequest, MCQuestion
from llmatlas.backends.registry import load_backend
from llmatlas.core.errors import InputError
from llmatlas.engine.journal import Journal
from llmatlas.engine.runner import EvalConfig, run_task
from llmatlas.tasks.mt_bench import (
    JUDGE_MAX_TOKENS,
    JudgeFormatError,
    MtBenchTask,
    combine_pair,
    compare_runs_pairwise,
    judge_prompts,
    pair_judge_requests,
    pairwise,
    pairwise_cli_summary,
    parse_rating,
    parse_verdict,
    single_judge_request,
)
from llmatlas.tasks.registry import get_task
from llmatlas.tasks.scorers import parse_rating as judge_scorer_rating
from llmatlas.tasks.task import Sample

DATA = Path(__file__).parent / "data"
Reply = Callable[[GenerationRequest], "str | Generation"]


class Scripted(Backend):
    """Answers with ``reply(request)`` and keeps every request, to look at what was asked."""

    name = "scripted"

    def __init__(self, reply: Reply, model: str = "scripted") -> None:
        super().__init__(model)
        self.reply = reply
        self.requests: list[GenerationRequest] = []

    def info(self) -> BackendInfo:
        return BackendInfo(backend=self.name, model=self.target)

    def loglikelihood(self, questions: Sequence[MCQuestion], progress: object = None) -> list[list[ContinuationScore]]:
        raise NotImplementedError

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        self.requests.extend(requests)
        out = []
        for r in requests:
            got = self.reply(r)
            out.append(got if isinstance(got, Generation) else Generation(text=got))
        return out


def loaded_docs() -> list[Sample]:
    return MtBenchTask().load(str(DATA)).samples


def by_category(docs: list[Sample]) -> dict[str, Sample]:
    return {str(d.group): d for d in docs}


def judged(task: MtBenchTask, docs: list[Sample], judge: Backend) -> list[tuple[dict[str, float], dict[str, object]]]:
    """Answer with a scripted model, grade with ``judge``: (metrics, details) per doc."""
    model = Scripted(lambda r: f"answer to: {r.prompt[:30]}")
    outputs = task.solve(model, docs, [d.turns[0] for d in docs])
    return [(s.metrics, s.details) for s in task.score_batch(docs, outputs, judge)]


# ------------------------------------------------------------------------------------------ answering


def test_turn_two_sees_turn_one_answer_in_history() -> None:
    task, docs = MtBenchTask(), loaded_docs()
    model = Scripted(lambda r: f"reply #{len(r.history)} to {r.prompt[:20]}")
    out = task.solve(model, docs, [d.turns[0] for d in docs])
    first, second = model.requests[: len(docs)], model.requests[len(docs) :]
    assert [r.history for r in first] == [()] * len(docs)
    for doc, gens, req in zip(docs, out, second, strict=True):
        assert [g.extra["turn"] for g in gens] == [0, 1]
        assert req.prompt == doc.turns[1]
        assert req.history == (("user", doc.turns[0]), ("assistant", gens[0].text))
        assert req.chat and req.max_tokens == 1024
    temps = {d.group: r.temperature for d, r in zip(docs, first, strict=True)}
    assert temps == {"writing": 0.7, "math": 0.0, "coding": 0.0, "reasoning": 0.0}


def test_explicit_temperature_overrides_the_categories() -> None:
    task, docs = MtBenchTask(), loaded_docs()
    task.temperature = 0.3
    model = Scripted(lambda r: "ok")
    task.solve(model, docs, [d.turns[0] for d in docs])
    assert {r.temperature for r in model.requests} == {0.3}


def test_turn_two_is_not_asked_after_a_failed_turn_one() -> None:
    task, docs = MtBenchTask(), loaded_docs()[:2]
    model = Scripted(lambda r: Generation(text="", error="boom") if "Hawaii" in r.prompt else "fine")
    out = task.solve(model, docs, [d.turns[0] for d in docs])
    assert len(model.requests) == 3  # two first turns, one second turn
    assert out[0][1].error and out[0][1].extra["turn"] == 1
    judge = Scripted(lambda r: "Rating: [[6]]")
    scored = task.score_batch(docs, out, judge)
    assert len(judge.requests) == 2  # the failed conversation is not graded
    assert "score" not in scored[0].metrics and scored[0].details["judge_failures"] == 0
    assert scored[1].metrics["score"] == 6.0


def test_more_than_one_sample_is_refused() -> None:
    with pytest.raises(InputError, match="samples"):
        MtBenchTask().set_samples(3)


# ------------------------------------------------------------------------------------------ references and prompts


def test_reference_only_for_math_reasoning_and_coding() -> None:
    docs = by_category(loaded_docs())
    assert docs["writing"].target is None
    assert docs["math"].target == ["Area is 3", "5pi"]  # inline
    assert docs["coding"].target[0].startswith("<!DOCTYPE html>")  # no inline one: the GPT-4 file
    assert docs["reasoning"].target[0] == "Thomas may work at a hospital."  # inline turn 1
    assert len(docs["reasoning"].target[1]) > 100  # empty inline turn 2: the GPT-4 answer

    judge = Scripted(lambda r: "[[5]]")
    task = MtBenchTask()
    judged(task, list(docs.values()), judge)
    with_ref: dict[str, list[bool]] = {cat: [] for cat in docs}
    for r in judge.requests:
        cat = next(c for c, d in docs.items() if d.turns[0] in r.prompt)
        with_ref[cat].append("[Reference answer: start]" in r.prompt or "<|Reference answers: start|>" in r.prompt)
    assert with_ref == {
        "writing": [False, False],
        "math": [True, True],
        "coding": [True, True],
        "reasoning": [True, True],
    }
    assert all(r.temperature == 0.0 and r.max_tokens == JUDGE_MAX_TOKENS for r in judge.requests)


def test_missing_reference_file_is_an_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # out of reach of ./shared/data and ../shared/data
    monkeypatch.delenv("LLMATLAS_DATA_DIR", raising=False)
    (tmp_path / "mt_bench_questions.jsonl").write_text(
        (DATA / "mt_bench_questions.jsonl").read_text(encoding="utf-8"), encoding="utf-8"
    )
    with pytest.raises(InputError, match="reference answer"):
        MtBenchTask().load(str(tmp_path))


def test_bad_question_row_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "mt_bench_questions.jsonl").write_text(
        json.dumps({"question_id": 1, "category": "writing", "turns": ["only one"]}) + "\n", encoding="utf-8"
    )
    with pytest.raises(InputError, match=r"mt_bench_questions.jsonl:1.*turns"):
        MtBenchTask().load(str(tmp_path))


def test_turn_two_judge_prompt_shows_the_whole_conversation() -> None:
    req = single_judge_request(["Q-one", "Q-two"], ["A-one", "A-two"])
    assert [req.prompt.index(s) for s in ("Q-one", "A-one", "Q-two", "A-two")] == sorted(
        req.prompt.index(s) for s in ("Q-one", "A-one", "Q-two", "A-two")
    )
    assert req.system and "second" in req.system and "[[rating]]" in req.system
    one = single_judge_request("Q-one", "A-one", "R-one")
    assert "R-one" in one.prompt and "Q-two" not in one.prompt


@pytest.mark.parametrize("turns", [1, 2])
@pytest.mark.parametrize("with_ref", [False, True])
def test_every_judge_prompt_renders(turns: int, with_ref: bool) -> None:
    qs, a, b, refs = ["Q1", "Q2"][:turns], ["a1", "a2"][:turns], ["b1", "b2"][:turns], ["R1", "R2"]
    single = single_judge_request(qs, a, refs if with_ref else None)
    assert all(x in single.prompt for x in [*qs, *a]) and ("R1" in single.prompt) == with_ref
    first, swapped = pair_judge_requests(qs, a, b, refs if with_ref else None)
    assert first.prompt.index(a[-1]) < first.prompt.index(b[-1])
    assert swapped.prompt.index(b[-1]) < swapped.prompt.index(a[-1])
    assert first.system and "[[A]]" in first.system and "[[C]]" in first.system
    assert judge_prompts().version == 1


# ------------------------------------------------------------------------------------------ strict parsing


@given(st.integers(min_value=1, max_value=10), st.text(alphabet=st.characters(exclude_characters="[]")))
def test_any_integer_rating_in_range_is_read(n: int, prose: str) -> None:
    assert parse_rating(f"{prose}\nRating: [[{n}]]") == n


@given(st.decimals(min_value=1, max_value=10, places=1, allow_nan=False))
def test_decimal_ratings_are_read(x: object) -> None:
    assert parse_rating(f"Rating: [[{x}]]") == float(str(x))


@pytest.mark.parametrize(
    "text",
    [
        "Rating: 7",
        "Rating: [7]",
        "Rating: [[11]]",
        "Rating: [[0]]",
        "Rating: [[0.5]]",
        "Rating: [[-3]]",
        "Rating: [[7/10]]",
        "[[7]] or maybe [[8]]",
        "[[rating]]",
        "",
    ],
)
def test_malformed_ratings_are_failures(text: str) -> None:
    with pytest.raises(JudgeFormatError):
        parse_rating(text)


def test_a_repeated_rating_and_a_quoted_placeholder_are_fine() -> None:
    assert parse_rating("Format is [[rating]]. I give [[8]]. Final: [[8]]") == 8.0


@given(st.text())
def test_random_text_never_crashes_the_rating_parser(text: str) -> None:
    try:
        value = parse_rating(text)
    except JudgeFormatError:
        return
    assert 1.0 <= value <= 10.0
    assert re.search(r"\[\[\s*\d+(\.\d+)?\s*\]\]", text)


@given(st.text())
def test_random_text_without_a_rating_is_a_failure(text: str) -> None:
    assume(not re.search(r"\[\[\s*\d+(\.\d+)?\s*\]\]", text))
    with pytest.raises(JudgeFormatError):
        parse_rating(text)


NO_BRACKETS = st.text(alphabet=st.characters(exclude_characters="[]"))


@given(
    st.floats(min_value=1, max_value=10),
    st.booleans(),
    st.sampled_from(["[[{}]]", "[[ {} ]]", "[[\t{}  ]]"]),
    NO_BRACKETS,
    NO_BRACKETS,
)
def test_one_rating_rule_for_mt_bench_and_the_judge_scorer(
    x: float, as_integer: bool, form: str, before: str, after: str
) -> None:
    written = str(int(x)) if as_integer and x.is_integer() else repr(x)
    text = before + form.format(written) + after
    assert parse_rating(text) == x
    assert judge_scorer_rating(text) == (x, None)


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("Rating: [[7.5]]", 7.5),  # was a failure in a YAML judge task
        ("Rating: [[ 8 ]]", 8.0),  # was a failure in MT-Bench
        ("Rating: [[ 7 ]]", 7.0),
        ("Format: [[rating]]. First [[8]], final [[8.0]]", 8.0),  # one value, however written
        ("Rating: [[8.]]", None),  # FastChat reads 8; not a plain number here
        ("Rating: [7]", None),  # FastChat's single-bracket fallback is not taken
        ("[[7]] then [[8]]", None),  # FastChat takes the first; two different ratings are a failure here
        ("[[10.5]]", None),
        ("[[ten]]", None),
    ],
)
def test_both_parsers_agree_on_the_edge_cases(text: str, rating: float | None) -> None:
    got, why = judge_scorer_rating(text)
    assert got == rating and (why is None) == (rating is not None)
    if rating is None:
        with pytest.raises(JudgeFormatError, match=re.escape(str(why))):
            parse_rating(text)
    else:
        assert parse_rating(text) == rating


@given(st.text())
def test_both_parsers_agree_on_any_text(text: str) -> None:
    got, why = judge_scorer_rating(text)
    try:
        assert parse_rating(text) == got
    except JudgeFormatError as exc:
        assert got is None and str(exc) == why


@pytest.mark.parametrize(("text", "verdict"), [("so [[A]]", "A"), ("[[B]]", "B"), ("tie: [[C]] [[C]]", "C")])
def test_verdicts_are_read(text: str, verdict: str) -> None:
    assert parse_verdict(text) == verdict


@pytest.mark.parametrize("text", ["A is better", "[A]", "[[D]]", "[[A]] no wait [[B]]", "[[a]]"])
def test_malformed_verdicts_are_failures(text: str) -> None:
    with pytest.raises(JudgeFormatError):
        parse_verdict(text)


@given(st.text())
def test_random_text_never_crashes_the_verdict_parser(text: str) -> None:
    try:
        assert parse_verdict(text) in ("A", "B", "C")
    except JudgeFormatError:
        assert len(set(re.findall(r"\[\[([ABC])\]\]", text))) != 1


# ------------------------------------------------------------------------------------------ grading


def test_judge_failure_is_recorded_and_left_out_of_the_mean() -> None:
    docs = [by_category(loaded_docs())["writing"]]
    judge = Scripted(lambda r: "Fine. Rating: 9/10" if "letter A" in r.prompt else "Good. Rating: [[8]]")
    [(metrics, details)] = judged(MtBenchTask(), docs, judge)
    assert metrics == {"score": 8.0, "score_turn1": 8.0, "judge_failure_rate": 0.5}
    assert details["ratings"] == [8.0, None] and details["judge_failures"] == 1
    bad = details["judgments"][1]  # type: ignore[index]
    assert bad["failure"] == "no rating written as [[N]]" and bad["text"] == "Fine. Rating: 9/10"


def test_judge_backend_error_is_a_failure() -> None:
    docs = [by_category(loaded_docs())["math"]]
    judge = Scripted(lambda r: Generation(text="", error="HTTP 500"))
    [(metrics, details)] = judged(MtBenchTask(), docs, judge)
    assert metrics == {"judge_failure_rate": 1.0}
    assert "HTTP 500" in details["judgments"][0]["failure"]  # type: ignore[index]


def test_long_judge_texts_are_clipped() -> None:
    docs = [by_category(loaded_docs())["writing"]]
    judge = Scripted(lambda r: "x" * 10_000 + " [[4]]")
    [(metrics, details)] = judged(MtBenchTask(), docs, judge)
    text = details["judgments"][0]["text"]  # type: ignore[index]
    assert metrics["score"] == 4.0 and len(text) < 2100 and text.endswith("[[4]]")


# ------------------------------------------------------------------------------------------ pairwise


def prefers(marker: str) -> Scripted:
    """A position-fair judge: picks the answer holding ``marker``, wherever it is shown."""

    def reply(r: GenerationRequest) -> str:
        shown_first = re.split(r"assistant b", r.prompt, maxsplit=1, flags=re.IGNORECASE)[0]
        return "[[A]]" if marker in shown_first else "[[B]]"

    return Scripted(reply, "fair-judge")


def test_a_judge_that_always_says_a_gives_a_tie() -> None:
    v = pairwise(Scripted(lambda r: "[[A]]"), "Q", "answer one", "answer two")
    assert (v.winner, v.consistent, v.verdict_ab, v.verdict_ba) == ("tie", False, "A", "A")


def test_a_consistent_judge_gives_a_win() -> None:
    assert pairwise(prefers("GOOD"), "Q", "GOOD answer", "bad answer").winner == "a"
    assert pairwise(prefers("GOOD"), "Q", "bad answer", "GOOD answer").winner == "b"
    two = pairwise(prefers("GOOD"), ["Q1", "Q2"], ["x", "bad"], ["y", "GOOD"], ["R1", "R2"])
    assert (two.winner, two.turn, two.consistent) == ("b", 2, True)


def test_two_ties_are_a_consistent_tie_and_unreadable_is_a_failure() -> None:
    tie = pairwise(Scripted(lambda r: "[[C]]"), "Q", "a", "b")
    assert (tie.winner, tie.consistent) == ("tie", True)
    v = combine_pair(Generation(text="[[A]]"), Generation(text="no idea"), turn=1)
    assert v.winner is None and v.failure and "B first" in v.failure and v.judge_texts == ["[[A]]", "no idea"]


# ------------------------------------------------------------------------------------------ runs


def judge_replies(tmp_path: Path) -> Path:
    """Scripted ratings keyed by question text; a second-turn prompt holds both questions, its key is longer."""
    replies = {
        "Compose an engaging travel blog": "Rating: [[8]]",
        "Rewrite your previous response. Start every sentence with the letter A.": "Rating: [[6]]",
        "The vertices of a triangle": "Rating: [[10]]",
        "What's area of the circle circumscribing the triangle?": "Rating: [[2]]",
        "Write a simple website in HTML": "Rating: [[7]]",
        "How to use CSS to change the color of jokes to red?": "Rating: [[7.5]]",
        "Thomas is very healthy": "Rating: [[9]]",
        "Can you explain why the above question is interesting?": "I would say 7 out of 10.",
    }
    path = tmp_path / "judge.json"
    path.write_text(json.dumps(replies), encoding="utf-8")
    return path


def test_end_to_end_run_scores_and_groups(tmp_path: Path) -> None:
    judge = load_backend(f"mock:judge?replies={judge_replies(tmp_path)}")
    res = run_task(
        load_backend("mock:m"),
        "mt_bench",
        EvalConfig(limit=4, data_dir=str(DATA), judge=judge),
        Journal(tmp_path / "j.sqlite"),
    )
    assert res.n == 4 and res.complete
    groups = {g: {k: m.value for k, m in ms.items()} for g, ms in res.groups.items()}
    assert groups["writing"] == {"score": 7.0, "score_turn1": 8.0, "score_turn2": 6.0, "judge_failure_rate": 0.0}
    assert groups["math"]["score"] == 6.0 and groups["coding"]["score_turn2"] == 7.5
    assert groups["reasoning"] == {"score": 9.0, "score_turn1": 9.0, "judge_failure_rate": 0.5}
    assert res.metrics["score_turn1"].value == pytest.approx((8 + 10 + 7 + 9) / 4)
    assert res.metrics["score_turn2"].value == pytest.approx((6 + 2 + 7.5) / 3)
    assert res.metrics["judge_failure_rate"].value == pytest.approx(0.125)
    assert res.performance is not None and res.performance.errors == 0
    records = Journal(tmp_path / "j.sqlite").samples(res.run_id)
    assert all([o.turn for o in r.outputs] == [0, 1] for r in records)


def test_mt_bench_without_a_judge_asks_for_one(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="judge"):
        run_task(load_backend("mock:m"), "mt_bench", EvalConfig(limit=1, data_dir=str(DATA)), Journal(tmp_path / "j"))


def test_compare_two_runs_pairwise(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"": "a GOOD answer"}), encoding="utf-8")  # "" matches every prompt
    journal = Journal(tmp_path / "j.sqlite")
    judge = load_backend(f"mock:judge?replies={judge_replies(tmp_path)}")
    cfg = EvalConfig(limit=4, data_dir=str(DATA), judge=judge)
    run_a = run_task(load_backend(f"mock:good?replies={good}"), "mt_bench", cfg, journal).run_id
    run_b = run_task(load_backend("mock:plain"), "mt_bench", cfg, journal).run_id

    fair = prefers("GOOD")
    result = compare_runs_pairwise(journal, run_a[:8], run_b, fair)
    assert (result.wins_a, result.wins_b, result.ties, result.failures) == (8, 0, 0, 0)
    assert result.questions == 4 and result.win_rate_a == 1.0 and result.ci95 == (1.0, 1.0)
    assert len(fair.requests) == 16 and sorted(result.by_category) == ["coding", "math", "reasoning", "writing"]
    math_refs = [r for r in fair.requests if "vertices of a triangle" in r.prompt]
    assert math_refs and all("Area is 3" in r.prompt for r in math_refs)
    assert not any("Area is 3" in r.prompt for r in fair.requests if "travel blog" in r.prompt)
    summary = pairwise_cli_summary(result)
    assert "A wins 8, B wins 0, ties 0" in summary and "mock:good" in summary

    biased = compare_runs_pairwise(journal, run_a, run_b, Scripted(lambda r: "[[A]]"))
    assert (biased.wins_a, biased.wins_b, biased.ties, biased.inconsistent) == (0, 0, 8, 8)
    assert biased.win_rate_a == 0.5


def test_compare_refuses_a_run_of_another_task(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    other = run_task(load_backend("mock:m"), "gsm8k", EvalConfig(limit=1, data_dir=str(DATA)), journal).run_id
    with pytest.raises(InputError, match="not mt_bench"):
        compare_runs_pairwise(journal, other, other, Scripted(lambda r: "[[A]]"))
    with pytest.raises(InputError, match="no run"):
        compare_runs_pairwise(journal, "zzz", other, Scripted(lambda r: "[[A]]"))


def test_registered() -> None:
    task = get_task("mt_bench")
    assert isinstance(task, MtBenchTask) and task.needs_judge


def test_cli_judge_pairwise(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from llmatlas.cli.main import app

    journal_path = tmp_path / "j.sqlite"
    journal = Journal(journal_path)
    judge = load_backend(f"mock:judge?replies={judge_replies(tmp_path)}")
    cfg = EvalConfig(limit=2, data_dir=str(DATA), judge=judge)
    run_a = run_task(load_backend("mock:a"), "mt_bench", cfg, journal).run_id
    run_b = run_task(load_backend("mock:b"), "mt_bench", cfg, journal).run_id
    journal.close()
    ties = tmp_path / "ties.json"
    ties.write_text(json.dumps({"": "Both are alike. [[C]]"}), encoding="utf-8")
    args = ["judge-pairwise", run_a, run_b, "--judge", f"mock:j?replies={ties}", "--journal", str(journal_path)]
    out = CliRunner().invoke(app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert (data["wins_a"], data["wins_b"], data["ties"], data["failures"]) == (0, 0, 4, 0)
    text = CliRunner().invoke(app, args)
    assert text.exit_code == 0 and "ties 4" in text.output
    missing = CliRunner().invoke(
        app, ["judge-pairwise", "nope", run_b, "--judge", "mock:j", "--journal", str(journal_path)]
    )
    assert missing.exit_code == 2
