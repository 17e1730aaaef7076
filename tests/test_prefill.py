"""The assistant-turn prefill (EvalPlus's HumanEval prompt): rendering, the task, what a run records."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmatlas.backends.base import GenerationRequest, render_prefilled
from llmatlas.backends.registry import load_backend
from llmatlas.engine.journal import Journal
from llmatlas.engine.runner import EvalConfig, run_task
from llmatlas.tasks.humaneval import EVALPLUS_PREFILL, build_program, extract_code
from llmatlas.tasks.registry import get_task

DATA = Path(__file__).parent / "data"


def chatml(messages: list[dict[str, str]]) -> str:
    """A ChatML template (Qwen's), with the generation prompt after the last message."""
    body = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return body + "<|im_start|>assistant\n"


def test_prefill_opens_the_assistant_turn_without_ending_it() -> None:
    r = GenerationRequest("Solve it.", prefill="Below:\n```python\n")
    text = render_prefilled(chatml, r)
    assert text == "<|im_start|>user\nSolve it.<|im_end|>\n<|im_start|>assistant\nBelow:\n```python\n"
    plain = render_prefilled(chatml, GenerationRequest("Solve it."))
    assert plain.endswith("<|im_start|>assistant\n") and "Below" not in plain


def test_a_template_that_drops_the_assistant_turn_is_an_error() -> None:
    with pytest.raises(ValueError, match="dropped the prefilled"):
        render_prefilled(lambda ms: ms[0]["content"], GenerationRequest("q", prefill="x"))


def test_completion_prompt_ends_with_the_prefill() -> None:
    r = GenerationRequest("Solve it.", system="Be brief.", prefill="```python\n", chat=False)
    assert r.flat_prompt() == "Be brief.\n\nSolve it.\n\n```python\n"


def test_prefill_task_is_evalplus_prompt_and_is_recorded(tmp_path: Path) -> None:
    task = get_task("humaneval_instruct_prefill")
    assert task.prefill == EVALPLUS_PREFILL and task.chat
    assert "\n```" in task.stop
    plain = get_task("humaneval_instruct")
    assert "prefill" not in plain.identity(None)  # runs from before the option keep their fingerprint
    assert task.identity(None)["prefill"] == EVALPLUS_PREFILL
    j = Journal(tmp_path / "j.sqlite")
    res = run_task(load_backend("mock:coder"), "humaneval_instruct_prefill", EvalConfig(limit=2, data_dir=str(DATA)), j)
    other = run_task(load_backend("mock:coder"), "humaneval_instruct", EvalConfig(limit=2, data_dir=str(DATA)), j)
    assert res.config["prefill"] == EVALPLUS_PREFILL
    assert other.config["prefill"] is None
    assert res.run_id != other.run_id
    assert res.task == "humaneval_instruct_prefill"


def test_a_reply_that_starts_inside_the_fence_is_the_code() -> None:
    """With the prefill the reply is bare code (cut at the closing fence): it is the program's code."""
    prompt = 'def add(a, b):\n    """Add."""\n'
    reply = "def add(a, b):\n    return a + b"
    assert extract_code(reply) == reply
    program = build_program(prompt, reply, "add", chat=True)
    namespace: dict[str, object] = {}
    exec(program, namespace)  # our own two-line program
    assert namespace["add"](2, 3) == 5  # type: ignore[operator]


@pytest.mark.slow
def test_llama_continues_the_prefilled_turn() -> None:
    """SmolLM2's own template: the prompt ends with the prefill, and the reply continues it."""
    b = load_backend("smollm2")
    r = GenerationRequest("Write a Python function that adds two numbers.", max_tokens=24, prefill="```python\ndef")
    prompt = b.chat_prompt(r)  # type: ignore[attr-defined]
    assert prompt.endswith("<|im_start|>assistant\n```python\ndef")
    (g,) = b.generate([r])
    assert g.error is None and g.text.strip() and not g.text.startswith("```")
    b.close()


def test_sanitize_keeps_definitions_and_drops_the_models_own_tries() -> None:
    from llmatlas.tasks.scorers import sanitize_code

    code = (
        "import math\n\nLIMIT = 3\n\n@staticmethod\ndef helper(x):\n    return x\n\n"
        "def sorted_list_sum(lst):\n    return sorted(lst)\n\n"
        "assert list_sort(['aa']) == ['aa']\nprint(sorted_list_sum([2, 1]))\n"
        "if __name__ == '__main__':\n    sorted_list_sum([])\n"
    )
    clean = sanitize_code(code)
    assert "assert" not in clean and "print" not in clean and "__main__" not in clean
    assert "import math" in clean and "LIMIT = 3" in clean and "@staticmethod\ndef helper" in clean
    assert "def sorted_list_sum" in clean
    assert sanitize_code("def f(:\n") == "def f(:\n"  # unparsable: left for the check to report
    assert sanitize_code("def f():\n    return 1\n") == "def f():\n    return 1\n"


def test_prefill_task_sanitizes_and_says_so() -> None:
    """HumanEval/149's reply: a correct function, then an assert on a misspelt name at top level."""
    from llmatlas.tasks.scorers import ScoreItem

    task = get_task("humaneval_instruct_prefill")
    assert task.identity(None)["sanitize"] is True and "sanitize" not in get_task("humaneval_instruct").identity(None)
    prompt = 'def add(a, b):\n    """Add two numbers."""\n'
    reply = "def add(a, b):\n    return a + b\n\nassert plus(1, 2) == 3\n"
    case = task.scorer.prepare(
        {"prompt": prompt, "test": "def check(f):\n    assert f(2, 3) == 5\n", "entry_point": "add"},
        "def check(f):\n    assert f(2, 3) == 5\n",
        Path("x.jsonl"),
        1,
    )
    sample = type("S", (), {"meta": {}})()
    (sanitized,) = task.scorer.score_many([ScoreItem(sample, reply, case)])
    (plain,) = get_task("humaneval_instruct").scorer.score_many([ScoreItem(sample, reply, case)])
    assert sanitized.details["passed"] and not plain.details["passed"]
