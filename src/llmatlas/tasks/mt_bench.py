"""MT-Bench (Zheng et al. 2023): 80 two-turn questions, graded 1-10 by a judge model, or compared A/B.

Answers follow FastChat's llm_judge: chat format, up to 1024 new tokens, a temperature per category
(writing and roleplay 0.7; extraction, math, coding and reasoning 0; stem and humanities 0.1; 0.7
for a category it does not list) unless ``--temperature`` sets one for all; the second question is
asked after the model's own first answer.

Grading (``score_batch``) sends one judge request per turn at temperature 0: the second turn's
prompt shows the whole conversation and asks about the second answer only; math, reasoning and
coding prompts carry the reference answer (the question's inline ``reference`` where it is not
empty, else the GPT-4 answer of ``mt_bench_reference_gpt4.jsonl``). Ratings are read by the rule the
``judge`` scorer of task files uses too (:func:`llmatlas.tasks.judging.read_rating`: ``[[N]]`` or
``[[ N ]]``, N an integer or decimal from 1 to 10, one value); anything else is a judge failure,
kept with the judge's text, left out of the means and counted in ``judge_failure_rate``. ``score``
is a question's mean over its graded turns and the run's score the mean over questions (FastChat
pools the turns; the two agree when every turn is graded). The prompts live in
``data/mt_bench_judge.yaml`` (our wording, FastChat's structure).

Pairwise comparison (``pairwise``, ``compare_runs_pairwise``) asks the judge twice with the answers
in both orders; only a verdict that survives the swap counts as a win, so position bias turns
into ties instead of wins.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmatlas.backends.base import Backend, Generation, GenerationRequest
from llmatlas.core.errors import InputError
from llmatlas.tasks.datasets import DataSource, find_file, read_jsonl, sha256_file
from llmatlas.tasks.generation import GenerationTask
from llmatlas.tasks.judging import JudgeFormatError as JudgeFormatError
from llmatlas.tasks.judging import judge_request, rate_reply
from llmatlas.tasks.judging import parse_rating as parse_rating
from llmatlas.tasks.registry import task
from llmatlas.tasks.task import Dataset, Sample, Score

if TYPE_CHECKING:
    from llmatlas.engine.journal import Journal
    from llmatlas.engine.results import RunRecord, SampleRecord

TASK_NAME = "mt_bench"
QUESTION_FILES = ("mt_bench_questions.jsonl",)
REFERENCE_FILES = ("mt_bench_reference_gpt4.jsonl",)
# FastChat llm_judge's temperature_config; a category it does not list gets 0.7 there too
CATEGORY_TEMPERATURE = {
    "writing": 0.7,
    "roleplay": 0.7,
    "extraction": 0.0,
    "math": 0.0,
    "coding": 0.0,
    "reasoning": 0.0,
    "stem": 0.1,
    "humanities": 0.1,
}
DEFAULT_TEMPERATURE = 0.7
NEED_REFERENCE = frozenset({"math", "reasoning", "coding"})
#: ``MtBenchTask.temperature`` when no single temperature was asked for: each category uses its own.
#: NaN so that an explicit ``--temperature 0`` is a different run (and results show it as null).
PER_CATEGORY = math.nan
ANSWER_MAX_TOKENS = 1024
JUDGE_MAX_TOKENS = 2048
TEXT_LIMIT = 2000  # characters of a judge's text kept in the details
TURNS = 2

_VERDICT = re.compile(r"\[\[([ABC])\]\]")

Verdict = Literal["A", "B", "C"]
Winner = Literal["a", "b", "tie"]
_VERDICTS: dict[str, Verdict] = {"A": "A", "B": "B", "C": "C"}
# the judge's label -> the winner, with answer A shown first (AB) or second (BA)
_WINNER_AB: dict[Verdict, Winner] = {"A": "a", "B": "b", "C": "tie"}
_WINNER_BA: dict[Verdict, Winner] = {"A": "b", "B": "a", "C": "tie"}


# ---------------------------------------------------------------------------------------- parsing


def parse_verdict(text: str) -> Verdict:
    """The judge's ``[[A]]``/``[[B]]``/``[[C]]``; none or two different ones raise."""
    found = set(_VERDICT.findall(text))
    if not found:
        raise JudgeFormatError("no verdict written as [[A]], [[B]] or [[C]]")
    if len(found) > 1:
        raise JudgeFormatError(f"several different verdicts: {', '.join(f'[[{v}]]' for v in sorted(found))}")
    return _VERDICTS[found.pop()]


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    """The head and tail of a long text: the verdict is usually at the end, the reasoning at the start."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[… {len(text) - 2 * half} characters cut …]\n{text[-half:]}"


# ---------------------------------------------------------------------------------------- judge prompts


class JudgeTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str
    user: str


class JudgeTemplates(BaseModel):
    """The four prompts of one grading mode: per turn, with and without a reference answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    turn1: JudgeTemplate
    turn1_reference: JudgeTemplate
    turn2: JudgeTemplate
    turn2_reference: JudgeTemplate

    def pick(self, turn: int, with_reference: bool) -> JudgeTemplate:
        name = f"turn{turn}{'_reference' if with_reference else ''}"
        template: JudgeTemplate = getattr(self, name)
        return template


class JudgePrompts(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    version: int
    single: JudgeTemplates
    pairwise: JudgeTemplates


@lru_cache(maxsize=1)
def judge_prompts() -> JudgePrompts:
    """The packaged judge prompts (``data/mt_bench_judge.yaml``)."""
    text = (resources.files("llmatlas.tasks") / "data" / "mt_bench_judge.yaml").read_text(encoding="utf-8")
    return JudgePrompts.model_validate(yaml.safe_load(text))


def _as_turns(value: str | Sequence[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _check_turns(questions: tuple[str, ...], *answers: tuple[str, ...]) -> int:
    turn = len(questions)
    if turn not in (1, 2) or any(len(a) != turn for a in answers):
        raise ValueError(f"need 1 or 2 questions and as many answers each, got {turn} and {[len(a) for a in answers]}")
    return turn


def _reference_fields(references: tuple[str, ...] | None, turn: int) -> dict[str, str]:
    if references is None:
        return {}
    if len(references) < turn:
        raise ValueError(f"need {turn} reference answers, got {len(references)}")
    fields = {f"reference_{k + 1}": r for k, r in enumerate(references[:turn])}
    fields["reference"] = references[turn - 1]
    return fields


def single_judge_request(
    questions: str | Sequence[str], answers: str | Sequence[str], references: str | Sequence[str] | None = None
) -> GenerationRequest:
    """The grading request for the last turn of ``questions`` (1 or 2 turns), reference shown if given."""
    qs, ans = _as_turns(questions), _as_turns(answers)
    turn = _check_turns(qs, ans)
    refs = None if references is None else _as_turns(references)
    fields = {f"question_{k + 1}": q for k, q in enumerate(qs)} | {f"answer_{k + 1}": a for k, a in enumerate(ans)}
    fields |= {"question": qs[-1], "answer": ans[-1]} | _reference_fields(refs, turn)
    template = judge_prompts().single.pick(turn, refs is not None)
    return _judge_request(template, fields)


def pair_judge_requests(
    questions: str | Sequence[str],
    answers_a: str | Sequence[str],
    answers_b: str | Sequence[str],
    references: str | Sequence[str] | None = None,
) -> tuple[GenerationRequest, GenerationRequest]:
    """The two comparison requests for the last turn: A shown first, then B shown first."""
    qs, a, b = _as_turns(questions), _as_turns(answers_a), _as_turns(answers_b)
    turn = _check_turns(qs, a, b)
    refs = None if references is None else _as_turns(references)
    template = judge_prompts().pairwise.pick(turn, refs is not None)
    base = {f"question_{k + 1}": q for k, q in enumerate(qs)} | {"question": qs[-1]} | _reference_fields(refs, turn)

    def fields(first: tuple[str, ...], second: tuple[str, ...]) -> dict[str, str]:
        out = dict(base)
        out |= {f"answer_a_{k + 1}": x for k, x in enumerate(first)} | {"answer_a": first[-1]}
        out |= {f"answer_b_{k + 1}": x for k, x in enumerate(second)} | {"answer_b": second[-1]}
        return out

    return _judge_request(template, fields(a, b)), _judge_request(template, fields(b, a))


def _judge_request(template: JudgeTemplate, fields: dict[str, str]) -> GenerationRequest:
    return judge_request(template.user.format_map(fields), template.system, JUDGE_MAX_TOKENS, temperature=0.0)


# ---------------------------------------------------------------------------------------- data


class _Question(BaseModel):
    model_config = ConfigDict(extra="ignore")

    question_id: int | str
    category: str
    turns: list[str] = Field(min_length=TURNS, max_length=TURNS)
    reference: list[str] | None = None


class _ReferenceChoice(BaseModel):
    turns: list[str]


class _ReferenceRow(BaseModel):
    model_config = ConfigDict(extra="ignore")

    question_id: int | str
    choices: list[_ReferenceChoice] = Field(min_length=1)


def _invalid(exc: ValidationError, path: Path, line: int) -> InputError:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or None
    return InputError(err["msg"], path=path, line=line, field=loc)


def read_references(path: Path) -> dict[str, list[str]]:
    """question_id -> the GPT-4 reference answers (FastChat's ``reference_answer/gpt-4.jsonl`` rows)."""
    out: dict[str, list[str]] = {}
    for line, row in read_jsonl(path):
        try:
            ref = _ReferenceRow.model_validate(row)
        except ValidationError as exc:
            raise _invalid(exc, path, line) from None
        out[str(ref.question_id)] = ref.choices[0].turns
    return out


# ---------------------------------------------------------------------------------------- the task


class MtBenchTask(GenerationTask):
    """``mt_bench``: two-turn chat answers, each turn graded 1-10 by the ``--judge`` model."""

    def __init__(self) -> None:
        super().__init__(
            name=TASK_NAME,
            metrics=("score", "score_turn1", "score_turn2", "judge_failure_rate"),
            files=QUESTION_FILES,
            max_tokens=ANSWER_MAX_TOKENS,
            temperature=PER_CATEGORY,
            chat=True,
            needs_judge=True,
        )

    def set_samples(self, n: int, temperature: float | None = None) -> None:
        """MT-Bench grades one answer per turn; more samples would not change what is graded."""
        if n != 1:
            raise InputError("mt_bench draws one answer per question; leave out --samples", field="samples")
        if temperature is not None:
            self.temperature = temperature

    def convert(self, row: dict[str, Any], path: Path, line: int) -> Sample:
        try:
            q = _Question.model_validate(row)
        except ValidationError as exc:
            raise _invalid(exc, path, line) from None
        return Sample(
            id=str(q.question_id),
            turns=tuple(q.turns),
            group=q.category,
            meta={"category": q.category, "inline_reference": q.reference},
        )

    def load(self, data_dir: str | None = None) -> Dataset:
        """The questions, with the reference answers of math/reasoning/coding resolved into ``target``."""
        loaded = super().load(data_dir)
        questions = Path(loaded.source.location)
        ref_path = next((questions.parent / n for n in REFERENCE_FILES if (questions.parent / n).is_file()), None)
        ref_path = ref_path or find_file(REFERENCE_FILES, data_dir)
        refs = read_references(ref_path) if ref_path else {}
        docs = [self._with_reference(d, refs, ref_path) for d in loaded.samples]
        where = f"{questions} (references: {ref_path})" if ref_path else str(questions)
        source = DataSource("file", where, loaded.source.sha256 or sha256_file(questions))
        return Dataset(docs, [], source)

    def _with_reference(self, doc: Sample, refs: dict[str, list[str]], ref_path: Path | None) -> Sample:
        category = doc.meta["category"]
        if category not in NEED_REFERENCE:
            return dataclasses.replace(doc, target=None)
        inline: list[str] = doc.meta.get("inline_reference") or []
        gpt4 = refs.get(doc.id, [])
        chosen: list[str] = []
        for k in range(TURNS):
            if k < len(inline) and inline[k].strip():
                chosen.append(inline[k])
            elif k < len(gpt4) and gpt4[k].strip():
                chosen.append(gpt4[k])
            else:
                where = (
                    f"in {ref_path}" if ref_path else f"({', '.join(REFERENCE_FILES)} not found next to the questions)"
                )
                raise InputError(
                    f"mt_bench question {doc.id} ({category}) has no reference answer for turn {k + 1} {where}; "
                    "the judge needs one for math, reasoning and coding",
                    field="reference",
                )
        return dataclasses.replace(doc, target=chosen)

    # ------------------------------------------------------------------------------ answering

    def temperature_for(self, doc: Sample) -> float:
        if not math.isnan(self.temperature):
            return self.temperature
        return CATEGORY_TEMPERATURE.get(str(doc.group), DEFAULT_TEMPERATURE)

    def _answer_request(self, doc: Sample, prompt: str, history: tuple[tuple[str, str], ...]) -> GenerationRequest:
        return GenerationRequest(
            prompt=prompt,
            max_tokens=self.max_tokens,
            temperature=self.temperature_for(doc),
            system=self.system,
            chat=True,
            history=history,
            seed=self.seed,
        )

    def solve(self, backend: Backend, docs: Sequence[Sample], prompts: Sequence[str]) -> list[list[Generation]]:
        """First turns of the whole step in one call, then the second turns after each model's own answer."""
        first = backend.generate([self._answer_request(d, p, ()) for d, p in zip(docs, prompts, strict=True)])
        asked: list[int] = []
        second_requests: list[GenerationRequest] = []
        for i, (doc, prompt, g) in enumerate(zip(docs, prompts, first, strict=True)):
            g.extra["turn"] = 0
            if g.error is None:
                history = (("user", prompt), ("assistant", g.text))
                second_requests.append(self._answer_request(doc, doc.turns[1], history))
                asked.append(i)
        second = backend.generate(second_requests) if second_requests else []
        out = [[g] for g in first]
        for i, g in zip(asked, second, strict=True):
            g.extra["turn"] = 1
            out[i].append(g)
        for gens in out:
            if len(gens) == 1:
                gens.append(Generation(text="", error="not asked: the first turn failed", extra={"turn": 1}))
        return out

    # ------------------------------------------------------------------------------ grading

    def score_batch(
        self, docs: Sequence[Sample], outputs: Sequence[Sequence[Generation]], judge: Backend | None = None
    ) -> list[Score]:
        """One judge request per answered turn, the whole step in one judge call."""
        if judge is None:
            raise InputError(f"task {self.name} needs a judge model: pass --judge BACKEND:MODEL", field="judge")
        plans: list[tuple[int, int]] = []
        requests: list[GenerationRequest] = []
        answers_of: list[dict[int, Generation]] = []
        for i, (doc, gens) in enumerate(zip(docs, outputs, strict=True)):
            answers = {int(g.extra.get("turn", 0)): g for g in gens}
            answers_of.append(answers)
            for t in range(TURNS):
                if any(answers.get(k) is None or answers[k].error for k in range(t + 1)):
                    continue
                texts = [answers[k].text for k in range(t + 1)]
                refs = doc.target[: t + 1] if doc.target else None
                requests.append(single_judge_request(doc.turns[: t + 1], texts, refs))
                plans.append((i, t))
        verdicts = judge.generate(requests) if requests else []
        judged: list[dict[int, Generation]] = [{} for _ in docs]
        for (i, t), g in zip(plans, verdicts, strict=True):
            judged[i][t] = g
        return [
            self._scored(doc, answers, judgments)
            for doc, answers, judgments in zip(docs, answers_of, judged, strict=True)
        ]

    def _scored(self, doc: Sample, answers: dict[int, Generation], judgments: dict[int, Generation]) -> Score:
        ratings: list[float | None] = []
        entries: list[dict[str, Any]] = []
        failures = 0
        for t in range(TURNS):
            entry: dict[str, Any] = {"turn": t + 1, "rating": None, "failure": None, "text": None}
            g = judgments.get(t)
            rating: float | None = None
            if g is None:
                answer = answers.get(t)
                entry["skipped"] = f"no answer to grade ({answer.error if answer else 'missing'})"
            else:
                entry["text"] = clip(g.text)
                rating, why = rate_reply(g)
                if rating is None:
                    failures += 1
                    entry["failure"] = why
            entry["rating"] = rating
            ratings.append(rating)
            entries.append(entry)
        metrics: dict[str, float] = {}
        valid = [r for r in ratings if r is not None]
        if valid:
            metrics["score"] = float(np.mean(valid))
        for t, r in enumerate(ratings):
            if r is not None:
                metrics[f"score_turn{t + 1}"] = r
        if judgments:
            metrics["judge_failure_rate"] = failures / len(judgments)
        details = {
            "category": doc.group,
            "questions": list(doc.turns),
            "temperature": self.temperature_for(doc),
            "ratings": ratings,
            "judge_failures": failures,
            "judgments": entries,
        }
        return Score(metrics, details)


# ---------------------------------------------------------------------------------------- pairwise


class PairVerdict(BaseModel):
    """One A/B comparison of a turn, judged in both orders."""

    doc_id: str | None = None
    category: str | None = None
    turn: int  # 1-based: the turn whose answers were compared
    verdict_ab: Verdict | None = None  # the judge's label with answer A shown as "A"
    verdict_ba: Verdict | None = None  # the judge's label with answer B shown as "A"
    winner: Winner | None = None  # None: a verdict could not be read (see failure)
    consistent: bool | None = None  # both orders named the same winner (or both said tie)
    failure: str | None = None
    judge_texts: list[str] = Field(default_factory=list)


def combine_pair(
    first: Generation, second: Generation, turn: int, doc_id: str | None = None, category: str | None = None
) -> PairVerdict:
    """Merge the two orders: the same winner both times wins; disagreement or a tie is a tie."""
    verdict = PairVerdict(
        doc_id=doc_id, category=category, turn=turn, judge_texts=[clip(first.text), clip(second.text)]
    )
    problems: list[str] = []
    for order, g in (("A first", first), ("B first", second)):
        if g.error:
            problems.append(f"{order}: judge error: {g.error}")
            continue
        try:
            v = parse_verdict(g.text)
        except JudgeFormatError as exc:
            problems.append(f"{order}: {exc}")
            continue
        if order == "A first":
            verdict.verdict_ab = v
        else:
            verdict.verdict_ba = v
    if problems or verdict.verdict_ab is None or verdict.verdict_ba is None:
        verdict.failure = "; ".join(problems)
        return verdict
    ab, ba = _WINNER_AB[verdict.verdict_ab], _WINNER_BA[verdict.verdict_ba]
    verdict.consistent = ab == ba
    verdict.winner = ab if ab == ba else "tie"
    return verdict


def pairwise(
    judge: Backend,
    question: str | Sequence[str],
    answer_a: str | Sequence[str],
    answer_b: str | Sequence[str],
    reference: str | Sequence[str] | None = None,
) -> PairVerdict:
    """Compare two answers to the last turn of ``question`` (one string, or both turns of a conversation)."""
    requests = pair_judge_requests(question, answer_a, answer_b, reference)
    first, second = judge.generate(list(requests))
    return combine_pair(first, second, turn=len(_as_turns(question)))


class PairTally(BaseModel):
    wins_a: int = 0
    wins_b: int = 0
    ties: int = 0
    failures: int = 0


class PairwiseResult(BaseModel):
    """Two MT-Bench runs compared turn by turn by a judge, both answer orders per comparison."""

    run_a: str
    run_b: str
    model_a: str
    model_b: str
    judge: str
    questions: int  # questions both runs answered
    wins_a: int
    wins_b: int
    ties: int  # including the inconsistent ones
    inconsistent: int  # the two orders disagreed: counted as ties
    failures: int  # a verdict could not be read: left out of the win rate
    win_rate_a: float | None  # (wins_a + ties / 2) / (wins_a + wins_b + ties)
    ci95: tuple[float, float] | None
    ci_method: str
    by_category: dict[str, PairTally] = Field(default_factory=dict)
    skipped: list[str] = Field(default_factory=list)  # turns not compared, and why
    verdicts: list[PairVerdict] = Field(default_factory=list)


def _resolve_run(journal: Journal, run: str) -> RunRecord:
    runs = journal.runs()
    hits = [r for r in runs if r.run_id == run] or [r for r in runs if r.run_id.startswith(run)]
    if len(hits) != 1:
        what = "no run" if not hits else f"{len(hits)} runs match"
        raise InputError(f"{what} '{run}' in {journal.path} (`llmatlas results` lists them)", field="run")
    if hits[0].task != TASK_NAME:
        raise InputError(f"run {hits[0].run_id} is a {hits[0].task} run, not {TASK_NAME}", field="run")
    return hits[0]


def _questions(record: SampleRecord) -> list[str]:
    qs = record.details.get("questions")
    return [str(q) for q in qs] if isinstance(qs, list) else [record.prompt]


def compare_runs_pairwise(
    journal: Journal, run_a: str, run_b: str, judge: Backend, resamples: int = 2000, seed: int = 0
) -> PairwiseResult:
    """Judge every turn both runs answered, A/B then B/A, and sum up with a bootstrap 95% CI.

    Run ids may be unique prefixes. The CI resamples questions (both turns of a question move
    together), so it accounts for the turns of a question not being independent.
    """
    info_a, info_b = _resolve_run(journal, run_a), _resolve_run(journal, run_b)
    records_b = {r.doc_id: r for r in journal.samples(info_b.run_id)}
    pairs = [(ra, records_b[ra.doc_id]) for ra in journal.samples(info_a.run_id) if ra.doc_id in records_b]
    if not pairs:
        raise InputError(f"runs {info_a.run_id} and {info_b.run_id} share no answered question", field="run")
    skipped: list[str] = []
    plans: list[tuple[int, int]] = []
    requests: list[GenerationRequest] = []
    for i, (ra, rb) in enumerate(pairs):
        questions = _questions(ra)
        if questions != _questions(rb):
            skipped.append(f"{ra.doc_id}: the runs asked different questions")
            continue
        outs_a, outs_b = {o.turn: o for o in ra.outputs}, {o.turn: o for o in rb.outputs}
        for t in range(min(TURNS, len(questions))):
            missing = [
                f"run {label} has {'an error' if o and o.error else 'no answer'}"
                for label, outs in (("a", outs_a), ("b", outs_b))
                for o in [outs.get(k) for k in range(t + 1)]
                if o is None or o.error
            ]
            if missing:
                skipped.append(f"{ra.doc_id} turn {t + 1}: {'; '.join(dict.fromkeys(missing))}")
                continue
            refs = ra.target[: t + 1] if ra.group in NEED_REFERENCE and isinstance(ra.target, list) else None
            requests.extend(
                pair_judge_requests(
                    questions[: t + 1],
                    [outs_a[k].text for k in range(t + 1)],
                    [outs_b[k].text for k in range(t + 1)],
                    refs,
                )
            )
            plans.append((i, t))
    gens = judge.generate(requests) if requests else []
    verdicts = [
        combine_pair(gens[2 * j], gens[2 * j + 1], t + 1, pairs[i][0].doc_id, pairs[i][0].group)
        for j, (i, t) in enumerate(plans)
    ]
    return _summarize(info_a, info_b, judge, len(pairs), verdicts, skipped, resamples, seed)


def _summarize(
    info_a: RunRecord,
    info_b: RunRecord,
    judge: Backend,
    n_questions: int,
    verdicts: list[PairVerdict],
    skipped: list[str],
    resamples: int,
    seed: int,
) -> PairwiseResult:
    points = {"a": 1.0, "tie": 0.5, "b": 0.0}
    by_question: dict[str, list[float]] = {}
    by_category: dict[str, PairTally] = {}
    for v in verdicts:
        tally = by_category.setdefault(v.category or "(none)", PairTally())
        if v.winner is None:
            tally.failures += 1
            continue
        by_question.setdefault(v.doc_id or "", []).append(points[v.winner])
        if v.winner == "a":
            tally.wins_a += 1
        elif v.winner == "b":
            tally.wins_b += 1
        else:
            tally.ties += 1
    decided = [v for v in verdicts if v.winner is not None]
    win_rate, ci = None, None
    if decided:
        win_rate = float(np.mean([points[v.winner] for v in decided if v.winner is not None]))
        ci = _bootstrap_ci(list(by_question.values()), resamples, seed)
    return PairwiseResult(
        run_a=info_a.run_id,
        run_b=info_b.run_id,
        model_a=info_a.model,
        model_b=info_b.model,
        judge=judge.info().model,
        questions=n_questions,
        wins_a=sum(v.winner == "a" for v in verdicts),
        wins_b=sum(v.winner == "b" for v in verdicts),
        ties=sum(v.winner == "tie" for v in verdicts),
        inconsistent=sum(v.consistent is False for v in verdicts),
        failures=sum(v.winner is None for v in verdicts),
        win_rate_a=win_rate,
        ci95=ci,
        ci_method=f"percentile bootstrap over questions ({resamples} resamples, seed {seed})",
        by_category=dict(sorted(by_category.items())),
        skipped=skipped,
        verdicts=verdicts,
    )


def _bootstrap_ci(per_question: list[list[float]], resamples: int, seed: int) -> tuple[float, float]:
    """95% CI of the pooled win rate, resampling whole questions."""
    sums = np.asarray([sum(p) for p in per_question], dtype=np.float64)
    counts = np.asarray([len(p) for p in per_question], dtype=np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(sums), size=(resamples, len(sums)))
    rates = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    lo, hi = np.percentile(rates, [2.5, 97.5])
    return float(lo), float(hi)


def pairwise_cli_summary(result: PairwiseResult) -> str:
    """A few lines for the terminal: the tally, the win rate with its CI, per category, what was skipped."""
    lines = [
        f"A: {result.model_a} (run {result.run_a})  vs  B: {result.model_b} (run {result.run_b})",
        f"judge: {result.judge}; {result.questions} questions, {len(result.verdicts)} turns compared "
        "(each judged in both orders)",
        f"A wins {result.wins_a}, B wins {result.wins_b}, ties {result.ties} "
        f"({result.inconsistent} of them inconsistent across orders), unreadable verdicts {result.failures}",
    ]
    if result.win_rate_a is None or result.ci95 is None:
        lines.append("win rate of A: no readable verdict")
    else:
        lo, hi = result.ci95
        lines.append(f"win rate of A (ties count half): {result.win_rate_a:.3f}  95% CI [{lo:.3f}, {hi:.3f}]")
        lines.append(f"  ({result.ci_method})")
    for category, t in result.by_category.items():
        lines.append(f"  {category:<12} A {t.wins_a:>3}  B {t.wins_b:>3}  tie {t.ties:>3}  failed {t.failures:>3}")
    if result.skipped:
        more = " …" if len(result.skipped) > 5 else ""
        lines.append(f"not compared: {len(result.skipped)} ({'; '.join(result.skipped[:5])}{more})")
    return "\n".join(lines)


@task(TASK_NAME, benchmark="mt_bench", metric="score")
def mt_bench() -> GenerationTask:
    """MT-Bench, 80 two-turn questions graded 1-10 by a --judge model (FastChat's prompts)."""
    return MtBenchTask()
