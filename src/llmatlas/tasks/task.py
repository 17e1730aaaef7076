"""What every task is made of: samples, a dataset, a score, and the ``Task`` the run loop drives.

One protocol for log-likelihood and generation tasks (inspect_ai's Task / Sample / Score): a task
loads a :class:`Dataset` of :class:`Sample` items, builds one prompt per sample, and runs a *step*
of samples against a backend, returning one :class:`~llmatlas.engine.results.SampleRecord` each.
The engine's single run loop (``engine/runner.py``) does the rest — identity, journal, resume,
progress events, summary — whatever the task's method.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from llmatlas.core.errors import InputError, option
from llmatlas.tasks.datasets import DataSource, converted, find_file, hub_rows, read_jsonl, sha256_file

if TYPE_CHECKING:
    from llmatlas.backends.base import Backend
    from llmatlas.engine.outputs import Pricer
    from llmatlas.engine.results import SampleRecord

Hub = tuple[str, str | None, str]  # (dataset path, config name, split)


@dataclass(frozen=True)
class Sample:
    """One evaluation item, whatever the task's method.

    ``turns`` are the user's input (one turn for all but multi-turn tasks; a multiple-choice
    sample's query); ``choices`` are a multiple-choice sample's continuations; ``target`` is the
    reference (generation) or the gold index — or the tuple of true indices (TruthfulQA MC2).
    """

    id: str
    turns: tuple[str, ...]
    choices: tuple[str, ...] = ()
    target: Any = None
    group: str | None = None  # subject (MMLU, CMMLU), category (MT-Bench)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def query(self) -> str:
        """The first turn: a multiple-choice sample's whole context after the few-shot examples."""
        return self.turns[0]

    @property
    def golds(self) -> tuple[int, ...]:
        """A multiple-choice sample's correct choices (one, or several for MC2)."""
        return tuple(self.target) if isinstance(self.target, tuple | list) else (int(self.target),)


@dataclass
class Score:
    """A sample's metrics and the evidence behind them (extracted answer, verdicts, ratings)."""

    metrics: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Dataset:
    """The samples of a run, the pool few-shot examples come from, and where both were read."""

    samples: list[Sample]
    fewshot: list[Sample]
    source: DataSource
    fewshot_note: str | None = None  # e.g. "drawn from the evaluated split (no few-shot split found)"


@dataclass
class Step:
    """What a task's step may use besides the backend: the judge, the pricer and the progress hook."""

    judge: Backend | None
    pricer: Pricer
    advance: Callable[[int], None]


P = TypeVar("P")  # a task's prompt: an MCQuestion (log-likelihood) or a string (generation)


@dataclass
class Task(Generic[P]):
    """Base of every task: where its rows come from, and the hooks the run loop calls.

    Subclasses give ``convert`` (a row → a Sample) and the method-specific hooks; the loading of
    local files (else hub rows) and of the few-shot split is shared.
    """

    method: ClassVar[str] = ""  # "loglikelihood" or "generation"
    pools_groups: ClassVar[bool] = False  # a grouped task's overall error pools its groups' (lm-eval)

    name: str
    metrics: tuple[str, ...] = ()
    num_fewshot: int = 0
    files: tuple[str, ...] = ()
    hub: Hub | None = None
    fewshot_files: tuple[str, ...] = ()
    hub_fewshot: Hub | None = None
    target_delimiter: str = " "
    fewshot_delimiter: str = "\n\n"
    needs_judge: bool = False

    # ------------------------------------------------------------------ data

    def convert(self, row: dict[str, Any], path: Path, line: int) -> Sample:
        raise NotImplementedError

    def read(
        self, files: tuple[str, ...], hub: Hub | None, data_dir: str | None
    ) -> tuple[list[Sample], DataSource] | None:
        """Samples from the first of ``files`` found in the data folders, else the hub's rows; None if neither."""
        path = find_file(files, data_dir) if files else None
        if path is not None:
            samples = converted(read_jsonl(path), lambda row, line: self.convert(row, path, line), path)
            return samples, DataSource("file", str(path), sha256_file(path))
        if hub is None:
            return None
        where = Path(f"hf://{hub[0]}")
        samples = [self.convert(row, where, i + 1) for i, row in enumerate(hub_rows(*hub))]
        return samples, DataSource("hub", f"{hub[0]}/{hub[1] or ''}[{hub[2]}]")

    def not_found(self) -> InputError:
        return InputError(
            f"task {self.name}: none of {', '.join(self.files)} found in the data folders "
            f"({option('data_dir')}, $LLMATLAS_DATA_DIR, ./shared/data, ../shared/data)",
            field="data_dir",
        )

    def load(self, data_dir: str | None = None) -> Dataset:
        raise NotImplementedError

    def select(self, samples: list[Sample], limit: int | None) -> list[Sample]:
        """The samples a ``--limit`` keeps: the first ones."""
        return samples[:limit] if limit else samples

    # ------------------------------------------------------------------ the run loop's hooks

    def configure(self, samples: int | None, temperature: float | None, max_tokens: int | None) -> None:
        """Apply a run's generation settings (log-likelihood tasks have none)."""

    def identity(self, judge: dict[str, Any] | None) -> dict[str, Any]:
        """Settings beyond model, task, limit, shots and data that make a run different (resume key)."""
        return {}

    def settings(self, dataset: Dataset) -> dict[str, Any]:
        """Settings recorded in the result's config, beyond limit, shots and resume state."""
        return {}

    def prompts(self, samples: Sequence[Sample], pool: Sequence[Sample]) -> list[P]:
        """Every sample's prompt, built in sample order (few-shot draws may depend on it)."""
        raise NotImplementedError

    def categories(self) -> dict[str, str]:
        """Group → category, where the task pools its groups' errors through categories (MMLU)."""
        return {}

    def order(self, sample: Sample, prompt: P) -> tuple[str, int]:
        """Where a sample goes in the run's order of work (the journal keeps the samples' own order).

        Default: the samples' order. Multiple-choice tasks put each group (subject) together, so a
        step's questions share their few-shot prefix, and the longest first within it.
        """
        return ("", 0)

    def step_size(self, backend: Backend) -> int:
        """Samples per journaled step."""
        return 1

    def method_on(self, backend: Backend) -> str:
        """The method recorded in the result (API models may answer multiple choice by letter)."""
        return self.method

    def run_step(
        self, backend: Backend, samples: Sequence[Sample], prompts: Sequence[P], step: Step
    ) -> list[SampleRecord]:
        """Run and score one step of samples; report progress through ``step.advance``."""
        raise NotImplementedError
