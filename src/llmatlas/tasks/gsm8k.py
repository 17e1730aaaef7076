"""GSM8K as lm-evaluation-harness 0.4 defines it: ``gsm8k`` (5-shot) and ``gsm8k_cot`` (8 fixed CoT shots).

Both score exact match after two extraction filters, reported as separate metrics:

* ``exact_match_strict``: the number after ``#### `` (gsm8k) or in ``The answer is N.`` (CoT);
* ``exact_match_flexible``: the last number-like string in the answer.

Before comparing, both sides drop commas, ``$``, everything up to ``#### `` and a final ``.``,
and are lower-cased (lm-eval's ``regexes_to_ignore`` and ``ignore_case``). A text with no match
becomes ``[invalid]``, which never equals a reference.

Both metrics are ``regex`` scorers of the scorer library (:func:`answer_scorer`), which a task file
can declare with the same options (examples/tasks/README.md).

Few-shot examples of ``gsm8k`` come from the train split (``gsm8k_train.jsonl`` or the hub), drawn
with lm-eval's sampler and seed; without a train split they are drawn from the test split
excluding the item itself (lm-eval's own fallback), and the results say so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from llmatlas.backends.base import Generation
from llmatlas.tasks.datasets import field
from llmatlas.tasks.generation import GenerationTask
from llmatlas.tasks.registry import task
from llmatlas.tasks.scorers import FileContext, RegexOptions, RegexScorer, normalize_answer, regex_extract
from llmatlas.tasks.task import Sample, Score

INVALID = "[invalid]"
STRICT = re.compile(r"#### (\-?[0-9\.\,]+)")
STRICT_COT = re.compile(r"The answer is (\-?[0-9\.\,]+).")
FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
IGNORE_PATTERNS = (",", r"\$", r"(?s).*#### ", r"\.$")  # lm-eval gsm8k's regexes_to_ignore
IGNORE = tuple(re.compile(p) for p in IGNORE_PATTERNS)


def lm_eval_group(pattern: re.Pattern[str]) -> int | tuple[int, ...]:
    """The group lm-eval's RegexFilter reads (what ``findall`` returns): 0, 1, or the first non-empty of several."""
    return pattern.groups if pattern.groups <= 1 else tuple(range(1, pattern.groups + 1))


def extract(text: str, pattern: re.Pattern[str], group_select: int = 0) -> str:
    """lm-eval's RegexFilter: the ``group_select``-th match; for several groups, the first non-empty."""
    found = regex_extract(pattern, text, lm_eval_group(pattern), group_select)
    return INVALID if found is None else found


def normalize(text: str) -> str:
    return normalize_answer(text, IGNORE, lowercase=True)


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize(prediction) == normalize(reference))


def answer_scorer(metric: str, pattern: re.Pattern[str], group_select: int) -> RegexScorer:
    """An lm-eval GSM8K filter plus exact_match as a ``regex`` scorer; in a task file::

    - type: regex
      name: exact_match_strict
      extract: '#### (\\-?[0-9\\.\\,]+)'
      select: 0                 # -1 and group: [1, 2] for the flexible filter
      fallback: '[invalid]'
      ignore: [',', '\\$', '(?s).*#### ', '\\.$']
      lowercase: true
      strip: false
    """
    group = lm_eval_group(pattern)
    options = RegexOptions(
        type="regex",
        name=metric,
        extract=pattern.pattern,
        group=list(group) if isinstance(group, tuple) else group,
        select=group_select,
        ignore=list(IGNORE_PATTERNS),
        lowercase=True,
        strip=False,
        fallback=INVALID,
    )
    return RegexScorer(options, FileContext(Path(__file__)), ("scorer", metric))


@lru_cache(maxsize=1)
def cot_exemplars() -> list[dict[str, str]]:
    text = (resources.files("llmatlas.tasks") / "data" / "gsm8k_cot_exemplars.yaml").read_text(encoding="utf-8")
    data: list[dict[str, str]] = yaml.safe_load(text)["exemplars"]
    return data


class Gsm8kTask(GenerationTask):
    """``gsm8k``: "Question: …\\nAnswer:" prompts, 5 random train shots, greedy, stop at "Question:"."""

    strict_pattern = STRICT

    def __init__(self) -> None:
        self.scorers = (
            answer_scorer("exact_match_strict", self.strict_pattern, 0),
            answer_scorer("exact_match_flexible", FLEXIBLE, -1),
        )
        super().__init__(
            name="gsm8k",
            metrics=("exact_match_strict", "exact_match_flexible"),
            files=("gsm8k_test.jsonl",),
            hub=("openai/gsm8k", "main", "test"),
            fewshot_files=("gsm8k_train.jsonl",),
            hub_fewshot=("openai/gsm8k", "main", "train"),
            num_fewshot=5,
            max_tokens=256,
            stop=("Question:", "</s>", "<|im_end|>"),
        )

    def convert(self, row: dict[str, Any], path: Path, line: int) -> Sample:
        question = field(row, "question", str, path, line)
        answer = field(row, "answer", str, path, line)
        return Sample(id=str(row.get("id", line)), turns=(f"Question: {question}\nAnswer:",), target=answer)

    def reference(self, doc: Sample) -> str:
        return str(doc.target)

    def score(self, doc: Sample, outputs: Sequence[Generation]) -> Score:
        """The first output through both scorers; a failed generation is scored as an empty text."""
        text = outputs[0].text if outputs and not outputs[0].error else ""
        ref = self.reference(doc)
        strict, flexible = (scorer.score(text, ref, None) for scorer in self.scorers)
        return Score(
            strict.metrics | flexible.metrics,
            {
                "strict": strict.details["extracted"],
                "flexible": flexible.details["extracted"],
                "reference": strict.details["target"],
            },
        )


class Gsm8kCotTask(Gsm8kTask):
    """``gsm8k_cot``: "Q: …\\nA:" with the 8 chain-of-thought exemplars of Wei et al. (first_n)."""

    strict_pattern = STRICT_COT

    def __init__(self) -> None:
        super().__init__()
        self.name = "gsm8k_cot"
        self.num_fewshot = 8
        self.fewshot_files = ()
        self.hub_fewshot = None
        self.stop = ("Q:", "</s>", "<|im_end|>")

    def convert(self, row: dict[str, Any], path: Path, line: int) -> Sample:
        question = field(row, "question", str, path, line)
        answer = field(row, "answer", str, path, line)
        return Sample(id=str(row.get("id", line)), turns=(f"Q: {question}\nA:",), target=answer)

    def reference(self, doc: Sample) -> str:
        return str(doc.target).split("####")[-1].strip()

    def fewshot_pool(
        self, docs: list[Sample], data_dir: str | None, online: bool = False
    ) -> tuple[list[Sample], str | None]:
        shots = [
            Sample(id=f"cot-{i}", turns=(f"Q: {ex['question']}\nA:",), target=ex["target"])
            for i, ex in enumerate(cot_exemplars())
        ]
        return shots[: self.num_fewshot], "the 8 fixed chain-of-thought exemplars of Wei et al. (2022), first_n"

    def draw_fewshot(self, doc: Sample, pool: Any, rnd: Any) -> list[Sample]:
        return list(pool)[: self.num_fewshot]  # first_n: the same exemplars for every question


@task("gsm8k", benchmark="gsm8k", metric="exact_match_strict")
def gsm8k() -> GenerationTask:
    """GSM8K test, 5 train shots, greedy; strict and flexible answer extraction (lm-eval's gsm8k)."""
    return Gsm8kTask()


@task("gsm8k_cot", benchmark="gsm8k", metric="exact_match_strict", category="math")
def gsm8k_cot() -> GenerationTask:
    """GSM8K test with the 8 chain-of-thought exemplars of Wei et al. (lm-eval's gsm8k_cot)."""
    return Gsm8kCotTask()
