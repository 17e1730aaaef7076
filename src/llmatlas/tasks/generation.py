"""Generation tasks: the model writes text, a scorer judges it (GSM8K, HumanEval, MT-Bench, YAML tasks).

A task turns rows into :class:`GenDoc` items, builds each item's prompt (few-shot examples are
drawn in document order, so a fixed seed gives lm-evaluation-harness's draws), asks the backend
for ``samples`` generations per item (``solve``; multi-turn tasks override it), and scores the
texts (``score_batch``; judged tasks use the judge backend). Every generation is kept with its
latency, token counts and cost for audit and for the performance summary.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmatlas.backends.base import Backend, Generation, GenerationRequest
from llmatlas.core.errors import InputError
from llmatlas.tasks.datasets import DataSource, converted, find_file, hub_rows, read_jsonl, sha256_file


@dataclass(frozen=True)
class GenDoc:
    """One item: the user turns (one for most tasks), the reference, and whatever scorers need."""

    id: str
    turns: tuple[str, ...]
    target: Any = None
    group: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class GenLoaded:
    docs: list[GenDoc]
    fewshot: list[GenDoc]
    source: DataSource
    fewshot_note: str | None = None  # e.g. "drawn from the test split (no train split found)"


@dataclass
class Scored:
    """A sample's metrics and the evidence behind them (extracted answer, verdicts, ratings)."""

    metrics: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)


def truncate_at_stop(text: str, stops: Sequence[str]) -> str:
    """Cut at the first stop sequence, as lm-eval does after generation (backends may overshoot)."""
    cut = len(text)
    for s in stops:
        if s:
            i = text.find(s)
            if i >= 0:
                cut = min(cut, i)
    return text[:cut]


@dataclass
class GenerationTask:
    """Base of the generation tasks; subclasses give ``convert`` and ``score``."""

    name: str
    metrics: tuple[str, ...] = ("exact_match",)
    files: tuple[str, ...] = ()
    hub: tuple[str, str | None, str] | None = None
    fewshot_files: tuple[str, ...] = ()
    hub_fewshot: tuple[str, str | None, str] | None = None
    num_fewshot: int = 0
    fewshot_seed: int = 1234  # lm-eval's default --fewshot_seed
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    samples: int = 1
    seed: int = 0
    chat: bool = False
    system: str | None = None
    target_delimiter: str = " "
    fewshot_delimiter: str = "\n\n"
    needs_judge: bool = False
    method: str = "generation"

    # ---------------------------------------------------------------- data

    def convert(self, row: dict[str, Any], path: Path, line: int) -> GenDoc:
        raise NotImplementedError

    def _rows(
        self, files: tuple[str, ...], hub: tuple[str, str | None, str] | None, data_dir: str | None
    ) -> tuple[list[GenDoc], DataSource] | None:
        path = find_file(files, data_dir) if files else None
        if path is not None:
            return converted(read_jsonl(path), lambda row, line: self.convert(row, path, line), path), DataSource(
                "file", str(path), sha256_file(path)
            )
        if hub is None:
            return None
        rows = hub_rows(*hub)
        docs = [self.convert(row, Path(f"hf://{hub[0]}"), i + 1) for i, row in enumerate(rows)]
        return docs, DataSource("hub", f"{hub[0]}/{hub[1] or ''}[{hub[2]}]")

    def load(self, data_dir: str | None = None) -> GenLoaded:
        found = self._rows(self.files, self.hub, data_dir)
        if found is None:
            raise InputError(
                f"task {self.name}: none of {', '.join(self.files)} found in the data folders "
                "(--data-dir, $LLMATLAS_DATA_DIR, ./shared/data, ../shared/data)",
                field="data_dir",
            )
        docs, source = found
        pool, note = self.fewshot_pool(docs, data_dir, online=source.kind == "hub")
        return GenLoaded(docs, pool, source, note)

    def fewshot_pool(
        self, docs: list[GenDoc], data_dir: str | None, online: bool = False
    ) -> tuple[list[GenDoc], str | None]:
        """Docs the few-shot examples are drawn from; lm-eval falls back to the evaluated split.

        The hub is only asked when the evaluated data came from it: a run on local files stays offline.
        """
        if not self.num_fewshot:
            return [], None
        hub = self.hub_fewshot if online else None
        try:
            found = self._rows(self.fewshot_files, hub, data_dir) if self.fewshot_files else None
        except Exception:  # hub unreachable: fall back as below, and say so
            found = None
        if found is not None:
            return found[0], None
        return docs, "drawn from the evaluated split, excluding the item itself (no few-shot split found)"

    # ---------------------------------------------------------------- prompts

    def doc_text(self, doc: GenDoc) -> str:
        return doc.turns[0]

    def fewshot_target(self, doc: GenDoc) -> str:
        return str(doc.target)

    def prompts(self, docs: Sequence[GenDoc], pool: Sequence[GenDoc]) -> list[str]:
        """Every doc's first-turn prompt, built in document order (the few-shot RNG advances per doc)."""
        rnd = random.Random(self.fewshot_seed)
        out = []
        for doc in docs:
            shots = self.draw_fewshot(doc, pool, rnd)
            parts = [self.doc_text(s) + self.target_delimiter + self.fewshot_target(s) for s in shots]
            out.append(self.fewshot_delimiter.join([*parts, self.doc_text(doc)]))
        return out

    def draw_fewshot(self, doc: GenDoc, pool: Sequence[GenDoc], rnd: random.Random) -> list[GenDoc]:
        """lm-eval's default sampler: ``rnd.sample(pool, k)``, one more when the pool holds the doc."""
        k = self.num_fewshot
        if not k or not pool:
            return []
        same_split = any(p.id == doc.id for p in pool)
        drawn = rnd.sample(list(pool), min(len(pool), k + 1 if same_split else k))
        return [d for d in drawn if d.id != doc.id][:k]

    def requests(self, doc: GenDoc, prompt: str) -> list[GenerationRequest]:
        return [
            GenerationRequest(
                prompt=prompt,
                max_tokens=self.max_tokens,
                stop=self.stop,
                temperature=self.temperature,
                system=self.system,
                chat=self.chat,
                seed=self.seed + j if self.samples > 1 else None,
            )
            for j in range(self.samples)
        ]

    # ---------------------------------------------------------------- solving and scoring

    def solve(self, backend: Backend, docs: Sequence[GenDoc], prompts: Sequence[str]) -> list[list[Generation]]:
        """One backend call for the whole step (API backends run it concurrently)."""
        per_doc = [self.requests(d, p) for d, p in zip(docs, prompts, strict=True)]
        flat = [r for rs in per_doc for r in rs]
        gens = backend.generate(flat) if flat else []
        out: list[list[Generation]] = []
        k = 0
        for rs in per_doc:
            batch = gens[k : k + len(rs)]
            for g in batch:
                if self.stop and not g.error:
                    g.text = truncate_at_stop(g.text, self.stop)
            out.append(batch)
            k += len(rs)
        return out

    def score(self, doc: GenDoc, outputs: Sequence[Generation]) -> Scored:
        raise NotImplementedError

    def score_batch(
        self, docs: Sequence[GenDoc], outputs: Sequence[Sequence[Generation]], judge: Backend | None = None
    ) -> list[Scored]:
        return [self.score(d, o) for d, o in zip(docs, outputs, strict=True)]
