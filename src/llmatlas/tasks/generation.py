"""Generation tasks: the model writes text, a scorer judges it (GSM8K, HumanEval, MT-Bench, YAML tasks).

A task turns rows into :class:`Sample` items, builds each item's prompt (few-shot examples are
drawn in document order, so a fixed seed gives lm-evaluation-harness's draws), asks the backend
for ``samples`` generations per item (``solve``; multi-turn tasks override it), and scores the
texts (``score_batch``; judged tasks use the judge backend). Every generation is kept with its
latency, token counts and cost for audit and for the performance summary.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmatlas.backends.base import Backend, Generation, GenerationRequest
from llmatlas.tasks.task import Dataset, Sample, Score, Step, Task

if TYPE_CHECKING:
    from llmatlas.engine.results import SampleRecord


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
class GenerationTask(Task[str]):
    """Base of the generation tasks; subclasses give ``convert`` and ``score``."""

    method = "generation"

    metrics: tuple[str, ...] = ("exact_match",)
    fewshot_seed: int = 1234  # lm-eval's default --fewshot_seed
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    samples: int = 1
    seed: int = 0
    chat: bool = False
    system: str | None = None
    prefill: str = ""  # the assistant turn's opening words, recorded in the run (EvalPlus's HumanEval)

    # ---------------------------------------------------------------- data

    def load(self, data_dir: str | None = None) -> Dataset:
        found = self.read(self.files, self.hub, data_dir)
        if found is None:
            raise self.not_found()
        docs, source = found
        pool, note = self.fewshot_pool(docs, data_dir, online=source.kind == "hub")
        return Dataset(docs, pool, source, note)

    def fewshot_pool(
        self, docs: list[Sample], data_dir: str | None, online: bool = False
    ) -> tuple[list[Sample], str | None]:
        """Samples the few-shot examples are drawn from; lm-eval falls back to the evaluated split.

        The hub is only asked when the evaluated data came from it: a run on local files stays offline.
        """
        if not self.num_fewshot:
            return [], None
        hub = self.hub_fewshot if online else None
        try:
            found = self.read(self.fewshot_files, hub, data_dir) if self.fewshot_files else None
        except Exception:  # hub unreachable: fall back as below, and say so
            found = None
        if found is not None:
            return found[0], None
        return docs, "drawn from the evaluated split, excluding the item itself (no few-shot split found)"

    # ---------------------------------------------------------------- prompts

    def doc_text(self, doc: Sample) -> str:
        return doc.turns[0]

    def fewshot_target(self, doc: Sample) -> str:
        return str(doc.target)

    def prompts(self, docs: Sequence[Sample], pool: Sequence[Sample]) -> list[str]:
        """Every doc's first-turn prompt, built in document order (the few-shot RNG advances per doc)."""
        rnd = random.Random(self.fewshot_seed)
        out = []
        for doc in docs:
            shots = self.draw_fewshot(doc, pool, rnd)
            parts = [self.doc_text(s) + self.target_delimiter + self.fewshot_target(s) for s in shots]
            out.append(self.fewshot_delimiter.join([*parts, self.doc_text(doc)]))
        return out

    def draw_fewshot(self, doc: Sample, pool: Sequence[Sample], rnd: random.Random) -> list[Sample]:
        """lm-eval's default sampler: ``rnd.sample(pool, k)``, one more when the pool holds the doc."""
        k = self.num_fewshot
        if not k or not pool:
            return []
        same_split = any(p.id == doc.id for p in pool)
        drawn = rnd.sample(list(pool), min(len(pool), k + 1 if same_split else k))
        return [d for d in drawn if d.id != doc.id][:k]

    def requests(self, doc: Sample, prompt: str) -> list[GenerationRequest]:
        return [
            GenerationRequest(
                prompt=prompt,
                max_tokens=self.max_tokens,
                stop=self.stop,
                temperature=self.temperature,
                system=self.system,
                chat=self.chat,
                seed=self.seed + j if self.samples > 1 else None,
                prefill=self.prefill,
            )
            for j in range(self.samples)
        ]

    # ---------------------------------------------------------------- solving and scoring

    def solve(self, backend: Backend, docs: Sequence[Sample], prompts: Sequence[str]) -> list[list[Generation]]:
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

    def score(self, doc: Sample, outputs: Sequence[Generation]) -> Score:
        raise NotImplementedError

    def score_batch(
        self, docs: Sequence[Sample], outputs: Sequence[Sequence[Generation]], judge: Backend | None = None
    ) -> list[Score]:
        return [self.score(d, o) for d, o in zip(docs, outputs, strict=True)]

    # ---------------------------------------------------------------- the run loop's hooks

    def configure(self, samples: int | None, temperature: float | None, max_tokens: int | None) -> None:
        if samples is not None:
            self.set_samples(samples)
        if temperature is not None:
            self.temperature = temperature
        if max_tokens is not None:
            self.max_tokens = max_tokens

    def set_samples(self, samples: int) -> None:
        """Generations per item (pass@k); tasks whose metrics depend on it override this."""
        self.samples = samples

    def identity(self, judge: dict[str, Any] | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "samples": self.samples,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "judge": judge,
        }
        if self.prefill:  # only when set: runs from before the option keep their fingerprints
            out["prefill"] = self.prefill
        return out

    def settings(self, dataset: Dataset) -> dict[str, Any]:
        return {
            "fewshot_source": dataset.fewshot_note or ("few-shot split" if self.num_fewshot else None),
            "samples": self.samples,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stop": list(self.stop),
            "chat": self.chat,
            "prefill": self.prefill or None,
        }

    def step_size(self, backend: Backend) -> int:
        """What the backend can run concurrently (an API pool's concurrency; one for local models)."""
        pool = getattr(backend, "pool", None)
        return max(1, int(getattr(pool, "concurrency", 1) or 1))

    def run_step(
        self, backend: Backend, samples: Sequence[Sample], prompts: Sequence[str], step: Step
    ) -> list[SampleRecord]:
        from llmatlas.engine.outputs import to_output
        from llmatlas.engine.results import SampleRecord

        gens = self.solve(backend, samples, prompts)
        scored = self.score_batch(samples, gens, step.judge)
        step.advance(len(samples))
        return [
            SampleRecord(
                doc_id=d.id,
                prompt=p,
                metrics=sc.metrics,
                group=d.group,
                outputs=[to_output(g, int(g.extra.get("turn", 0)), step.pricer) for g in gs],
                target=d.target,
                details=sc.details,
            )
            for d, p, gs, sc in zip(samples, prompts, gens, scored, strict=True)
        ]
