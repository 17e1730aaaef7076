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
* ``humaneval_instruct_prefill``: the same instruction, with the assistant turn begun as EvalPlus
  begins it ("Below is a Python script … passes corresponding tests:" and an opening ```python
  fence), so the reply is the code itself, cut where the fence closes; the code is sanitized as
  EvalPlus does (only imports, definitions and assignments kept: a model's own example calls and
  asserts would run before the tests). The prefill is recorded in the run's settings and
  fingerprint. Backends that can continue an assistant turn: llama,
  hf, anthropic.

``--samples n`` with ``--temperature T`` draws n programs per problem; ``pass@k`` uses the unbiased
estimator of Chen et al. (2021): ``1 - C(n-c, k) / C(n, k)`` averaged over problems.

Scoring is the ``code`` scorer of task files (:class:`~llmatlas.tasks.scorers.CodeScorer`, see
:func:`code_scorer`): the program assembly, the sandbox call and pass@k exist once, there.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmatlas.backends.base import Backend, Generation
from llmatlas.sandbox.limits import SandboxLimits
from llmatlas.tasks.datasets import field
from llmatlas.tasks.generation import GenerationTask
from llmatlas.tasks.registry import task
from llmatlas.tasks.scorers import CodeOptions, CodeScorer, FileContext, ScoreItem
from llmatlas.tasks.scorers import build_program as assemble
from llmatlas.tasks.scorers import extract_code as extract_code
from llmatlas.tasks.scorers import pass_at_k as pass_at_k
from llmatlas.tasks.task import Dataset, Sample, Score

CODEX_STOPS = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
INSTRUCTION = (
    "Please provide a self-contained Python script that solves the following problem in a markdown code block:\n"
)
# EvalPlus's assistant-turn opening (evalplus/provider/utility.py, make_raw_chat_prompt): the model
# starts inside a ```python block. Its stop strings (EOS there, plus "\n```\n" for chat models); the
# fence's stop here also catches a reply that ends right after the closing fence.
EVALPLUS_PREFILL = (
    "Below is a Python script with a self-contained function that solves the problem and passes "
    "corresponding tests:\n```python\n"
)
EVALPLUS_STOPS = ("\n```", "\nif __name__", "\ndef main(", "\nprint(")


def build_program(prompt: str, completion: str, entry_point: str, chat: bool) -> str:
    """HumanEval's program: the code scorer's assembly, the code taken from a chat reply's fence."""
    return assemble(prompt, completion, entry_point, extract=chat)


def code_scorer(chat: bool, sanitize: bool = False) -> CodeScorer:
    """The ``code`` scorer HumanEval is scored with; as a task file would declare it::

    scorer:
      type: code
      prefix: "{{ prompt }}"
      test: "{{ test }}"
      entry_point: "{{ entry_point }}"
      extract_code: false       # true for humaneval_instruct
      sanitize: false           # true for humaneval_instruct_prefill, as EvalPlus scores
      timeout: 15               # the sandbox's default limits
      cpu_seconds: 10
      memory_mb: 1024
    """
    limits = SandboxLimits()
    options = CodeOptions(
        type="code",
        prefix="{{ prompt }}",
        test="{{ test }}",
        entry_point="{{ entry_point }}",
        extract_code=chat,
        sanitize=sanitize,
        timeout=limits.wall_seconds,
        cpu_seconds=limits.cpu_seconds,
        memory_mb=limits.memory_bytes >> 20,
    )
    return CodeScorer(options, FileContext(Path(__file__)), ("scorer",))


class HumanEvalTask(GenerationTask):
    def __init__(self, chat: bool = False, prefill: bool = False) -> None:
        name = "humaneval_instruct" if chat else "humaneval"
        super().__init__(
            name=f"{name}_prefill" if prefill else name,
            metrics=("pass@1",),
            files=("humaneval.jsonl", "HumanEval.jsonl"),
            hub=("openai/openai_humaneval", None, "test"),
            max_tokens=768 if chat else 512,
            stop=EVALPLUS_STOPS if prefill else () if chat else CODEX_STOPS,
            chat=chat,
            prefill=EVALPLUS_PREFILL if prefill else "",
        )
        self.scorer = code_scorer(chat, sanitize=prefill)

    def identity(self, judge: dict[str, Any] | None) -> dict[str, Any]:
        """A sanitized run scores differently from one that is not: its fingerprint says so."""
        out = super().identity(judge)
        if self.scorer.options.sanitize:
            out["sanitize"] = True
        return out

    def settings(self, dataset: Dataset) -> dict[str, Any]:
        return {**super().settings(dataset), "sanitize": self.scorer.options.sanitize}

    def set_samples(self, n: int, temperature: float | None = None) -> None:
        """n samples per problem; pass@k for k in 1, 10, 100 up to n."""
        self.samples = n
        if temperature is not None:
            self.temperature = temperature
        self.metrics = tuple(f"pass@{k}" for k in (1, 10, 100) if k <= n)

    def convert(self, row: dict[str, Any], path: Path, line: int) -> Sample:
        prompt = field(row, "prompt", str, path, line)
        test = field(row, "test", str, path, line)
        entry = field(row, "entry_point", str, path, line)
        task_id = field(row, "task_id", str, path, line)
        turn = f"{INSTRUCTION}```\n{prompt.strip()}\n```" if self.chat else prompt
        if self.prefill:  # EvalPlus's user turn ends with a newline after the fence
            turn += "\n"
        case = self.scorer.prepare(row, test, path, line)
        return Sample(
            id=task_id, turns=(turn,), target=test, meta={"prompt": prompt, "entry_point": entry, "code": case}
        )

    def score_batch(
        self, docs: Sequence[Sample], outputs: Sequence[Sequence[Generation]], judge: Backend | None = None
    ) -> list[Score]:
        """Every program of the step in one sandbox batch; pass@k per problem over its samples.

        A failed generation is a failed sample, not a missing one (its verdict says "no output").
        """
        items = [
            ScoreItem(doc, None if g.error else g.text, doc.meta["code"])
            for doc, gens in zip(docs, outputs, strict=True)
            for g in gens
        ]
        results = self.scorer.score_many(items)
        scored: list[Score] = []
        k = 0
        for gens in outputs:
            scored.append(self.scorer.combine(results[k : k + len(gens)]))
            k += len(gens)
        return scored


@task("humaneval", benchmark="humaneval", metric="pass@1")
def humaneval() -> GenerationTask:
    """HumanEval, 164 problems: the model completes the function; tests run in the sandbox."""
    return HumanEvalTask(chat=False)


@task("humaneval_instruct", benchmark="humaneval", metric="pass@1", category="coding")
def humaneval_instruct() -> GenerationTask:
    """HumanEval as a chat instruction (code extracted from the reply); for instruct models."""
    return HumanEvalTask(chat=True)


@task("humaneval_instruct_prefill", benchmark="humaneval", metric="pass@1")
def humaneval_instruct_prefill() -> GenerationTask:
    """HumanEval as EvalPlus prompts instruct models: the reply starts inside a ```python block."""
    return HumanEvalTask(chat=True, prefill=True)
