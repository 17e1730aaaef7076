"""Tasks by name.

Log-likelihood: ``arc_easy``, ``arc_challenge``, ``hellaswag``, ``mmlu`` (0-shot) and ``mmlu_5shot``,
``truthfulqa_mc1``, ``truthfulqa_mc2``, ``cmmlu`` and ``cmmlu_5shot``. Generation: ``gsm8k``,
``gsm8k_cot``, ``humaneval``, ``humaneval_instruct``, ``mt_bench`` (needs ``--judge``).
"""

from __future__ import annotations

import copy
import difflib

from llmatlas.core.errors import InputError
from llmatlas.tasks.generation import GenerationTask
from llmatlas.tasks.gsm8k import Gsm8kCotTask, Gsm8kTask
from llmatlas.tasks.humaneval import HumanEvalTask
from llmatlas.tasks.mt_bench import MtBenchTask
from llmatlas.tasks.multiple_choice import LocalOrHubTask, build_tasks

AnyTask = LocalOrHubTask | GenerationTask

TASKS: dict[str, AnyTask] = {
    **build_tasks(),
    "gsm8k": Gsm8kTask(),
    "gsm8k_cot": Gsm8kCotTask(),
    "humaneval": HumanEvalTask(chat=False),
    "humaneval_instruct": HumanEvalTask(chat=True),
    "mt_bench": MtBenchTask(),
}


def task_names() -> list[str]:
    return list(TASKS)


def get_task(name: str, num_fewshot: int | None = None) -> AnyTask:
    """A fresh copy of the named task; ``num_fewshot`` overrides the default where data allows.

    A name that is no built-in task but a .yaml/.yml path or an existing file is a user's task file.
    """
    key = name.strip().lower()
    if key not in TASKS:
        from llmatlas.tasks.custom import is_task_file, load_task_file

        if is_task_file(name):
            return load_task_file(name.strip(), num_fewshot)
        close = difflib.get_close_matches(key, TASKS, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else f" Known: {', '.join(TASKS)}."
        raise InputError(f"unknown task '{name}'.{hint}", field="task")
    task = copy.copy(TASKS[key])
    if num_fewshot is not None:
        if isinstance(task, GenerationTask):
            task.num_fewshot = num_fewshot
            return task
        if num_fewshot and not task.fewshot_files:
            raise InputError(f"task {key} has no few-shot split; use --num-fewshot 0", field="num_fewshot")
        task.num_fewshot = num_fewshot
    return task
