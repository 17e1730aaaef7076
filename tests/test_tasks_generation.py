"""Generation tasks on the mock backend: GSM8K extraction as lm-eval does it, prompts, pass@k, runs."""

from __future__ import annotations

import json
import math
from itertools import combinations
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmatlas.backends.base import Generation
from llmatlas.backends.registry import load_backend
from llmatlas.core.errors import InputError
from llmatlas.engine.journal import Journal
from llmatlas.engine.runner import EvalConfig, run_task
from llmatlas.tasks.custom import CustomGenerationTask, load_task_file
from llmatlas.tasks.gsm8k import FLEXIBLE, INVALID, STRICT, STRICT_COT, Gsm8kTask, exact_match, extract, normalize
from llmatlas.tasks.humaneval import HumanEvalTask, build_program, extract_code, pass_at_k
from llmatlas.tasks.registry import get_task
from llmatlas.tasks.scorers import CodeScorer, RegexScorer

DATA = Path(__file__).parent / "data"

# (text, strict "#### N", strict CoT "The answer is N.", flexible last number) as lm-eval 0.4.13's
# RegexFilter returns them (computed with lm_eval.filters.extraction.RegexFilter)
LM_EVAL_FILTERS = [
    ("The answer is 18.\n#### 18", "18", "18", "18"),
    ("So she makes $18 a day.", INVALID, INVALID, "$18"),
    ("#### 1,000", "1,000", INVALID, "1,000"),
    ("no number here", INVALID, INVALID, INVALID),
    ("It costs $1,234.50.", INVALID, INVALID, "$1,234.50."),
    ("-3 and then 7", INVALID, INVALID, "7"),
    ("The answer is -12.5.", INVALID, "-12.5", "-12.5."),
    ("x #### 5\n#### 6", "5", INVALID, "6"),
    ("3.", INVALID, INVALID, "3."),
    ("1.2.3", INVALID, INVALID, "1.2.3"),
    ("answer: 42 dollars, or 4.2e1", INVALID, INVALID, "1"),
]
# (prediction, reference, lm-eval exact_match with gsm8k's regexes_to_ignore and ignore_case)
LM_EVAL_EXACT = [
    ("1,000", "#### 1000", 1.0),
    ("$18", "Janet...\n#### 18", 1.0),
    ("-12.5.", "-12.5", 1.0),
    ("3.", "3", 1.0),
    (INVALID, "#### 3", 0.0),
    ("18.0", "18", 0.0),
    ("$1,234.50.", "1234.50", 1.0),
]


@pytest.mark.parametrize(("text", "strict", "strict_cot", "flexible"), LM_EVAL_FILTERS)
def test_gsm8k_extraction_matches_lm_eval(text: str, strict: str, strict_cot: str, flexible: str) -> None:
    assert extract(text, STRICT) == strict
    assert extract(text, STRICT_COT) == strict_cot
    assert extract(text, FLEXIBLE, group_select=-1) == flexible


@pytest.mark.parametrize(("prediction", "reference", "expected"), LM_EVAL_EXACT)
def test_gsm8k_exact_match_matches_lm_eval(prediction: str, reference: str, expected: float) -> None:
    assert exact_match(prediction, reference) == expected


@given(st.text())
def test_extraction_never_raises_and_normalize_is_stable(text: str) -> None:
    for pattern, group in ((STRICT, 0), (STRICT_COT, 0), (FLEXIBLE, -1)):
        out = extract(text, pattern, group)
        assert out == INVALID or out.strip() == out
    assert normalize(normalize(text)) == normalize(normalize(normalize(text)))
    assert exact_match(INVALID, text) == float(normalize(INVALID) == normalize(text))


# lm-eval's gsm8k filters and exact_match, declared in a task file with the regex scorer's options
GSM8K_TASK_FILE = r"""
name: gsm8k_as_a_task_file
dataset:
  path: rows.jsonl
prompt: "Question: {{ question }}\nAnswer:"
target: TARGET
scorer:
  - type: regex
    name: exact_match_strict
    extract: 'STRICT'
    fallback: '[invalid]'
    ignore: [',', '\$', '(?s).*#### ', '\.$']
    lowercase: true
    strip: false
  - type: regex
    name: exact_match_flexible
    extract: '(-?[$0-9.,]{2,})|(-?[0-9]+)'
    group: [1, 2]
    select: -1
    fallback: '[invalid]'
    ignore: [',', '\$', '(?s).*#### ', '\.$']
    lowercase: true
    strip: false
"""
GSM8K_ROWS = [
    {"question": "How many eggs?", "answer": "She sells 16 - 3 - 4 = 9 eggs.\n#### 18"},
    {"question": "How much?", "answer": "It costs $1,000 in all.\n#### 1000"},
    {"question": "What temperature?", "answer": "It fell to -12.5 degrees.\n#### -12.5"},
]
GSM8K_OUTPUTS = [
    *(text for text, *_ in LM_EVAL_FILTERS),
    "So she makes $18.\n#### 18",
    "The answer is 18.",
    "#### $1,000.",
    "The answer is 1,000.\n\nQ: next",
    "The answer is -12.5.",
    "It is -12.5 or maybe -12.50",
    "",
]


@pytest.mark.parametrize(
    ("name", "strict", "target"),
    [
        ("gsm8k", r"#### (\-?[0-9\.\,]+)", '"{{ answer }}"'),
        ("gsm8k_cot", r"The answer is (\-?[0-9\.\,]+).", "\"{{ answer.split('####')[-1].strip() }}\""),
    ],
)
def test_a_task_file_scores_gsm8k_as_the_built_in_task(tmp_path: Path, name: str, strict: str, target: str) -> None:
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in GSM8K_ROWS), encoding="utf-8")
    text = GSM8K_TASK_FILE.replace("STRICT", strict).replace("TARGET", target)
    (tmp_path / "task.yaml").write_text(text, encoding="utf-8")
    custom = load_task_file(tmp_path / "task.yaml")
    assert isinstance(custom, CustomGenerationTask)
    docs = custom.load().samples
    builtin = get_task(name)
    assert isinstance(builtin, Gsm8kTask) and all(isinstance(s, RegexScorer) for s in builtin.scorers)
    builtin_docs = [builtin.convert(row, tmp_path / "rows.jsonl", i + 1) for i, row in enumerate(GSM8K_ROWS)]
    outputs = [[Generation(text=t)] for t in GSM8K_OUTPUTS]
    hits = 0.0
    for doc, builtin_doc in zip(docs, builtin_docs, strict=True):
        from_file = custom.score_batch([doc] * len(outputs), outputs)
        for out, scored in zip(outputs, from_file, strict=True):
            expected = builtin.score(builtin_doc, out)
            assert scored.metrics == expected.metrics, out[0].text
            strict_details, flexible_details = (
                scored.details["exact_match_strict"],
                scored.details["exact_match_flexible"],
            )
            assert strict_details["extracted"] == expected.details["strict"]
            assert flexible_details["extracted"] == expected.details["flexible"]
            assert strict_details["target"] == flexible_details["target"] == expected.details["reference"]
            hits += sum(expected.metrics.values())
    assert hits >= 10  # the outputs hold right answers for both filters, not only misses


def test_gsm8k_prompt_five_shot_from_test_split_when_no_train(tmp_path: Path) -> None:
    task = get_task("gsm8k")
    loaded = task.load(str(DATA))
    assert task.num_fewshot == 5
    assert loaded.fewshot_note and "evaluated split" in loaded.fewshot_note
    prompts = task.prompts(loaded.samples, loaded.fewshot)
    first = prompts[0]
    assert first.endswith(
        "Question: " + json.loads((DATA / "gsm8k_test.jsonl").read_text().splitlines()[0])["question"] + "\nAnswer:"
    )
    assert first.count("Question: ") == 6 and first.count("#### ") == 5  # 5 solved shots with full answers
    assert loaded.samples[0].turns[0] not in first[: -len(loaded.samples[0].turns[0])]  # never its own shot
    assert prompts == task.prompts(loaded.samples, loaded.fewshot)  # seeded: the same draws every time


def test_gsm8k_cot_prompt_uses_the_eight_exemplars() -> None:
    task = get_task("gsm8k_cot")
    loaded = task.load(str(DATA))
    prompt = task.prompts(loaded.samples[:1], loaded.fewshot)[0]
    assert prompt.startswith("Q: There are 15 trees in the grove.")
    assert prompt.count("The answer is") == 8 and prompt.count("\n\nQ: ") == 8
    assert prompt.endswith("\nA:")
    assert task.stop[0] == "Q:"


def test_gsm8k_run_on_scripted_mock(tmp_path: Path) -> None:
    rows = [json.loads(x) for x in (DATA / "gsm8k_test.jsonl").read_text().splitlines()]
    answers = [r["answer"].split("####")[-1].strip() for r in rows]
    replies = {
        rows[0]["question"]: f" She sells 9 eggs.\n#### {answers[0]}\n\nQuestion: next",  # strict and flexible
        rows[1]["question"]: f" It takes {answers[1]} bolts in total.",  # flexible only
        rows[2]["question"]: " I do not know.",  # neither
    }
    script = tmp_path / "replies.json"
    script.write_text(json.dumps(replies))
    backend = load_backend(f"mock:m?replies={script}")
    res = run_task(backend, "gsm8k_cot", EvalConfig(limit=3, data_dir=str(DATA)), Journal(tmp_path / "j.sqlite"))
    assert res.method == "generation" and res.n == 3
    assert res.metrics["exact_match_strict"].value == 0.0  # CoT strict wants "The answer is N."
    assert math.isclose(res.metrics["exact_match_flexible"].value, 2 / 3)
    samples = Journal(tmp_path / "j.sqlite").samples(res.run_id)
    assert samples[1].details["flexible"] == answers[1]
    perf = res.performance
    assert perf is not None and perf.latency_s is not None and perf.latency_s.p95 >= perf.latency_s.p50 > 0
    assert perf.cost_usd is None and perf.cost_note  # a mock has no price: said, not zero
    assert perf.input_tokens and perf.output_tokens and perf.token_counts == "usage"


def test_gsm8k_stop_sequence_cuts_the_answer(tmp_path: Path) -> None:
    rows = [json.loads(x) for x in (DATA / "gsm8k_test.jsonl").read_text().splitlines()]
    script = tmp_path / "replies.json"
    script.write_text(json.dumps({rows[0]["question"]: " 9 eggs.\n#### 18\n\nQuestion: what is #### 99"}))
    res = run_task(
        load_backend(f"mock:m?replies={script}"),
        "gsm8k",
        EvalConfig(limit=1, data_dir=str(DATA)),
        Journal(tmp_path / "j.sqlite"),
    )
    sample = Journal(tmp_path / "j.sqlite").samples(res.run_id)[0]
    assert sample.outputs[0].text == " 9 eggs.\n#### 18\n\n"
    assert sample.details["strict"] == "18" and res.metrics["exact_match_strict"].value == 1.0


def test_generation_run_is_priced_from_the_catalog(tmp_path: Path) -> None:
    res = run_task(
        load_backend("mock:m"),
        "gsm8k_cot",
        EvalConfig(limit=2, data_dir=str(DATA), catalog_id="gpt-4o"),
        Journal(tmp_path / "j.sqlite"),
    )
    perf = res.performance
    assert perf is not None and perf.cost_usd is not None and perf.cost_usd > 0
    # gpt-4o: $2.50 / $10 per 1M tokens (catalog, current entry)
    assert math.isclose(perf.cost_usd, (perf.input_tokens or 0) * 2.5e-6 + (perf.output_tokens or 0) * 10e-6)


def test_generation_resume_and_identity(tmp_path: Path) -> None:
    jr = Journal(tmp_path / "j.sqlite")
    first = run_task(load_backend("mock:m"), "gsm8k", EvalConfig(limit=4, data_dir=str(DATA)), jr)
    again = run_task(load_backend("mock:m"), "gsm8k", EvalConfig(limit=4, data_dir=str(DATA)), jr)
    assert again.run_id == first.run_id and again.config["scored_this_session"] == 0
    hotter = run_task(load_backend("mock:m"), "gsm8k", EvalConfig(limit=4, data_dir=str(DATA), temperature=0.7), jr)
    assert hotter.run_id != first.run_id


@pytest.mark.parametrize("n", [1, 2, 5, 10, 20])
def test_pass_at_k_matches_the_combinatorial_definition(n: int) -> None:
    for c in range(n + 1):
        for k in (1, 2, 5, 10):
            if k > n:
                continue
            # P(at least one of k drawn without replacement is correct), by enumeration for small n
            if n <= 10:
                draws = list(combinations(range(n), k))
                expected = sum(any(i < c for i in d) for d in draws) / len(draws)
            else:
                expected = 1 - math.comb(n - c, k) / math.comb(n, k)
            assert math.isclose(pass_at_k(n, c, k), expected, abs_tol=1e-12)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 10)


def test_humaneval_code_extraction() -> None:
    reply = (
        "Here you go:\n```python\nimport math\n\ndef f(x):\n    return x + 1\n```\nAnd a test:\n```\nprint(f(1))\n```"
    )
    assert extract_code(reply) == "import math\n\ndef f(x):\n    return x + 1\n"
    assert extract_code("def f(x):\n    return 1") == "def f(x):\n    return 1"
    assert extract_code("```\npython\ndef f(x):\n    return 5\n```") == "def f(x):\n    return 5\n"
    unterminated = "```python\ndef f(x):\n    return 2\n"
    assert extract_code(unterminated) == "def f(x):\n    return 2\n"
    prompt = 'def f(x):\n    """doc"""\n'
    full = build_program(prompt, "```python\ndef f(x):\n    return 3\n```", "f", chat=True)
    ns: dict[str, object] = {}
    exec(compile(full, "<t>", "exec"), ns)  # our own fixed strings, not model output
    assert ns["f"](0) == 3  # type: ignore[operator]
    body = build_program(prompt, "    return x * 2\n", "f", chat=False)
    assert body == prompt + "    return x * 2\n"


def test_code_assembly_gives_a_stub_a_body_only_when_the_prefix_ends_with_it() -> None:
    reply = "```python\ndef f(x):\n    return 1\n```"
    assert build_program("import math\n", reply, "f", chat=True) == "import math\ndef f(x):\n    return 1\n"
    helper_last = 'def f(x):\n    """doc"""\n\n\ndef g(y):\n    return y\n'  # f's stub is not the last statement
    assert build_program(helper_last, reply, "f", chat=True) == helper_last + "def f(x):\n    return 1\n"
    signature = "def f(\n    x: int,\n) -> int:\n"  # a signature over several lines, no body yet
    program = build_program(signature, reply, "f", chat=True)
    assert program == signature + "\n    pass\n\ndef f(x):\n    return 1\n"
    ns: dict[str, object] = {}
    exec(compile(program, "<t>", "exec"), ns)  # our own fixed strings, not model output
    assert ns["f"](0) == 1  # type: ignore[operator]


def test_humaneval_is_scored_by_the_code_scorer() -> None:
    pytest.importorskip("llmatlas.sandbox", reason="llmatlas.sandbox is not importable yet")
    rows = [json.loads(x) for x in (DATA / "humaneval.jsonl").read_text().splitlines()][:2]
    task = get_task("humaneval_instruct")
    assert isinstance(task, HumanEvalTask) and isinstance(task.scorer, CodeScorer)
    docs = task.load(str(DATA)).samples[:2]
    for doc, row in zip(docs, rows, strict=True):
        assert doc.meta["code"] == (row["prompt"], row["test"], row["entry_point"])  # rendered as given
    solved = f"Sure:\n```python\n{rows[0]['prompt']}{rows[0]['canonical_solution']}```"
    wrong = f"```python\ndef {rows[1]['entry_point']}(paren_string):\n    return []\n```"
    task.set_samples(2)
    scored = task.score_batch(
        docs, [[Generation(text=solved), Generation(text="", error="HTTP 500")], [Generation(text=wrong)] * 2]
    )
    assert scored[0].metrics == {"pass@1": 0.5} and scored[1].metrics == {"pass@1": 0.0}
    assert scored[0].details["passed"] == 1 and scored[0].details["samples"] == 2
    assert [v["status"] for v in scored[0].details["verdicts"]] == ["passed", "no output"]
    assert [v["status"] for v in scored[1].details["verdicts"]] == ["failed", "failed"]


def test_unknown_task_and_missing_data(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown task"):
        get_task("gsm9k")
    empty = tmp_path / "empty"
    empty.mkdir()
    task = get_task("humaneval")
    task.files = ("nope.jsonl",)
    task.hub = None
    with pytest.raises(InputError, match=r"none of nope\.jsonl"):
        task.load(str(empty))
