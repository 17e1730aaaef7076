"""Tasks by name, registered with the ``@task`` decorator next to their definition.

The decorator carries what the rest of the product needs to know about a task: the catalog
benchmark its results count as, the metric that counts, and the advisor category for which
``recommend --eval`` runs it. The advisor reads these here instead of keeping its own tables.

Log-likelihood: ``arc_easy``, ``arc_challenge``, ``hellaswag``, ``mmlu`` (0-shot) and ``mmlu_5shot``,
``truthfulqa_mc1``, ``truthfulqa_mc2``, ``cmmlu`` and ``cmmlu_5shot``. Generation: ``gsm8k``,
``gsm8k_cot``, ``humaneval``, ``humaneval_instruct``, ``humaneval_instruct_prefill``, ``mt_bench``
(needs ``--judge``). A name that is a ``.yaml`` path is a user's task file (``tasks/custom.py``).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from llmatlas.core.errors import InputError, option

if TYPE_CHECKING:
    from llmatlas.tasks.task import Task

    AnyTask = Task[Any]

BUILTIN_MODULES = ("multiple_choice", "gsm8k", "humaneval", "mt_bench")


@dataclass(frozen=True)
class TaskInfo:
    """A registered task: how to make it, and what its results mean to the catalog and the advisor."""

    name: str
    factory: Callable[[], AnyTask]
    benchmark: str | None = None  # the catalog benchmark its results count as
    metric: str | None = None  # the metric that counts
    category: str | None = None  # the advisor category ``recommend --eval`` runs it for
    summary: str = ""


_REGISTRY: dict[str, TaskInfo] = {}
F = TypeVar("F", bound=Callable[[], Any])


def task(
    name: str, *, benchmark: str | None = None, metric: str | None = None, category: str | None = None
) -> Callable[[F], F]:
    """Register a task factory under ``name`` (a fresh task per call: runs never share state)."""
    if (benchmark is None) != (metric is None):
        raise ValueError(f"task {name}: benchmark and metric go together")

    def register(factory: F) -> F:
        summary = (factory.__doc__ or "").strip().splitlines()[0] if factory.__doc__ else ""
        _REGISTRY[name] = TaskInfo(name, factory, benchmark, metric, category, summary)
        return factory

    return register


def registered() -> dict[str, TaskInfo]:
    """Every built-in task, in registration order (log-likelihood tasks first)."""
    for module in BUILTIN_MODULES:
        importlib.import_module(f"llmatlas.tasks.{module}")
    return dict(_REGISTRY)


FALLBACK_METRICS = ("acc_norm", "acc", "exact_match_strict", "pass@1", "score")  # a user's task's headline


def headline_metric(task: str, metrics: Iterable[str]) -> str | None:
    """The metric a task's result is known by, among ``metrics``: the registered one (acc_norm for
    HellaSwag, acc for MMLU), else the first of the usual headline metrics, else the first."""
    names = list(metrics)
    info = registered().get(task)
    if info is not None and info.metric in names:
        return info.metric
    return next((m for m in FALLBACK_METRICS if m in names), names[0] if names else None)


def task_names() -> list[str]:
    return list(registered())


def get_task(name: str, num_fewshot: int | None = None) -> AnyTask:
    """A fresh instance of the named task; ``num_fewshot`` overrides the default where data allows.

    A name that is no built-in task but a .yaml/.yml path or an existing file is a user's task file.
    """
    key = name.strip().lower()
    tasks = registered()
    if key not in tasks:
        from llmatlas.tasks.custom import is_task_file, load_task_file

        if is_task_file(name):
            return load_task_file(name.strip(), num_fewshot)
        close = difflib.get_close_matches(key, tasks, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else f" Known: {', '.join(tasks)}."
        raise InputError(f"unknown task '{name}'.{hint}", field="task")
    made = tasks[key].factory()
    if num_fewshot is not None:
        if made.method == "loglikelihood" and num_fewshot and not made.fewshot_files:
            raise InputError(f"task {key} has no few-shot split; set {option('num_fewshot')} to 0", field="num_fewshot")
        made.num_fewshot = num_fewshot
    return made
