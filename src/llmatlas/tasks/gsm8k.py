"""GSM8K as lm-evaluation-harness 0.4 defines it: ``gsm8k`` (5-shot) and ``gsm8k_cot`` (8 fixed CoT shots).

Both score exact match after two extraction filters, reported as separate metrics:

* ``exact_match_strict``: the number after ``#### `` (gsm8k) or in ``The answer is N.`` (CoT);
* ``exact_match_flexible``: the last number-like string in the answer.

Before comparing, both sides drop commas, ``$``, everything up to ``#### `` and a final ``.``,
and are lower-cased (lm-eval's ``regexes_to_ignore`` and ``ignore_case``). A text with no match
becomes ``[invalid]``, which never equals a reference.

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
from llmatlas.tasks.generation import GenDoc, GenerationTask, Scored

INVALID = "[invalid]"
STRICT = re.compile(r"#### (\-?[0-9\.\,]+)")
STRICT_COT = re.compile(r"The answer is (\-?[0-9\.\,]+).")
FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
IGNORE = (re.compile(","), re.compile(r"\$"), re.compile(r"(?s).*#### "), re.compile(r"\.$"))


def extract(text: str, pattern: re.Pattern[str], group_select: int = 0) -> str:
    """lm-eval's RegexFilter: the ``group_select``-th match; for several groups, the first non-empty."""
    matches = pattern.findall(text)
    if not matches:
        return INVALID
    try:
        match = matches[group_select]
    except IndexError:
        return INVALID
    if isinstance(match, tuple):
        parts = [m for m in match if m]
        if not parts:
            return INVALID
        match = parts[0]
    return str(match).strip()


def normalize(text: str) -> str:
    for pattern in IGNORE:
        text = pattern.sub("", text)
    return text.lower()


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize(prediction) == normalize(reference))


@lru_cache(maxsize=1)
def cot_exemplars() -> list[dict[str, str]]:
    text = (resources.files("llmatlas.tasks") / "data" / "gsm8k_cot_exemplars.yaml").read_text(encoding="utf-8")
    data: list[dict[str, str]] = yaml.safe_load(text)["exemplars"]
    return data


class Gsm8kTask(GenerationTask):
    """``gsm8k``: "Question: …\\nAnswer:" prompts, 5 random train shots, greedy, stop at "Question:"."""

    strict_pattern = STRICT

    def __init__(self) -> None:
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

    def convert(self, row: dict[str, Any], path: Path, line: int) -> GenDoc:
        question = field(row, "question", str, path, line)
        answer = field(row, "answer", str, path, line)
        return GenDoc(id=str(row.get("id", line)), turns=(f"Question: {question}\nAnswer:",), target=answer)

    def reference(self, doc: GenDoc) -> str:
        return str(doc.target)

    def score(self, doc: GenDoc, outputs: Sequence[Generation]) -> Scored:
        text = outputs[0].text if outputs and not outputs[0].error else ""
        strict = extract(text, self.strict_pattern)
        flexible = extract(text, FLEXIBLE, group_select=-1)
        ref = self.reference(doc)
        return Scored(
            {"exact_match_strict": exact_match(strict, ref), "exact_match_flexible": exact_match(flexible, ref)},
            {"strict": strict, "flexible": flexible, "reference": normalize(ref)},
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

    def convert(self, row: dict[str, Any], path: Path, line: int) -> GenDoc:
        question = field(row, "question", str, path, line)
        answer = field(row, "answer", str, path, line)
        return GenDoc(id=str(row.get("id", line)), turns=(f"Q: {question}\nA:",), target=answer)

    def reference(self, doc: GenDoc) -> str:
        return str(doc.target).split("####")[-1].strip()

    def fewshot_pool(
        self, docs: list[GenDoc], data_dir: str | None, online: bool = False
    ) -> tuple[list[GenDoc], str | None]:
        shots = [
            GenDoc(id=f"cot-{i}", turns=(f"Q: {ex['question']}\nA:",), target=ex["target"])
            for i, ex in enumerate(cot_exemplars())
        ]
        return shots[: self.num_fewshot], "the 8 fixed chain-of-thought exemplars of Wei et al. (2022), first_n"

    def draw_fewshot(self, doc: GenDoc, pool: Any, rnd: Any) -> list[GenDoc]:
        return list(pool)[: self.num_fewshot]  # first_n: the same exemplars for every question
