"""HumanEval: pass@k of model-written functions, run against the dataset's tests in the sandbox.

Two prompt formats:

* ``humaneval`` (completion, for base models): the model continues the problem's prompt; the
  completion is cut at the Codex paper's stop sequences (a new top-level ``def``/``class``/``if``/
  ``print``/comment) and the program is ``prompt + completion``.
* ``humaneval_instruct`` (chat, for instruct models): the problem is sent in EvalPlus's instruction
  ("Please provide a self-contained Python script that solves the following problem in a markdown
  code block"), the code is taken from the reply's code fence (or the whole reply when it has
  none), and the program is the problem's prompt followed by that code, so imports of the prompt
  stay available and the model's full function replaces the stub.

``--samples n`` with ``--temperature T`` draws n programs per problem; ``pass@k`` uses the unbiased
estimator of Chen et al. (2021): ``1 - C(n-c, k) / C(n, k)`` averaged over problems.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from llmatlas.backends.base import Backend, Generation
from llmatlas.tasks.datasets import field
from llmatlas.tasks.generation import GenDoc, GenerationTask, Scored

CODEX_STOPS = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
INSTRUCTION = (
    "Please provide a self-contained Python script that solves the following problem in a markdown code block:\n"
)
FENCE = re.compile(r"```[ \t]*(?:python|py|Python|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with ``c`` of ``n`` samples correct (Chen et al. 2021)."""
    if n < k:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def _drop_language_line(block: str) -> str:
    """Small models sometimes put the language on its own line ("```\npython\n…"): not code."""
    first, sep, rest = block.partition("\n")
    return rest if sep and first.strip().lower() in ("python", "py", "python3") else block


def extract_code(reply: str) -> str:
    """The code of a chat reply: the fenced block that looks most like the answer, else the reply."""
    blocks: list[str] = [_drop_language_line(str(b)) for b in FENCE.findall(reply)]
    if not blocks:
        return reply
    with_def = [b for b in blocks if "def " in b]
    return max(with_def or blocks, key=len)


def build_program(prompt: str, completion: str, entry_point: str, chat: bool) -> str:
    if not chat:
        return prompt + completion
    code = extract_code(completion)
    if re.search(rf"^\s*def\s+{re.escape(entry_point)}\s*\(", code, re.MULTILINE):
        return prompt + "\n    pass\n\n" + code  # the stub gets a body; the model's function replaces it
    return prompt + code  # a body only: it continues the prompt


class HumanEvalTask(GenerationTask):
    def __init__(self, chat: bool = False) -> None:
        super().__init__(
            name="humaneval_instruct" if chat else "humaneval",
            metrics=("pass@1",),
            files=("humaneval.jsonl", "HumanEval.jsonl"),
            hub=("openai/openai_humaneval", None, "test"),
            max_tokens=768 if chat else 512,
            stop=() if chat else CODEX_STOPS,
            chat=chat,
        )
        self.ks: tuple[int, ...] = (1,)

    def set_samples(self, n: int, temperature: float | None = None) -> None:
        """n samples per problem; pass@k for k in 1, 10, 100 up to n."""
        self.samples = n
        if temperature is not None:
            self.temperature = temperature
        self.ks = tuple(k for k in (1, 10, 100) if k <= n)
        self.metrics = tuple(f"pass@{k}" for k in self.ks)

    def convert(self, row: dict[str, Any], path: Path, line: int) -> GenDoc:
        prompt = field(row, "prompt", str, path, line)
        test = field(row, "test", str, path, line)
        entry = field(row, "entry_point", str, path, line)
        task_id = field(row, "task_id", str, path, line)
        turn = f"{INSTRUCTION}```\n{prompt.strip()}\n```" if self.chat else prompt
        return GenDoc(id=task_id, turns=(turn,), target=test, meta={"prompt": prompt, "entry_point": entry})

    def score_batch(
        self, docs: Sequence[GenDoc], outputs: Sequence[Sequence[Generation]], judge: Backend | None = None
    ) -> list[Scored]:
        from llmatlas.sandbox import run_many

        jobs: list[tuple[str, str, str]] = []
        owners: list[int] = []
        for i, (doc, gens) in enumerate(zip(docs, outputs, strict=True)):
            for g in gens:
                if g.error:
                    continue
                program = build_program(doc.meta["prompt"], g.text, doc.meta["entry_point"], self.chat)
                jobs.append((program, str(doc.target), doc.meta["entry_point"]))
                owners.append(i)
        verdicts = run_many(jobs) if jobs else []
        per_doc: list[list[Any]] = [[] for _ in docs]
        for owner, verdict in zip(owners, verdicts, strict=True):
            per_doc[owner].append(verdict)
        scored = []
        for gens, results in zip(outputs, per_doc, strict=True):
            n = len(gens)  # a failed generation counts as a failed sample, not as a missing one
            c = sum(1 for r in results if r.passed)
            metrics = {f"pass@{k}": pass_at_k(n, c, k) for k in self.ks if k <= n}
            details = {
                "passed": c,
                "samples": n,
                "verdicts": [{"status": r.status, "detail": r.detail[:200]} for r in results],
            }
            scored.append(Scored(metrics, details))
        return scored
