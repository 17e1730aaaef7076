"""Hostile and malformed input (issue 13, part 3): one clear error naming file/line/field, exit 2,
never a traceback or a hang. Each reproducer of the issue is a regression test; hypothesis fuzzes
the parsers with bounded examples."""

from __future__ import annotations

import contextlib
import json
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from llmatlas.catalog.loader import load_text
from llmatlas.catalog.query import compile_where
from llmatlas.cli.main import app
from llmatlas.core.errors import InputError
from llmatlas.core.yamlparse import MAX_ALIASES, MAX_DEPTH, parse_yaml
from llmatlas.tasks.datasets import read_jsonl
from llmatlas.tasks.registry import get_task

runner = CliRunner()
ROW = {"question": "q?", "choices": {"text": ["a", "b"], "label": ["A", "B"]}, "answerKey": "A"}


def cli(*args: str) -> tuple[int, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.stdout + (r.stderr or "")


def assert_clean_exit(code: int, out: str) -> None:
    assert code == 2, out
    assert "Traceback" not in out and out.startswith("error:"), out


# --------------------------------------------------------------------------- YAML


def test_typed_scalar_that_does_not_convert() -> None:
    with pytest.raises(InputError, match="could not convert"):
        parse_yaml("x: !!float abc\n", "f.yaml")


def test_deep_nesting_is_refused_before_the_stack_runs_out() -> None:
    for n in (MAX_DEPTH + 1, 2_000, 100_000):
        with pytest.raises(InputError, match="nested more than"):
            parse_yaml("x: " + "[" * n, "f.yaml")
    assert parse_yaml("x: " + "[" * 10 + "]" * 10, "f.yaml").data == {"x": [[[[[[[[[[]]]]]]]]]]}


def test_alias_bomb_is_refused_fast() -> None:
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for name, prev in zip("bcdefghi", "abcdefgh", strict=True):
        bomb += f"{name}: &{name} [{','.join(['*' + prev] * 9)}]\n"
    t = time.perf_counter()
    with pytest.raises(InputError, match="aliases"):
        parse_yaml(bomb, "bomb.yaml")
    assert time.perf_counter() - t < 2
    # few aliases, huge expansion: refused by the expanded-size budget
    wide = 'a: &a ["' + "x" * 10 + '"]\n' + "b: &b [" + ",".join(["*a"] * 40) + "]\n"
    wide += "c: [" + ",".join(["*b"] * 9) + "]\n"
    assert wide.count("*") <= MAX_ALIASES
    parse_yaml(wide, "ok.yaml")  # 40 × 9 values: fine
    deep = "a: &a [" + ",".join(['"x"'] * 50) + "]\nb: &b [" + ",".join(["*a"] * 20) + "]\n"
    deep += "c: &c [" + ",".join(["*b"] * 20) + "]\nd: [" + ",".join(["*c"] * 9) + "]\n"
    with pytest.raises(InputError, match="values once aliases are expanded"):
        parse_yaml(deep, "deep.yaml")


def test_extends_must_be_one_id() -> None:
    text = "developer: {id: x, name: X}\nmodels:\n  - {id: a, name: A, family: a, extends: [b]}\n"
    with pytest.raises(InputError, match="'extends' must name one model id") as e:
        load_text(text, "x.yaml")
    assert e.value.line == 3


def test_catalog_dir_with_a_bomb_exits_2(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("x: " + "[" * 5000, encoding="utf-8")
    assert_clean_exit(*cli("--catalog", str(tmp_path), "models", "--limit", "1"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list("[]{}:,-&*!'\" \nabx1.#|>?%@`")), max_size=200))
def test_fuzz_yaml_parser_answers_every_input(text: str) -> None:
    with contextlib.suppress(InputError):
        parse_yaml(text, "fuzz.yaml")


# --------------------------------------------------------------------------- --where


def test_where_nesting_and_length_are_bounded() -> None:
    for expr in ("not " * 5000 + "api", "not " * 300 + "api", "(" * 300 + "api" + ")" * 300):
        with pytest.raises(InputError, match="where"):
            compile_where(expr)
    assert_clean_exit(*cli("models", "--where", "not " * 5000 + "api"))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("()[]'\"=<>!,.-_ 0123456789abcdefinotrpu")), max_size=120))
def test_fuzz_where_answers_every_input(expr: str) -> None:
    with contextlib.suppress(InputError):  # a clear error, at compile or evaluation ('-id'), is an answer
        pred = compile_where(expr)
        pred({"api": True, "params_b": 7.0, "id": "x"} | dict.fromkeys(("open_weights", "moe"), False))


# --------------------------------------------------------------------------- data files


def test_jsonl_invalid_utf8_and_deep_nesting(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"a": 1}\n{"a": "\xff"}\n')
    with pytest.raises(InputError, match="not UTF-8") as e:
        list(read_jsonl(bad))
    assert e.value.line == 2
    deep = tmp_path / "deep.jsonl"
    deep.write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}\n", encoding="utf-8")
    with pytest.raises(InputError, match="nested"):
        list(read_jsonl(deep))
    ok = tmp_path / "ok.jsonl"
    ok.write_text('\ufeff{"a": "[[[[", "b": [[1]]}\n', encoding="utf-8")  # brackets inside strings do not count
    assert list(read_jsonl(ok)) == [(1, {"a": "[[[[", "b": [[1]]})]


def test_duplicate_item_ids_are_refused_at_load(tmp_path: Path) -> None:
    rows = [{**ROW, "id": "q1"}, {**ROW, "id": "q2"}, {**ROW, "id": "q1"}]
    (tmp_path / "arc_easy_test.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="duplicate item id 'q1' \\(first on line 1\\)") as e:
        get_task("arc_easy").load(str(tmp_path))
    assert e.value.line == 3
    code, out = cli("eval", "--model", "mock:m", "--task", "arc_easy", "--data-dir", str(tmp_path))
    assert_clean_exit(code, out)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120))
def test_fuzz_jsonl_reader_answers_every_input(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    p = tmp_path_factory.mktemp("fuzz") / "x.jsonl"
    p.write_bytes(data)
    with contextlib.suppress(InputError):
        list(read_jsonl(p))


# --------------------------------------------------------------------------- numbers and names


def test_infinite_and_huge_numbers(tmp_path: Path) -> None:
    code, out = cli("breakeven", "gpt-4.1-mini", "llama-3.1-8b-instruct", "--requests-per-month", "1e400")
    assert code == 2 and "Traceback" not in out
    req = tmp_path / "r.yaml"
    req.write_text(
        "name: x\nuse_case: y\ntasks: {coding: 1}\nworkload: {requests_per_day: 1e400, input_tokens: 1, "
        "output_tokens: 1}\n",
        encoding="utf-8",
    )
    code, out = cli("recommend", str(req))
    assert_clean_exit(code, out)
    assert "r.yaml:4" in out and "requests_per_day" in out


def test_unknown_gpu_in_requirements_names_file_and_line(tmp_path: Path) -> None:
    req = tmp_path / "r.yaml"
    req.write_text(
        "name: x\nuse_case: y\ntasks: {coding: 1}\nworkload: {requests_per_day: 10, input_tokens: 1, "
        "output_tokens: 1}\nhosting:\n  hardware: {gpu: rtx-9999}\n",
        encoding="utf-8",
    )
    code, out = cli("recommend", str(req))
    assert_clean_exit(code, out)
    assert "r.yaml:6" in out and "hosting.hardware.gpu" in out and "rtx-4090" in out


# --------------------------------------------------------------------------- backend options


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("llama:smollm2?threads=abc", "'threads' must be int in 1..1,024"),
        ("smollm2?thread=2", "unknown llama option 'thread'; did you mean threads?"),
        ("smollm2?n_ctx=99999999999", "'n_ctx' must be int in 16..1,048,576"),
        ("openai:x?max_attempts=1e20", "'max_attempts' must be int in 1..20"),
        ("openai:x?concurrency=0", "'concurrency' must be int in 1..256"),
        ("openai:x?timeout=nan", "'timeout' must be float"),
        ("openai:x?timeout=-1", "'timeout' must be float"),
        ("openai:x?base_url=http://h:99999/v1", "not a valid URL"),
        ("openai:x?base_url=http://[::1/v1", "not a valid URL"),
        ("openai:x?base_url=ftp://h/v1", "must be an http(s) URL"),
        ("openai:x?logprobs=maybe", "'logprobs' must be"),
        ("openai:x?retries=0", "unknown openai option 'retries'"),
        ("anthropic:x?stream=perhaps", "'stream' must be bool"),
        ("mock:a?delay=-1", "'delay' must be float in 0..60"),
        ("mock:a?fail_every=abc", "'fail_every' must be int"),
        ("mock:a?replies=/nonexistent/replies.json", "replies file unreadable"),
        ("mock:a?bias=gold", "unknown mock option 'bias'"),
    ],
)
def test_backend_options_are_checked(spec: str, words: str) -> None:
    from llmatlas.backends.registry import load_backend

    with pytest.raises(InputError, match=re.escape(words)):
        load_backend(spec)
    code, out = cli("eval", "--model", spec, "--task", "arc_easy", "--limit", "1")
    assert_clean_exit(code, out)


def test_a_folder_that_is_not_a_model(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    code, out = cli("eval", "--model", f"hf:{tmp_path}", "--task", "arc_easy", "--limit", "1")
    assert_clean_exit(code, out)
    assert "cannot load" in out


# --------------------------------------------------------------------------- web


def test_web_bounded_422_nan_and_secured_401(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from llmatlas.web.app import MAX_ECHO, Settings, create_app

    cfg = Settings(models=["mock:a", "mock:b"], arena_path=str(tmp_path / "arena.sqlite"))
    with TestClient(create_app(cfg), raise_server_exceptions=False) as c:
        r = c.post(
            "/api/generate",
            content='{"model": "mock:a", "prompt": "hi", "temperature": NaN}',
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "temperature"]
        huge = "x" * 10_000_000
        r = c.post("/api/generate", json={"model": "mock:a", "prompt": huge})
        assert r.status_code == 422 and len(r.content) < MAX_ECHO + 500
    exposed = Settings(models=["mock:a"], arena_path=str(tmp_path / "a2.sqlite"), token="t0k3n", host="0.0.0.0")
    with TestClient(create_app(exposed)) as c:
        r = c.get("/api/models")
        assert r.status_code == 401
        assert "script-src" in r.headers["content-security-policy"] and r.headers["x-content-type-options"] == "nosniff"


# --------------------------------------------------------------------------- one journal, two writers


def test_second_writer_of_a_run_exits_2_and_the_first_finishes(tmp_path: Path) -> None:
    import subprocess
    import sys

    rows = [{**ROW, "id": f"q{i}"} for i in range(30)]
    (tmp_path / "arc_easy_test.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    journal = tmp_path / "runs.sqlite"
    cmd = [sys.executable, "-m", "llmatlas.cli.main", "eval", "--model", "mock:m?delay=0.1", "--task", "arc_easy",
           "--data-dir", str(tmp_path), "--journal", str(journal), "--json"]  # fmt: skip
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = journal.with_name(journal.name + ".")
    deadline = time.time() + 60
    while time.time() < deadline and not any(p.name.startswith(lock.name) for p in tmp_path.iterdir()):
        time.sleep(0.05)
    time.sleep(0.5)
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert second.returncode == 2, second.stderr
    assert "being written by another process" in second.stderr and "Traceback" not in second.stderr
    assert json.loads(out)["n"] == 30
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)  # the lock went with the first
    assert again.returncode == 0 and json.loads(again.stdout)["n"] == 30


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["llama", "hf", "openai", "anthropic", "mock"]),
    st.text(alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyz_")), min_size=1, max_size=14),
    st.one_of(st.text(max_size=30), st.floats(allow_nan=True, allow_infinity=True).map(str), st.integers().map(str)),
)
def test_fuzz_backend_options_answer_every_value(backend: str, name: str, value: str) -> None:
    """Any option name and value: converted within its declared range, or an InputError."""
    import importlib

    from llmatlas.backends.options import option_docs, parse_options
    from llmatlas.backends.registry import BACKENDS

    module, cls, _ = BACKENDS[backend]
    declared = getattr(importlib.import_module(module), cls).options_model
    docs = option_docs(declared)
    for key in (name, *docs):
        try:
            got = getattr(parse_options(declared, backend, {key: value}), key)
        except InputError:
            continue
        opt = docs[key]
        if opt.kind in ("int", "float") and got is not None:
            assert opt.lo is None or got >= opt.lo
            assert opt.hi is None or got <= opt.hi


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=10), st.none()),
    st.sampled_from(["requests_per_day", "input_tokens", "output_tokens", "cached_input_tokens"]),
)
def test_fuzz_requirements_workload_numbers(tmp_path: Path, value: object, key: str) -> None:
    from llmatlas.advise.requirements import load_requirements

    workload = {"requests_per_day": 10, "input_tokens": 100, "output_tokens": 10, key: value}
    text = "name: x\nuse_case: y\ntasks: {coding: 1}\nworkload: " + json.dumps(workload) + "\n"
    p = tmp_path / "r.yaml"
    p.write_text(
        text.replace("NaN", ".nan").replace("-Infinity", "-.inf").replace("Infinity", ".inf"), encoding="utf-8"
    )
    try:
        req = load_requirements(p)
    except InputError:
        return
    w = req.workload
    assert 0 < w.requests_per_month < float("inf") and 0 <= w.cached_input_tokens <= w.input_tokens


def test_options_are_checked_on_every_construction_path() -> None:
    """Not only through a spec: a backend built in code checks its options the same way."""
    from llmatlas.backends.mock import MockBackend
    from llmatlas.backends.openai import OpenAIBackend

    with pytest.raises(InputError, match=re.escape("'delay' must be float in 0..60")):
        MockBackend("m?delay=-1")
    with pytest.raises(InputError, match="unknown openai option 'retries'"):
        OpenAIBackend("m", retries="0")
    assert MockBackend("m", delay="0.5").delay == 0.5


# --------------------------------------------------------------------------- settings named per front end


def test_library_errors_name_settings_and_the_cli_names_its_flags(tmp_path: Path) -> None:
    """The library cannot know it was called from the CLI: it names the setting, the CLI the flag."""
    from llmatlas import api
    from llmatlas.catalog.catalog import load_catalog

    with pytest.raises(InputError) as e:
        api.fit(load_catalog(), "llama-2-70b", memory="24GB", gpu="rtx-4090")
    assert "'memory'" in str(e.value) and "--" not in str(e.value)
    assert "--memory" in e.value.for_cli() and "--gpu" in e.value.for_cli()
    data = Path(__file__).parent / "data"
    code, out = cli("eval", "--model", "mock:m", "--task", "mt_bench", "--data-dir", str(data), "--journal",
                    str(tmp_path / "j.sqlite"), "--limit", "1")  # fmt: skip
    assert_clean_exit(code, out)
    assert "--judge" in out and "\ue000" not in out
