"""Backend options as pydantic models (issue 15, stage 4) and third-party backends through the
``llmatlas.backends`` entry-point group.

Options: an unknown name names the valid ones and the closest match, a bad value names the option
and its range or choices, both as one InputError line (exit 2 in the CLI), before anything loads.
Plugins are faked by monkeypatching ``importlib.metadata.entry_points``: nothing is installed.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field
from typer.testing import CliRunner

from llmatlas.backends.base import Backend, BackendInfo, ContinuationScore, MCQuestion, Progress
from llmatlas.backends.options import (
    APIOptions,
    BackendOptions,
    Flag,
    HttpURL,
    OptionDoc,
    option_docs,
    parse_options,
)
from llmatlas.backends.registry import (
    BACKENDS,
    ENTRY_POINT_GROUP,
    PluginWarning,
    backend_names,
    load_backend,
    options_model,
    parse_spec,
)
from llmatlas.cli.main import app
from llmatlas.core.errors import InputError

runner = CliRunner()
BUILT_IN = ["llama", "hf", "openai", "anthropic", "mock"]


def flat(text: str) -> str:
    """The CLI's output with its line wrapping undone."""
    return " ".join(text.split())


def cli(*args: str) -> tuple[int, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.stdout + (r.stderr or "")


def model_of(backend: str) -> type[BackendOptions]:
    module, cls, _ = BACKENDS[backend]
    model: type[BackendOptions] = getattr(importlib.import_module(module), cls).options_model
    return model


# --------------------------------------------------------------------------- options


def test_a_bad_value_names_the_option_and_its_range() -> None:
    with pytest.raises(InputError) as err:
        load_backend("llama:x.gguf?threads=abc")  # refused before llama.cpp or the file is touched
    assert err.value.field == "threads"
    assert "llama option 'threads' must be int in 1..1,024, not 'abc'" in str(err.value)
    assert "\n" not in str(err.value)


def test_an_unknown_option_names_the_closest_match_and_the_valid_ones() -> None:
    with pytest.raises(InputError) as err:
        load_backend("llama:x.gguf?thread=2")
    text = str(err.value)
    assert "unknown llama option 'thread'; did you mean threads?" in text
    assert "(known: flash_attn, n_batch, n_ctx, prefix_reuse, scoring_weights, seed, threads)" in text
    assert "\n" not in text
    with pytest.raises(InputError, match=r"unknown mock option 'bogus' \(known: delay, fail_every, replies\)"):
        load_backend("mock:alpha?bogus=1")  # nothing close: no guess, the valid ones still listed


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("llama:x.gguf?n_ctx=99999999999", "'n_ctx' must be int in 16..1,048,576"),
        ("openai:x?max_attempts=1e20", "'max_attempts' must be int in 1..20"),
        ("openai:x?timeout=nan", "'timeout' must be float in 0.1..3,600"),
        ("openai:x?timeout=inf", "'timeout' must be float in 0.1..3,600"),
        ("openai:x?logprobs=maybe", "'logprobs' must be prompt | auto | none"),
        ("anthropic:x?stream=perhaps", "'stream' must be bool"),
        ("mock:a?delay=61", "'delay' must be float in 0..60"),
    ],
)
def test_out_of_range_values_are_refused_before_anything_loads(spec: str, words: str) -> None:
    with pytest.raises(InputError, match=re.escape(words)):
        load_backend(spec)


def test_bad_option_via_the_cli_is_exit_2_without_traceback() -> None:
    code, out = cli("eval", "--model", "mock:alpha?bogus=1", "--task", "arc_easy", "--limit", "1")
    assert code == 2, out
    assert "Traceback" not in out and out.startswith("error:")
    assert "unknown mock option 'bogus'" in flat(out) and "delay, fail_every, replies" in flat(out)
    code, out = cli("eval", "--model", "llama:x.gguf?threads=abc", "--task", "arc_easy", "--limit", "1")
    assert code == 2 and "Traceback" not in out and "'threads' must be int in 1..1,024" in flat(out)


def test_the_first_bad_option_given_is_reported() -> None:
    with pytest.raises(InputError, match="'n_batch'"):
        parse_options(model_of("llama"), "llama", {"n_batch": "0", "zzz": "1", "threads": "x"})
    with pytest.raises(InputError, match="unknown llama option 'zzz'"):
        parse_options(model_of("llama"), "llama", {"zzz": "1", "n_batch": "0"})


def test_typed_values_and_query_text_give_the_same_options() -> None:
    llama = model_of("llama")
    assert parse_options(llama, "llama", {"threads": "2", "n_ctx": " 4096 "}) == parse_options(
        llama, "llama", {"threads": 2, "n_ctx": 4096}
    )
    hf = model_of("hf")
    opts: Any = parse_options(hf, "hf", {"dtype": "torch.BFloat16", "add_bos_token": "no", "fused_norm": "off"})
    assert (opts.dtype, opts.add_bos_token, opts.fused_norm) == ("bfloat16", False, False)
    assert opts.batch_tokens is None and opts.attn_implementation == "sdpa"  # the backend decides
    empty: Any = parse_options(model_of("openai"), "openai", {"logprobs": "", "timeout": ""})
    assert empty.logprobs is None and empty.timeout == 120.0  # an empty value is the default
    upper: Any = parse_options(model_of("openai"), "openai", {"logprobs": "PROMPT"})
    assert upper.logprobs == "prompt"


def test_backends_read_typed_options() -> None:
    from llmatlas.backends.mock import MockBackend, MockOptions
    from llmatlas.backends.openai import OpenAIBackend

    mock = MockBackend("m?delay=0.25&fail_every=3")
    assert isinstance(mock.options, MockOptions) and mock.options.delay == 0.25 and mock.fail_every == 3
    api = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", concurrency="3", stream="yes", logprobs="auto")
    try:
        assert api.options.concurrency == 3 and api.pool.concurrency == 3 and api.streaming is True
        assert api.mc_max_tokens == 16 and api.options.max_attempts == 5  # declared defaults
    finally:
        api.close()


def test_secrets_are_not_echoed_by_option_errors() -> None:
    with pytest.raises(InputError) as err:
        parse_options(APIOptions, "openai", {"api_key": 12345678})
    assert "12345678" not in str(err.value)
    with pytest.raises(InputError) as err:
        load_backend("openai:x?base_url=ftp://user:sk-hidden-99@h/v1")
    assert "must be an http(s) URL" in str(err.value) and "sk-hidden-99" not in str(err.value)
    opts = parse_options(APIOptions, "openai", {"api_key": "sk-hidden-99"})
    assert "sk-hidden-99" not in repr(opts) and "sk-hidden-99" not in str(opts)


def test_every_declared_option_is_documented() -> None:
    """The option tables for help text come from the models: kind, bounds, default, description."""
    for backend in BUILT_IN:
        model = options_model(backend)
        assert model is not None and model.model_config.get("extra") == "forbid"
        docs = option_docs(model)
        assert docs and all(d.help for d in docs.values()), backend
        for d in docs.values():
            assert d.kind in ("int", "float", "bool", "str", "url", "path", "choice"), (backend, d)
            if d.kind in ("int", "float"):
                assert d.lo is not None and d.hi is not None and d.lo <= d.hi, (backend, d)
    llama = option_docs(model_of("llama"))
    assert llama["threads"] == OptionDoc("threads", "int", "CPU threads (default: every core)", 1, 1024)
    assert llama["n_ctx"].default is None and llama["n_ctx"].describe() == "int in 16..1,048,576"
    assert option_docs(model_of("openai"))["base_url"].kind == "url"
    assert option_docs(model_of("mock"))["replies"].kind == "path"
    assert option_docs(model_of("hf"))["attn_implementation"].describe() == "eager | sdpa"


def _int_fields() -> list[tuple[str, str, int, int]]:
    out = []
    for backend in BUILT_IN:
        for d in option_docs(model_of(backend)).values():
            if d.kind == "int":
                assert d.lo is not None and d.hi is not None
                out.append((backend, d.name, int(d.lo), int(d.hi)))
    return out


INT_FIELDS = _int_fields()


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(INT_FIELDS), st.data())
def test_any_int_in_range_round_trips_and_any_outside_is_refused(
    field: tuple[str, str, int, int], data: st.DataObject
) -> None:
    backend, name, lo, hi = field
    model = model_of(backend)
    n = data.draw(st.integers(lo, hi))
    text = data.draw(st.sampled_from([str(n), f" {n} ", f"+{n}"]))
    assert getattr(parse_options(model, backend, {name: text}), name) == n
    outside = data.draw(st.one_of(st.integers(max_value=lo - 1), st.integers(min_value=hi + 1)))
    with pytest.raises(InputError, match=re.escape(f"{backend} option '{name}' must be int in")):
        parse_options(model, backend, {name: str(outside)})


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["1", "true", "yes", "on", "0", "false", "no", "off"]), st.booleans())
def test_bool_words_in_any_case(word: str, upper: bool) -> None:
    opts: Any = parse_options(APIOptions, "openai", {"stream": word.upper() if upper else word})
    assert opts.stream is (word in ("1", "true", "yes", "on"))


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12))
def test_unknown_names_always_list_the_valid_ones(name: str) -> None:
    model = model_of("llama")
    if name in model.model_fields:
        return
    with pytest.raises(InputError) as err:
        parse_options(model, "llama", {name: "1"})
    known = "(known: flash_attn, n_batch, n_ctx, prefix_reuse, scoring_weights, seed, threads)"
    assert f"unknown llama option '{name}'" in str(err.value) and known in str(err.value)


# --------------------------------------------------------------------------- plugins


class EchoOptions(BackendOptions):
    greeting: str = Field("hello", description="what every answer starts with")
    loud: Flag = Field(False, description="shout")
    url: HttpURL | None = Field(None, description="nowhere")
    mode: Literal["a", "b"] = Field("a", description="a mode")
    repeat: int = Field(1, ge=1, le=5, description="times")


class EchoBackend(Backend):
    """A third-party backend as a plugin author would write one."""

    name = "echo"
    options_model = EchoOptions
    options: EchoOptions

    def info(self) -> BackendInfo:
        return BackendInfo(backend=self.name, model=self.target, details={"greeting": self.options.greeting})

    def loglikelihood(self, questions: Any, progress: Progress | None = None) -> list[list[ContinuationScore]]:
        return [[ContinuationScore(-1.0, 1, True) for _ in q.continuations] for q in questions]


def echo_factory(target: str, **options: Any) -> Backend:
    return EchoBackend(target.upper(), **options)


def crashing_factory(target: str, **options: Any) -> Backend:
    raise RuntimeError("the plugin's server is down")


def not_a_backend_factory(target: str, **options: Any) -> Any:
    return object()


NOT_A_BACKEND = 42


@dataclass
class FakePlugins:
    """What ``importlib.metadata.entry_points`` returns in a test, and the groups it was asked for."""

    eps: list[md.EntryPoint] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def add(self, name: str, attr: str, value: str | None = None) -> None:
        self.eps.append(md.EntryPoint(name=name, value=value or f"{__name__}:{attr}", group=ENTRY_POINT_GROUP))

    def entry_points(self, **kw: Any) -> list[md.EntryPoint]:
        self.calls.append(kw.get("group", ""))
        return [ep for ep in self.eps if ep.group == kw.get("group")]


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> FakePlugins:
    fake = FakePlugins()
    monkeypatch.setattr(md, "entry_points", fake.entry_points)
    return fake


def test_a_plugin_backend_is_found_by_its_entry_point_name(plugins: FakePlugins) -> None:
    plugins.add("echo", "EchoBackend")
    assert parse_spec("echo:my-model?loud=1") == ("echo", "my-model?loud=1")
    be = load_backend("echo:my-model?greeting=hi&loud=yes&repeat=3")
    assert isinstance(be, EchoBackend) and be.target == "my-model"
    assert (be.options.greeting, be.options.loud, be.options.repeat) == ("hi", True, 3)
    (row,) = be.loglikelihood([MCQuestion("q", ("a", "b"))])
    assert len(row) == 2
    assert backend_names() == [*BACKENDS, "echo"]
    assert options_model("echo") is EchoOptions
    # its options are checked like a built-in's
    with pytest.raises(InputError, match=r"unknown echo option 'greting'; did you mean greeting\?"):
        load_backend("echo:m?greting=hi")
    with pytest.raises(InputError, match=re.escape("echo option 'repeat' must be int in 1..5")):
        load_backend("echo:m?repeat=9")


def test_a_plugin_factory(plugins: FakePlugins) -> None:
    plugins.add("shout", "echo_factory")
    be = load_backend("shout:quiet?mode=B")
    assert isinstance(be, EchoBackend) and be.target == "QUIET" and be.options.mode == "b"
    assert options_model("shout") is None  # a factory declares no model the registry can see


def test_discovery_is_lazy(plugins: FakePlugins) -> None:
    plugins.add("echo", "EchoBackend")
    load_backend("mock:a")
    parse_spec("llama:x.gguf?threads=2")
    parse_spec("smollm2")
    assert plugins.calls == []  # built-in names and aliases never look for plugins
    load_backend("echo:m")
    assert plugins.calls and set(plugins.calls) == {ENTRY_POINT_GROUP}


def test_a_plugin_cannot_replace_a_built_in(plugins: FakePlugins) -> None:
    from llmatlas.backends.mock import MockBackend

    plugins.add("mock", "EchoBackend")
    assert isinstance(load_backend("mock:a"), MockBackend)
    with pytest.warns(PluginWarning, match="backend plugin 'mock' .* ignored: 'mock' is a built-in backend"):
        names = backend_names()
    assert names.count("mock") == 1 and "echo" not in names


@pytest.mark.parametrize(
    ("attr", "words"),
    [
        ("no_such_attribute", "failed to load: AttributeError"),
        ("NOT_A_BACKEND", "is not a Backend subclass or a factory (got int)"),
        ("BackendInfo", "is not a Backend subclass or a factory (got BackendInfo)"),
        ("crashing_factory", "backend plugin 'broken' failed: RuntimeError: the plugin's server is down"),
        ("not_a_backend_factory", "backend plugin 'broken' returned object, not a Backend"),
    ],
)
def test_a_broken_plugin_is_one_input_error_naming_it(plugins: FakePlugins, attr: str, words: str) -> None:
    plugins.add("broken", attr)
    load_backend("mock:a")  # other backends are unaffected
    with pytest.raises(InputError) as err:
        load_backend("broken:m")
    text = str(err.value)
    assert "backend plugin 'broken'" in text and words in text and "\n" not in text


def test_a_plugin_whose_module_is_missing(plugins: FakePlugins) -> None:
    plugins.add("gone", "", value="llmatlas_no_such_plugin_pkg:Backend")
    words = "backend plugin 'gone' (llmatlas_no_such_plugin_pkg:Backend) failed to load: ModuleNotFoundError"
    with pytest.raises(InputError, match=re.escape(words)):
        load_backend("gone:m")
    code, out = cli("eval", "--model", "gone:m", "--task", "arc_easy", "--limit", "1")
    assert code == 2 and "Traceback" not in out and "backend plugin 'gone'" in flat(out)


def test_an_unknown_backend_lists_built_ins_and_plugins(plugins: FakePlugins) -> None:
    plugins.add("echo", "EchoBackend")
    words = "unknown backend 'ecco' in 'ecco:m'; known: mock, llama, hf"
    with pytest.raises(InputError, match=re.escape(words)) as err:
        parse_spec("ecco:m")
    assert str(err.value).endswith(", echo")


def test_importing_llmatlas_does_not_look_for_plugins() -> None:
    import subprocess
    import sys

    # a fresh interpreter that fails loudly if our group is read at import or for a built-in backend
    code = (
        "import importlib.metadata as md\n"
        "real = md.entry_points\n"
        "def spy(**kw):\n"
        f"    if kw.get('group') == {ENTRY_POINT_GROUP!r}: raise SystemExit('plugins looked up')\n"
        "    return real(**kw)\n"
        "md.entry_points = spy\n"
        "import llmatlas.backends.registry\n"
        "from llmatlas.backends.registry import load_backend\n"
        "load_backend('mock:a')\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
