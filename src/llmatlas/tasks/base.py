"""Task definitions: documents, prompts and per-sample metrics.

Multiple-choice tasks are defined exactly as lm-evaluation-harness 0.4 defines them: the same
``doc_to_text`` prompt, target delimiter " ", few-shot examples joined by "\\n\\n", ``acc`` =
argmax of summed log-probs, ``acc_norm`` = argmax of log-prob divided by the choice's length in
characters, and TruthfulQA MC2 = normalized probability mass on the true answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmatlas.backends.base import ContinuationScore, MCQuestion


@dataclass(frozen=True)
class Doc:
    """One evaluation item. ``gold`` is an index, or a list of indices (MC2: all true answers)."""

    id: str
    query: str
    choices: tuple[str, ...]
    gold: int | tuple[int, ...]
    group: str | None = None  # subject for MMLU/CMMLU
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class MultipleChoiceTask:
    """A log-likelihood multiple-choice task; subclasses only say where docs come from."""

    name: str
    metrics: tuple[str, ...] = ("acc", "acc_norm")
    target_delimiter: str = " "
    fewshot_delimiter: str = "\n\n"
    num_fewshot: int = 0
    mc2: bool = False  # TruthfulQA MC2 scoring

    def description(self, doc: Doc) -> str:
        """Text before the few-shot examples (MMLU: "The following are ... about X.\\n\\n")."""
        return ""

    def fewshot_text(self, examples: Sequence[Doc]) -> str:
        parts = []
        for ex in examples:
            gold = ex.gold if isinstance(ex.gold, int) else ex.gold[0]
            parts.append(ex.query + self.target_delimiter + ex.choices[gold])
        return self.fewshot_delimiter.join(parts) + (self.fewshot_delimiter if parts else "")

    def question(self, doc: Doc, fewshot: Sequence[Doc] = ()) -> MCQuestion:
        context = self.description(doc) + self.fewshot_text(fewshot) + doc.query
        return MCQuestion(context, tuple(self.target_delimiter + c for c in doc.choices))

    def score(self, doc: Doc, scores: Sequence[ContinuationScore]) -> dict[str, float]:
        """Per-sample metrics from the continuation log-probs (lm-evaluation-harness's formulas)."""
        lls = np.array([s.logprob for s in scores], dtype=np.float64)
        if self.mc2:
            gold_set = np.zeros(len(lls), dtype=bool)
            gold_set[list(doc.gold if isinstance(doc.gold, tuple) else (doc.gold,))] = True
            probs = np.exp(lls - lls.max())
            return {"acc": float(probs[gold_set].sum() / probs.sum())}
        lengths = np.array([float(len(c)) for c in doc.choices])
        pred = int(np.argmax(lls))
        pred_norm = int(np.argmax(lls / lengths))
        golds = doc.gold if isinstance(doc.gold, tuple) else (doc.gold,)
        out = {"acc": float(pred in golds)}
        if "acc_norm" in self.metrics:
            out["acc_norm"] = float(pred_norm in golds)
        return out

    def prediction(self, scores: Sequence[ContinuationScore]) -> int:
        return int(np.argmax([s.logprob for s in scores]))
