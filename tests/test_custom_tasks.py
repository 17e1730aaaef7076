"""YAML task files: every example runs end to end on the mock backend, every mistake is one clear InputError."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from llmatlas.backends.base import MCQuestion
from llmatlas.backends.mock import MockBackend
from llmatlas.backends.registry import load_backend
from llmatlas.cli.main import app
from llmatlas.core.errors import InputError
from llmatlas.engine.journal import Journal
from llmatlas.engine.results import RunResult, SampleRecord
from llmatlas.engine.runner import EvalConfig, run_task
from llmatlas.tasks.custom import CustomGenerationTask, CustomMultipleChoiceTask, load_task_file
from llmatlas.tasks.registry import get_task
from llmatlas.tasks.scorers import SCORERS, find_numbers, parse_rating, strip_fence

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "tasks"


def run(
    tmp_path: Path,
    task: str | Path,
    replies: dict[str, str] | None = None,
    judge_replies: dict[str, str] | None = None,
    **config: Any,
) -> tuple[RunResult, list[SampleRecord]]:
    """Run a task file on the mock backend with scripted replies (and a scripted judge)."""
    spec = "mock:m"
    if replies is not None:
        (tmp_path / "replies.json").write_text(json.dumps(replies), encoding="utf-8")
        spec += f"?replies={tmp_path / 'replies.json'}"
    judge = None
    if judge_replies is not None:
        (tmp_path / "judge.json").write_text(json.dumps(judge_replies), encoding="utf-8")
        judge = load_backend(f"mock:judge?replies={tmp_path / 'judge.json'}")
    journal = Journal(tmp_path / "j.sqlite")
    result = run_task(load_backend(spec), str(task), EvalConfig(judge=judge, **config), journal)
    return result, journal.samples(result.run_id)


def values(result: RunResult) -> dict[str, float]:
    return {k: round(m.value, 6) for k, m in result.metrics.items()}


# ------------------------------------------------------------------------------------------- examples


def test_every_example_loads() -> None:
    names = sorted(p.name for p in EXAMPLES.glob("*.yaml"))
    assert names == [
        "arithmetic.yaml",
        "capitals.yaml",
        "extract_json.yaml",
        "fizzbuzz_code.yaml",
        "helpfulness_judge.yaml",
        "sentiment_mc.yaml",
    ]
    for name in names:
        task = load_task_file(EXAMPLES / name)
        assert task.name == name.removesuffix(".yaml")
        assert task.load().samples


def test_capitals_exact_and_contains(tmp_path: Path) -> None:
    replies = {
        "capital of France": "Paris",
        "capital of Japan": "Tokyo.",
        "capital of Canada": "Toronto",
        "capital of Australia": "The capital is Canberra.",
        "capital of Brazil": "brasília",
        "capital of Kenya": "Nairobi\nIt is the largest city too.",  # cut at the stop sequence
        "capital of Norway": "Oslo",
        "capital of Vietnam": "Ho Chi Minh City",
    }
    result, samples = run(tmp_path, EXAMPLES / "capitals.yaml", replies)
    assert result.task == "capitals" and result.n == 8
    assert values(result) == {"exact": 0.625, "contains": 0.75}
    assert result.groups["Asia"]["exact"].value == 0.5
    assert result.groups["Oceania"]["contains"].value == 1.0
    kenya = next(s for s in samples if "Kenya" in s.prompt)
    assert kenya.outputs[0].text == "Nairobi"
    assert kenya.target == "Nairobi"
    assert kenya.details["exact"]["output"] == "nairobi"
    assert result.data["kind"] == "task-file"


def test_arithmetic_numeric_with_fewshot_file(tmp_path: Path) -> None:
    replies = {
        "7 boxes with 12 muffins": "84\n\nQuestion: What is 2 + 2?\nAnswer: 4",  # the stop cuts the ramble
        "4 tickets cost": "4 × $18.50 = $74.00",
        "240 km in 3 hours": "240 / 3 = 80 km/h",
        "Ana had 1,500 euros": "She has $1,135 left.",
        "fell by 11 degrees": "4 - 11 = -7",
        "0.75 cups of sugar": "6 x 0.75 = 4.25 cups",
    }
    result, samples = run(tmp_path, EXAMPLES / "arithmetic.yaml", replies)
    assert values(result) == {"numeric": round(5 / 6, 6)}
    first = samples[0]
    assert first.prompt.count("Question:") == 3  # two examples from arithmetic_train.jsonl, then the item
    assert first.prompt.endswith("How many muffins is that?\nAnswer:")
    train = [json.loads(x)["question"] for x in (EXAMPLES / "arithmetic_train.jsonl").read_text().splitlines()]
    assert sum(q in first.prompt for q in train) == 2
    assert result.config["fewshot_source"] == "from arithmetic_train.jsonl"
    temperature = next(s for s in samples if "11 degrees" in s.prompt)
    assert temperature.details["numeric"]["value"] == -7.0


def test_samples_are_averaged_per_item(tmp_path: Path) -> None:
    replies = {"capital of France": "Paris", "capital of Japan": "Kyoto"}
    result, samples = run(tmp_path, EXAMPLES / "capitals.yaml", replies, limit=2, samples=2, temperature=0.7)
    assert values(result) == {"exact": 0.5, "contains": 0.5}
    assert len(samples[0].outputs) == 2
    assert len(samples[0].details["exact"]["samples"]) == 2


def test_code_pass_at_k_over_samples() -> None:
    from llmatlas.tasks.scorers import CodeScorer
    from llmatlas.tasks.task import Score

    task = load_task_file(EXAMPLES / "fizzbuzz_code.yaml")
    assert isinstance(task, CustomGenerationTask)
    scorer = task.scorers[0]
    assert isinstance(scorer, CodeScorer)
    results = [Score({"pass@1": float(i < 3)}, {"passed": i < 3, "status": "x"}) for i in range(10)]
    combined = scorer.combine(results)
    assert combined.metrics == {"pass@1": pytest.approx(0.3), "pass@10": 1.0}
    assert combined.details["passed"] == 3 and combined.details["samples"] == 10


def test_arithmetic_num_fewshot_override(tmp_path: Path) -> None:
    result, samples = run(tmp_path, EXAMPLES / "arithmetic.yaml", {}, num_fewshot=0)
    assert result.config["num_fewshot"] == 0
    assert all(s.prompt.count("Question:") == 1 for s in samples)


def test_extract_json_schema(tmp_path: Path) -> None:
    good = {
        "customer": "Maria Lopez",
        "items": [{"sku": "MUG-BL", "quantity": 2}, {"sku": "TT-01", "quantity": 1}],
        "express": True,
    }
    replies = {
        "Maria Lopez": "```json\n" + json.dumps(good, indent=2) + "\n```",
        "Jonas Weber": '{"customer": "Jonas Weber", "items": [{"sku": "PEN-BLK", "quantity": "4"}], "express": false}',
        "Priya Nair": "Sure! The order is {customer: Priya Nair, items: NB-A5 x3}",
        "Kenji Sato": json.dumps(
            {"customer": "Kenji Sato", "items": [{"sku": "LMP-7", "quantity": 1}], "express": True}
        ),
    }
    result, samples = run(tmp_path, EXAMPLES / "extract_json.yaml", replies)
    assert values(result) == {"json_valid": 0.75, "schema_valid": 0.5}
    jonas = next(s for s in samples if "Jonas" in s.prompt)
    assert "quantity" in jonas.details["json_schema"]["error"]


def test_fizzbuzz_code_runs_in_the_sandbox(tmp_path: Path) -> None:
    pytest.importorskip("llmatlas.sandbox", reason="llmatlas.sandbox is not importable yet")
    replies = {
        "`fizzbuzz(n: int) -> str`": (
            "Here it is:\n```python\ndef fizzbuzz(n: int) -> str:\n    if n % 15 == 0:\n        return 'FizzBuzz'\n"
            "    if n % 3 == 0:\n        return 'Fizz'\n    if n % 5 == 0:\n        return 'Buzz'\n"
            "    return str(n)\n```\nIt checks 15 first."
        ),
        "`fizzbuzz_list(": "```python\ndef fizzbuzz_list(n):\n    return [str(i) for i in range(1, n)]\n```",
        "`custom_fizzbuzz(": (
            "def custom_fizzbuzz(n, rules):\n    words = ''.join(w for d, w in rules if n % d == 0)\n"
            "    return words or str(n)\n"
        ),
    }
    result, samples = run(tmp_path, EXAMPLES / "fizzbuzz_code.yaml", replies)
    assert values(result) == {"pass@1": round(2 / 3, 6)}
    statuses = [s.details["code"]["verdicts"][0]["status"] for s in samples]
    assert statuses == ["passed", "failed", "passed"]
    assert "AssertionError" in samples[1].details["code"]["verdicts"][0]["detail"]


def test_sentiment_mc_is_loglikelihood(tmp_path: Path) -> None:
    task = get_task(str(EXAMPLES / "sentiment_mc.yaml"))
    assert isinstance(task, CustomMultipleChoiceTask)
    result, samples = run(tmp_path, EXAMPLES / "sentiment_mc.yaml", num_fewshot=0)
    rows = [json.loads(x) for x in (EXAMPLES / "sentiment_mc.jsonl").read_text(encoding="utf-8").splitlines()]
    choices = ("positive", "negative", "neutral")
    # the expected scores, computed apart from the task: the prompt spelled out, each choice after a space
    mock = MockBackend("m")
    questions = [MCQuestion(f"Review: {r['review']}\nSentiment:", tuple(" " + c for c in choices)) for r in rows]
    scores = mock.loglikelihood(questions)
    golds = [choices.index(r["label"]) for r in rows]
    preds = [max(range(3), key=[c.logprob for c in s].__getitem__) for s in scores]
    assert result.method == "loglikelihood"
    assert set(result.metrics) == {"acc", "acc_norm"}
    assert result.metrics["acc"].value == pytest.approx(
        sum(p == g for p, g in zip(preds, golds, strict=True)) / len(rows)
    )
    assert [s.gold for s in samples] == golds
    assert samples[0].choices == list(choices)
    assert samples[0].prompt == questions[0].context


def test_sentiment_mc_fewshot_excludes_the_item(tmp_path: Path) -> None:
    result, samples = run(tmp_path, EXAMPLES / "sentiment_mc.yaml")
    assert result.config["num_fewshot"] == 2
    for s in samples:
        assert s.prompt.count("Review:") == 3
        item = s.prompt.rsplit("Review: ", 1)[1]
        assert s.prompt.count(item) == 1  # the item is not among its own examples
    (tmp_path / "again").mkdir()
    again, again_samples = run(tmp_path / "again", EXAMPLES / "sentiment_mc.yaml")
    assert [s.prompt for s in again_samples] == [s.prompt for s in samples]  # seeded draws: same examples
    assert again.metrics["acc"].value == result.metrics["acc"].value


def test_helpfulness_judge(tmp_path: Path) -> None:
    replies = {
        "undo my last commit": "Run `git reset --soft HEAD~1`: the commit is undone and your changes stay staged.",
        "three-day hike": "Pack layers, a rain jacket, a warm hat, a map, water, food and a headlamp.",
        "sourdough": "Bread is flat because of gravity.",
    }
    judge = {
        "git reset --soft": "Correct and concise. Rating: [[9]]",
        "Pack layers": "Good coverage, misses first aid. Rating: [[7]]",
        "gravity": "Unhelpful. Rating: [[ten]]",  # not an integer: a failure, left out of the mean
    }
    result, samples = run(tmp_path, EXAMPLES / "helpfulness_judge.yaml", replies, judge)
    assert values(result) == {"judge_score": 8.0}
    assert result.config["judge"] == "mock:judge"
    flat = next(s for s in samples if "sourdough" in s.prompt)
    assert "judge_score" not in flat.metrics
    assert "not an integer" in flat.details["judge"]["judge_error"]
    git = next(s for s in samples if "commit" in s.prompt)
    assert git.details["judge"]["rating"] == 9


def test_judge_task_needs_a_judge(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="needs a judge"):
        run(tmp_path, EXAMPLES / "helpfulness_judge.yaml", {})


def test_judge_sees_the_rendered_rubric(tmp_path: Path) -> None:
    task = load_task_file(EXAMPLES / "helpfulness_judge.yaml")
    assert isinstance(task, CustomGenerationTask)
    scorer = task.scorers[0]
    from llmatlas.tasks.scorers import JudgeScorer, ScoreItem

    assert isinstance(scorer, JudgeScorer)
    doc = task.load().samples[0]
    text = scorer.judge_prompt(ScoreItem(doc, "ANSWER", doc.meta["scorers"][0]))
    assert "[Question]\nHow do I undo my last commit" in text
    assert "[Assistant's answer]\nANSWER" in text
    assert text.endswith('"Rating: [[5]]".')


@pytest.mark.parametrize(
    ("reply", "rating"),
    [
        ("Good. Rating: [[8]]", 8),
        ("[[ 10 ]]", 10),
        ("Rating: [[7]] ... final: [[7]]", 7),
        ("Rating: 8/10", None),
        ("[[0]]", None),
        ("[[11]]", None),
        ("[[7.5]]", 7.5),  # one rule with MT-Bench (llmatlas.tasks.judging): decimals are ratings
        ("[[6]] or maybe [[7]]", None),
        ("", None),
    ],
)
def test_parse_rating_is_strict(reply: str, rating: float | None) -> None:
    got, why = parse_rating(reply)
    assert got == rating
    assert (why is None) == (rating is not None)


@pytest.mark.parametrize(
    ("text", "last"),
    [
        ("The total is $1,234.50.", 1234.5),
        ("3-5 people", 5.0),
        ("x = -7", -7.0),
        ("it fell to \u22123 degrees", -3.0),
        ("about 1.5e3 units", 1500.0),
        ("no numbers", None),
    ],
)
def test_find_numbers(text: str, last: float | None) -> None:
    found = find_numbers(text)
    assert (found[-1][1] if found else None) == last


def test_strip_fence() -> None:
    assert strip_fence('Here:\n```json\n{"a": 1}\n```\nDone.') == '{"a": 1}'
    assert strip_fence('  {"a": 1}  ') == '{"a": 1}'


def test_every_scorer_is_registered() -> None:
    assert set(SCORERS) == {
        "exact",
        "regex",
        "contains",
        "numeric",
        "json_schema",
        "multiple_choice",
        "code",
        "judge",
    }


def test_cli_eval_task_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    r = CliRunner().invoke(app, ["eval", "--model", "mock:m", "--task", "examples/tasks/capitals.yaml", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["task"] == "capitals" and data["n"] == 8
    assert data["metrics"]["exact"]["value"] == 0.0  # the mock's unscripted answers are "mock answer ..."
    assert data["metrics"]["contains"]["value"] == 0.0


def test_cli_bad_task_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nprompt: [\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["eval", "--model", "mock:m", "--task", str(bad)])
    assert r.exit_code == 2
    assert "Traceback" not in r.output
    assert f"{bad}:" in r.output


# ------------------------------------------------------------------------------------------- the registry hook


def test_get_task_path_hook(tmp_path: Path) -> None:
    assert isinstance(get_task(str(EXAMPLES / "capitals.yaml")), CustomGenerationTask)
    with pytest.raises(InputError, match="task file not found") as err:
        get_task(str(tmp_path / "nope.yaml"))
    assert err.value.field == "task"
    plain = tmp_path / "mytask"  # an existing file without the extension is a task file too
    shutil.copy(EXAMPLES / "capitals.yaml", plain)
    shutil.copy(EXAMPLES / "capitals.csv", tmp_path / "capitals.csv")
    assert get_task(str(plain)).name == "capitals"
    assert get_task("gsm8k").name == "gsm8k"  # built-in names keep their meaning


def test_editing_the_task_file_starts_a_new_run(tmp_path: Path) -> None:
    for name in ("capitals.yaml", "capitals.csv"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    path = tmp_path / "capitals.yaml"
    first = load_task_file(path).load().source.sha256
    path.write_text(path.read_text().replace("city name only", "city's name only"))
    assert load_task_file(path).load().source.sha256 != first


# ------------------------------------------------------------------------------------------- errors

DATA = '{"text": "hello", "label": "a"}\n{"text": "world", "label": "b"}\n'
BASE = """\
name: t
dataset:
  path: data.jsonl
prompt: "Say {{ text }}"
target: "{{ label }}"
scorer:
  type: exact
"""


def case(yaml_text: str, data: str = DATA, **files: str) -> dict[str, str]:
    return {"task.yaml": yaml_text, "data.jsonl": data, **files}


ERRORS: list[tuple[str, dict[str, str], str, int | None, str | None, str]] = [
    # (id, files, file that is named, line, field, message part)
    ("yaml_syntax", case('name: t\nprompt: "unclosed\nscorer: {type: exact}\n'), "task.yaml", 4, None, "invalid YAML"),
    ("yaml_tab", case("name: t\n\tprompt: x\n"), "task.yaml", 2, None, "invalid YAML"),
    ("duplicate_key", case(BASE + "name: u\n"), "task.yaml", 8, "name", "duplicate key"),
    ("not_a_mapping", case("- name: t\n"), "task.yaml", 1, None, "YAML mapping"),
    ("unknown_key", case(BASE + "  typo: 1\n"), "task.yaml", 8, "scorer.typo", "unknown key 'typo'"),
    ("unknown_top_key", case(BASE + "promt: x\n"), "task.yaml", 8, "promt", "did you mean 'prompt'"),
    (
        "unknown_nested_key",
        case(BASE.replace("  path: data.jsonl\n", "  path: data.jsonl\n  limt: 3\n")),
        "task.yaml",
        4,
        "dataset.limt",
        "did you mean 'limit'",
    ),
    ("missing_key", case(BASE.replace('prompt: "Say {{ text }}"\n', "")), "task.yaml", 1, "prompt", "required"),
    (
        "wrong_type",
        case(BASE + "generation:\n  max_tokens: lots\n"),
        "task.yaml",
        9,
        "generation.max_tokens",
        "integer",
    ),
    ("wrong_type_list", case(BASE + "generation:\n  stop: 5\n"), "task.yaml", 9, "generation.stop", "list"),
    ("bad_name", case(BASE.replace("name: t", "name: My Task")), "task.yaml", 1, "name", "pattern"),
    ("unknown_scorer", case(BASE.replace("type: exact", "type: exakt")), "task.yaml", 7, "scorer.type", "known:"),
    ("scorer_not_mapping", case(BASE.replace("  type: exact\n", "  - 5\n")), "task.yaml", 7, "scorer[0]", "mapping"),
    (
        "scorer_list_index",
        case(BASE.replace("  type: exact\n", "  - type: exact\n  - type: regex\n    pattern: '(['\n")),
        "task.yaml",
        9,
        "scorer[1].pattern",
        "bad regular expression",
    ),
    (
        "bad_regex_extract",
        case(BASE.replace("  type: exact\n", "  type: regex\n  extract: 'a{2,1}'\n")),
        "task.yaml",
        8,
        "scorer.extract",
        "bad regular expression",
    ),
    (
        "regex_mode",
        case(BASE.replace("  type: exact\n", "  type: regex\n")),
        "task.yaml",
        6,
        "scorer",
        "exactly one of",
    ),
    (
        "regex_group",
        case(BASE.replace("  type: exact\n", "  type: regex\n  extract: '(a)'\n  group: 3\n")),
        "task.yaml",
        9,
        "scorer.group",
        "no group 3",
    ),
    (
        "regex_ignore",
        case(BASE.replace("  type: exact\n", "  type: regex\n  extract: '(a)'\n  ignore: [',', '(']\n")),
        "task.yaml",
        9,
        "scorer.ignore[1]",
        "bad regular expression",
    ),
    (
        "regex_group_list",
        case(BASE.replace("  type: exact\n", "  type: regex\n  extract: '(a)|(b)'\n  group: [1, 3]\n")),
        "task.yaml",
        9,
        "scorer.group",
        "no group 3",
    ),
    (
        "regex_extract_option_on_pattern",
        case(BASE.replace("  type: exact\n", "  type: regex\n  pattern: a\n  fallback: x\n")),
        "task.yaml",
        6,
        "scorer",
        "fallback: only with 'extract'",
    ),
    (
        "regex_select",
        case(BASE.replace("  type: exact\n", "  type: regex\n  extract: a\n  select: middle\n")),
        "task.yaml",
        9,
        "scorer.select",
        "give first, last, or the index of a match",
    ),
    (
        "template_syntax",
        case(BASE.replace('"Say {{ text }}"', '"Say {{ text "')),
        "task.yaml",
        4,
        "prompt",
        "line 1 of the template",
    ),
    (
        "template_syntax_block",
        case(BASE.replace('prompt: "Say {{ text }}"\n', "prompt: |\n  Say\n  {% if text %}oops\n")),
        "task.yaml",
        4,
        "prompt",
        "line 2 of the template",
    ),
    (
        "template_in_scorer",
        case(BASE.replace("  type: exact\n", "  type: code\n  test: '{{ x }'\n")),
        "task.yaml",
        8,
        "scorer.test",
        "template syntax error",
    ),
    ("dataset_missing", case(BASE.replace("data.jsonl", "nope.jsonl")), "task.yaml", 3, "dataset.path", "not found"),
    (
        "dataset_format",
        case(BASE.replace("data.jsonl", "data.txt"), **{"data.txt": "x"}),
        "task.yaml",
        3,
        "dataset.path",
        "format",
    ),
    ("dataset_bad_json", case(BASE, DATA + "{oops\n"), "data.jsonl", 3, None, "invalid JSON"),
    ("dataset_not_object", case(BASE, DATA + "[1, 2]\n"), "data.jsonl", 3, None, "JSON object"),
    ("dataset_empty", case(BASE, "\n"), "task.yaml", 3, "dataset.path", "no rows"),
    ("row_missing_field", case(BASE, DATA + '{"label": "c"}\n'), "data.jsonl", 3, "text", "prompt template"),
    (
        "row_missing_field_csv",
        case(BASE.replace("data.jsonl", "data.csv"), **{"data.csv": "text,label\nhi,a\n"}).__or__(
            {"task.yaml": BASE.replace("data.jsonl", "data.csv").replace("{{ label }}", "{{ gold }}")}
        ),
        "data.csv",
        2,
        "gold",
        "target template",
    ),
    (
        "csv_short_row",
        case(BASE.replace("data.jsonl", "data.csv"), **{"data.csv": "text,label\nhi,a\nho\n"}),
        "data.csv",
        3,
        None,
        "1 values",
    ),
    ("target_needed", case(BASE.replace('target: "{{ label }}"\n', "")), "task.yaml", 6, "scorer.type", "target"),
    (
        "duplicate_metric",
        case(BASE.replace("  type: exact\n", "  - type: exact\n  - type: exact\n    ignore_case: true\n")),
        "task.yaml",
        8,
        "scorer[1].type",
        "already given",
    ),
    (
        "bad_json_schema",
        case(BASE.replace("  type: exact\n", "  type: json_schema\n  schema: {type: 5}\n")),
        "task.yaml",
        8,
        "scorer.schema",
        "bad JSON schema",
    ),
    (
        "json_schema_path_missing",
        case(BASE.replace("  type: exact\n", "  type: json_schema\n  schema_path: s.json\n")),
        "task.yaml",
        8,
        "scorer.schema_path",
        "not found",
    ),
    (
        "json_schema_path_bad",
        case(BASE.replace("  type: exact\n", "  type: json_schema\n  schema_path: s.json\n"), **{"s.json": "{x"}),
        "task.yaml",
        8,
        "scorer.schema_path",
        "cannot read",
    ),
    (
        "mc_combined",
        case(
            BASE.replace(
                "  type: exact\n", "  - type: exact\n  - type: multiple_choice\n    choices: [a, b]\n    gold: label\n"
            )
        ),
        "task.yaml",
        8,
        "scorer[1]",
        "cannot be combined",
    ),
    (
        "mc_gold_not_a_choice",
        case(BASE.replace("  type: exact\n", "  type: multiple_choice\n  choices: [a, c]\n  gold: label\n")),
        "data.jsonl",
        2,
        "label",
        "none of the choices",
    ),
    (
        "mc_choices_field_missing",
        case(BASE.replace("  type: exact\n", "  type: multiple_choice\n  choices: options\n  gold: label\n")),
        "data.jsonl",
        1,
        "options",
        "missing field",
    ),
    (
        "numeric_target_not_a_number",
        case(BASE.replace("type: exact", "type: numeric")),
        "data.jsonl",
        1,
        None,
        "holds no number",
    ),
    (
        "judge_rubric_field",
        case(BASE.replace("  type: exact\n", "  type: judge\n  rubric: '{{ question }} {{ output }}'\n")),
        "data.jsonl",
        1,
        "question",
        "scorer.rubric template",
    ),
    (
        "fewshot_needs_answer",
        case(
            BASE.replace('target: "{{ label }}"\n', "").replace("type: exact", "type: json_schema\n  schema: {}")
            + "fewshot: {k: 1}\n"
        ),
        "task.yaml",
        8,
        "fewshot",
        "need an answer",
    ),
    (
        "duplicate_id",
        case(BASE.replace("  path: data.jsonl\n", "  path: data.jsonl\n  id_field: label\n"), DATA + DATA),
        "data.jsonl",
        3,
        "label",
        "duplicate id",
    ),
]


@pytest.mark.parametrize(
    ("files", "named", "line", "field", "message"),
    [pytest.param(*e[1:], id=e[0]) for e in ERRORS],
)
def test_errors_name_file_line_and_field(
    tmp_path: Path, files: dict[str, str], named: str, line: int | None, field: str | None, message: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_task_file(tmp_path / "task.yaml")
    e = err.value
    assert e.path is not None and Path(e.path).name == named, e
    assert e.line == line, e
    assert e.field == field, e
    assert message in e.message, e


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "task.yaml").write_bytes(b"name: t\nprompt: caf\xe9\n")
    with pytest.raises(InputError, match="UTF-8") as err:
        load_task_file(tmp_path / "task.yaml")
    assert err.value.line == 2


def test_row_template_runtime_error_names_the_row(tmp_path: Path) -> None:
    (tmp_path / "data.jsonl").write_text(DATA, encoding="utf-8")
    (tmp_path / "task.yaml").write_text(BASE.replace("{{ text }}", "{{ text.nope }}"), encoding="utf-8")
    with pytest.raises(InputError, match="prompt template failed") as err:
        load_task_file(tmp_path / "task.yaml")
    assert err.value.path == str(tmp_path / "data.jsonl") and err.value.line == 1


# ------------------------------------------------------------------------------------------- fuzz

KEYS = ["name", "dataset", "path", "prompt", "target", "scorer", "type", "fewshot", "k", "generation", "choices"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 300), st.text(max_size=12), st.sampled_from(sorted(SCORERS))
)
TREES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def sandbox_dir() -> Iterator[Path]:
    """A copy of the examples (and their data) that fuzzed task files are written into."""
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        for p in EXAMPLES.iterdir():
            shutil.copy(p, root / p.name)
        (root / "data.jsonl").write_text(DATA, encoding="utf-8")
        yield root


def _load_or_input_error(path: Path) -> None:
    try:
        load_task_file(path)
    except InputError as exc:
        assert exc.path, exc  # every error names a file


FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(text=st.text(max_size=200))
def test_fuzz_random_text(sandbox_dir: Path, text: str) -> None:
    (sandbox_dir / "fuzz.yaml").write_text(text, encoding="utf-8")
    _load_or_input_error(sandbox_dir / "fuzz.yaml")


@FUZZ
@given(tree=TREES)
def test_fuzz_random_yaml(sandbox_dir: Path, tree: Any) -> None:
    base = {"name": "t", "dataset": {"path": "data.jsonl"}, "prompt": "{{ text }}", "target": "{{ label }}"}
    data = base | tree if isinstance(tree, dict) else tree
    (sandbox_dir / "fuzz.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    _load_or_input_error(sandbox_dir / "fuzz.yaml")


MUTATION = st.tuples(
    st.sampled_from(sorted(p.name for p in EXAMPLES.glob("*.yaml"))),
    st.sampled_from(["delete", "insert", "replace", "duplicate_line", "drop_line", "swap_lines"]),
    st.integers(0, 10_000),
    st.integers(0, 10_000),
    st.text(alphabet=st.sampled_from(list(":-[]{}|>#'\"\n\t {}%!&*,?0aZ_")), min_size=1, max_size=6),
)


def mutate(text: str, how: str, i: int, j: int, junk: str) -> str:
    lines = text.splitlines(keepends=True)
    a, b = i % (len(text) + 1), j % (len(text) + 1)
    la, lb = i % len(lines), j % len(lines)
    if how == "delete":
        return text[: min(a, b)] + text[max(a, b) :]
    if how == "insert":
        return text[:a] + junk + text[a:]
    if how == "replace":
        return text[:a] + junk + text[a + len(junk) :]
    if how == "duplicate_line":
        return "".join([*lines[: la + 1], lines[la], *lines[la + 1 :]])
    if how == "drop_line":
        return "".join(lines[:la] + lines[la + 1 :])
    lines[la], lines[lb] = lines[lb], lines[la]
    return "".join(lines)


@FUZZ
@given(m=MUTATION)
def test_fuzz_mutated_examples(sandbox_dir: Path, m: tuple[str, str, int, int, str]) -> None:
    name, how, i, j, junk = m
    text = mutate((EXAMPLES / name).read_text(encoding="utf-8"), how, i, j, junk)
    (sandbox_dir / "fuzz.yaml").write_text(text, encoding="utf-8")
    _load_or_input_error(sandbox_dir / "fuzz.yaml")
