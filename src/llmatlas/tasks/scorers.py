"""The pieces a YAML task file is built from: templates, and scorers looked up by their ``type:``.

A task file is shared like data, so its templates run in jinja2's sandbox with ``StrictUndefined``
(a field a row lacks is an error naming the field, never an empty string). Each scorer has its
own pydantic options model (unknown keys are errors, so typos surface at load time), checks
per-row data when the task loads (a bad row fails before any model call), and turns one output
into metrics plus the evidence behind them. ``SCORERS`` maps a scorer type to its class; see
examples/tasks/README.md for the reference users read.
"""

from __future__ import annotations

import ast
import json
import math
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, NamedTuple, TypeVar

import jinja2
import numpy as np
import yaml
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from llmatlas.backends.base import Backend
from llmatlas.core.errors import InputError, LlmatlasError
from llmatlas.core.validation import LineIndex, Loc
from llmatlas.core.yamlparse import dotted
from llmatlas.sandbox.limits import SandboxLimits
from llmatlas.tasks.judging import judge_request, rate_reply, read_rating
from llmatlas.tasks.task import Sample, Score


def make_env() -> SandboxedEnvironment:
    """Sandboxed (task files are shared like data) and strict (a missing field is an error)."""
    return SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)


@dataclass(frozen=True)
class Template:
    """A compiled template of the task file and the row fields it reads (checked before rendering)."""

    text: str
    key: str  # dotted field of the task file, e.g. "scorer[1].rubric"
    yaml_line: int | None
    compiled: jinja2.Template
    variables: frozenset[str]

    def check(self, row: Mapping[str, Any], path: Path, line: int) -> None:
        """Name the first field the template needs that the row lacks, at the dataset's file and line."""
        for name in sorted(self.variables):
            if name not in row:
                where = f" (task file line {self.yaml_line})" if self.yaml_line else ""
                raise InputError(
                    f"the row has no field '{name}', which the {self.key} template uses{where}",
                    path=path,
                    line=line,
                    field=name,
                )

    def render(self, row: Mapping[str, Any], path: Path, line: int, extra: Mapping[str, Any] | None = None) -> str:
        self.check(row, path, line)
        context: dict[str, Any] = {"row": row, **row, **(extra or {})}
        try:
            return self.compiled.render(context)
        except Exception as exc:  # UndefinedError (a missing attribute), SecurityError, a filter's TypeError...
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            raise InputError(f"the {self.key} template failed on this row: {message}", path=path, line=line) from None


@dataclass
class FileContext:
    """What scorers need from the task file: its path, value lines, the template environment, its folder."""

    path: Path
    lines: LineIndex | None = None
    env: SandboxedEnvironment = field(default_factory=make_env)
    files: list[Path] = field(default_factory=list)  # other files read: they enter the run's fingerprint

    def line(self, loc: Loc) -> int | None:
        return self.lines.line(loc) if self.lines is not None else None

    def error(self, message: str, loc: Loc) -> InputError:
        return InputError(message, path=self.path, line=self.line(loc), field=dotted(loc) or None)

    def template(self, text: str, loc: Loc, provided: Iterable[str] = ()) -> Template:
        """Compile ``text``; a syntax error names the template's own line and the key's line in the file."""
        try:
            ast = self.env.parse(text)
            compiled = self.env.from_string(ast)
        except jinja2.TemplateSyntaxError as exc:
            raise self.error(
                f"template syntax error on line {exc.lineno} of the template: {exc.message}", loc
            ) from None
        except Exception as exc:  # RecursionError on absurd nesting, and the like
            raise self.error(f"cannot compile the template ({type(exc).__name__})", loc) from None
        names = meta.find_undeclared_variables(ast) - set(self.env.globals) - {"row"} - set(provided)
        return Template(text, dotted(loc), self.line(loc), compiled, frozenset(names))

    def resolve(self, name: str, loc: Loc) -> Path:
        """A file the task names, relative to the task file's folder; missing is an error at that key."""
        p = Path(name).expanduser()
        if not p.is_absolute():
            p = self.path.parent / p
        try:
            found = p.is_file()
        except (OSError, ValueError):  # a name too long for the file system
            found = False
        if not found:
            raise self.error(f"file not found: {p}", loc)
        self.files.append(p)
        return p


# ------------------------------------------------------------------------------------------- base


class ScorerOptions(BaseModel):
    """Options every scorer takes; subclasses add their own (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid")

    type: str
    name: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_@.-]+$", description="Metric name (replaces the type, or prefixes several)."
    )


@dataclass(frozen=True)
class ScoreItem:
    """One output to score: its doc, the text (None when the generation failed) and the scorer's row data."""

    doc: Sample
    text: str | None
    data: Any = None


Opt = TypeVar("Opt", bound=ScorerOptions)


class Scorer(Generic[Opt]):
    """Base of the scorers: set up once per task file, prepare once per row, score per output."""

    kind: ClassVar[str] = ""  # the `type:` of the task file
    options_model: ClassVar[type[ScorerOptions]] = ScorerOptions
    needs_judge: ClassVar[bool] = False
    loglikelihood: ClassVar[bool] = False  # multiple_choice: the task becomes a log-likelihood task

    def __init__(self, options: Opt, ctx: FileContext, loc: Loc) -> None:
        self.options = options
        self.ctx = ctx
        self.loc = loc
        self.setup()

    def setup(self) -> None:
        """Compile what the options hold (templates, regexes, schemas); errors point at the option."""

    def needs_target(self) -> bool:
        return False

    def metric(self, base: str | None = None) -> str:
        """A metric's name: ``name:`` replaces the type, or prefixes a multi-metric scorer's names."""
        if base is None:
            return self.options.name or self.kind
        return f"{self.options.name}_{base}" if self.options.name else base

    def metric_names(self) -> tuple[str, ...]:
        return (self.metric(),)

    def prepare(self, row: Mapping[str, Any], target: str | None, path: Path, line: int) -> Any:
        """Check and render what this scorer needs from a row, when the task loads."""
        return None

    def score(self, text: str, target: str | None, data: Any) -> Score:
        raise NotImplementedError

    def failed(self, item: ScoreItem) -> Score:
        """A failed generation scores 0 on every metric: the model gave no answer."""
        return Score(dict.fromkeys(self.metric_names(), 0.0), {"error": "generation failed"})

    def score_many(self, items: Sequence[ScoreItem], judge: Backend | None = None) -> list[Score]:
        """Every output of a step at once (the code and judge scorers batch their work)."""
        return [self.failed(it) if it.text is None else self.score(it.text, it.doc.target, it.data) for it in items]

    def combine(self, results: Sequence[Score]) -> Score:
        """One item's metrics from its samples: the mean of each metric over the samples that have it."""
        if len(results) == 1:
            return results[0]
        names = list(dict.fromkeys(m for r in results for m in r.metrics))
        metrics = {}
        for m in names:
            values = [r.metrics[m] for r in results if m in r.metrics]
            metrics[m] = sum(values) / len(values)
        return Score(metrics, {"samples": [r.details for r in results]})


SCORERS: dict[str, type[Scorer[Any]]] = {}

S = TypeVar("S", bound=type[Scorer[Any]])


def register(cls: S) -> S:
    """Make a scorer class available to task files under its ``type``."""
    SCORERS[cls.kind] = cls
    return cls


def scorer_types() -> list[str]:
    return sorted(SCORERS)


# ------------------------------------------------------------------------------------------- text


class ExactOptions(ScorerOptions):
    ignore_case: bool = False
    strip: bool = True
    normalize_whitespace: bool = False
    ignore_punctuation: bool = False


_PUNCT = str.maketrans("", "", string.punctuation)


@register
class ExactScorer(Scorer[ExactOptions]):
    """The output equals the reference, after the normalizations the options ask for."""

    kind = "exact"
    options_model = ExactOptions

    def needs_target(self) -> bool:
        return True

    def normalize(self, text: str) -> str:
        o = self.options
        if o.ignore_punctuation:
            text = text.translate(_PUNCT)
        if o.normalize_whitespace:
            text = " ".join(text.split())
        elif o.strip:
            text = text.strip()
        return text.casefold() if o.ignore_case else text

    def score(self, text: str, target: str | None, data: Any) -> Score:
        got, want = self.normalize(text), self.normalize(target or "")
        return Score({self.metric(): float(got == want)}, {"output": got, "target": want})


class ContainsOptions(ScorerOptions):
    ignore_case: bool = False


@register
class ContainsScorer(Scorer[ContainsOptions]):
    """The reference (stripped) appears somewhere in the output."""

    kind = "contains"
    options_model = ContainsOptions

    def needs_target(self) -> bool:
        return True

    def prepare(self, row: Mapping[str, Any], target: str | None, path: Path, line: int) -> Any:
        if not (target or "").strip():
            raise InputError("the reference is empty: 'contains' would match any output", path=path, line=line)
        return None

    def score(self, text: str, target: str | None, data: Any) -> Score:
        want = (target or "").strip()
        hay = text
        if self.options.ignore_case:
            want, hay = want.casefold(), hay.casefold()
        return Score({self.metric(): float(want in hay)}, {"target": want})


class RegexOptions(ScorerOptions):
    pattern: str | None = Field(None, description="The output must match (re.search; anchor with ^ and $).")
    extract: str | None = Field(None, description="The group of its match is compared with the reference.")
    group: int | str | list[int | str] | None = Field(
        None,
        description="Group of `extract` (default 1, or 0 without groups); a list: the first of them that is not empty.",
    )
    select: Literal["first", "last"] | StrictInt = Field(
        "first", description="Which match of `extract`: first, last, or an index (-1 the last; lm-eval's group_select)."
    )
    ignore_case: bool = False
    ignore: list[str] = Field(
        default_factory=list,
        description="Regexes deleted from the extracted text and the reference before comparing (regexes_to_ignore).",
    )
    lowercase: bool = Field(False, description="Lower-case both before comparing; the pattern stays case-sensitive.")
    strip: bool = Field(True, description="Strip the reference (the extracted text is always stripped).")
    fallback: str | None = Field(
        None, description="Compared instead when `extract` finds nothing (lm-eval: [invalid])."
    )

    @field_validator("select", mode="before")
    @classmethod
    def _select(cls, value: Any) -> Any:
        if value in ("first", "last") or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        raise ValueError("give first, last, or the index of a match (0 the first, -1 the last)")

    @model_validator(mode="after")
    def _one_mode(self) -> RegexOptions:
        if (self.pattern is None) == (self.extract is None):
            raise ValueError("give exactly one of 'pattern' (must match) or 'extract' (compare a group)")
        only_extract = sorted(self.model_fields_set & {"ignore", "lowercase", "strip", "fallback"})
        if self.pattern is not None and only_extract:
            raise ValueError(f"{', '.join(only_extract)}: only with 'extract' (a 'pattern' compares nothing)")
        if isinstance(self.group, list) and not self.group:
            raise ValueError("group: give at least one group")
        return self


def compile_regex(ctx: FileContext, pattern: str, loc: Loc, flags: int = 0) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except (re.error, OverflowError, RecursionError, ValueError) as exc:
        raise ctx.error(f"bad regular expression: {exc}", loc) from None


Group = int | str | tuple[int | str, ...]


def regex_extract(regex: re.Pattern[str], text: str, group: Group = 0, select: int = 0) -> str | None:
    """lm-eval's RegexFilter: the ``select``-th match (negative: from the end), its ``group`` stripped.

    For a tuple of groups, the first one that matched non-empty text. None: no such match, or every
    group of the tuple empty (lm-eval's fallback case).
    """
    matches = list(regex.finditer(text))
    if not -len(matches) <= select < len(matches):
        return None
    m = matches[select]
    if not isinstance(group, tuple):
        return (m.group(group) or "").strip()
    parts = [found for g in group if (found := m.group(g))]
    return parts[0].strip() if parts else None


def normalize_answer(text: str, ignore: Sequence[re.Pattern[str]] = (), lowercase: bool = False) -> str:
    """lm-eval's exact_match preprocessing: delete every match of each ``ignore`` regex in turn, then lower-case."""
    for pattern in ignore:
        text = pattern.sub("", text)
    return text.lower() if lowercase else text


@register
class RegexScorer(Scorer[RegexOptions]):
    """``pattern``: the output matches. ``extract``: the match's group, normalized, equals the reference.

    The extract options reproduce lm-evaluation-harness's RegexFilter (``select`` as ``group_select``,
    ``fallback``) and exact_match (``ignore`` as ``regexes_to_ignore``, ``lowercase`` as ``ignore_case``):
    the built-in GSM8K task scores with two of these scorers.
    """

    kind = "regex"
    options_model = RegexOptions

    def setup(self) -> None:
        o = self.options
        key = "pattern" if o.pattern is not None else "extract"
        flags = re.IGNORECASE if o.ignore_case else 0
        self.regex = compile_regex(self.ctx, o.pattern or o.extract or "", (*self.loc, key), flags)
        self.ignore = tuple(compile_regex(self.ctx, p, (*self.loc, "ignore", i)) for i, p in enumerate(o.ignore))
        self.select = 0 if o.select == "first" else -1 if o.select == "last" else o.select
        self.group: Group = 0
        if o.extract is not None:
            group = o.group if o.group is not None else (1 if self.regex.groups else 0)
            self.group = tuple(group) if isinstance(group, list) else group
            for g in self.group if isinstance(self.group, tuple) else (self.group,):
                bad = g not in self.regex.groupindex if isinstance(g, str) else not 0 <= g <= self.regex.groups
                if bad:
                    raise self.ctx.error(f"the extract pattern has no group {g!r}", (*self.loc, "group"))

    def needs_target(self) -> bool:
        return self.options.extract is not None

    def normalize(self, text: str) -> str:
        """What is compared of an extracted answer or a reference: ``ignore`` deleted, ``lowercase`` applied."""
        return normalize_answer(text, self.ignore, self.options.lowercase)

    def compare(self, extracted: str, target: str | None) -> tuple[bool, str]:
        """Whether the extracted answer equals the reference, and the reference as compared."""
        o = self.options
        want = (target or "").strip() if o.strip else target or ""
        got, want = self.normalize(extracted), self.normalize(want)
        return (got.casefold() == want.casefold() if o.ignore_case else got == want), want

    def score(self, text: str, target: str | None, data: Any) -> Score:
        if self.options.pattern is not None:
            m = self.regex.search(text)
            return Score({self.metric(): float(m is not None)}, {"match": m.group(0) if m else None})
        got = regex_extract(self.regex, text, self.group, self.select)
        if got is None:
            if self.options.fallback is None:
                return Score({self.metric(): 0.0}, {"extracted": None})
            got = self.options.fallback
        same, want = self.compare(got, target)
        return Score({self.metric(): float(same)}, {"extracted": got, "target": want})


# ------------------------------------------------------------------------------------------- numbers

NUMBER = re.compile(
    r"(?:(?<![\w)])(?P<sign>[-+\u2212]))?\s?\$?\s?(?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)"
    r"(?:[eE](?P<exp>[-+]?\d+))?"
)


def find_numbers(text: str) -> list[tuple[str, float]]:
    """Numbers in ``text`` as (text, value): thousands commas, ``$`` and a unicode minus are handled."""
    out = []
    for m in NUMBER.finditer(text):
        sign = "-" if m.group("sign") in ("-", "\u2212") else ""
        raw = sign + m.group("num").replace(",", "") + (f"e{m.group('exp')}" if m.group("exp") else "")
        try:
            value = float(raw)
        except (ValueError, OverflowError):
            continue
        if math.isfinite(value):
            out.append((m.group(0).strip(), value))
    return out


class NumericOptions(ScorerOptions):
    abs_tol: float = Field(1e-6, ge=0)
    rel_tol: float = Field(0.0, ge=0)
    select: Literal["last", "first"] = "last"


@register
class NumericScorer(Scorer[NumericOptions]):
    """The last (or first) number of the output equals the reference's number within the tolerances."""

    kind = "numeric"
    options_model = NumericOptions

    def needs_target(self) -> bool:
        return True

    def prepare(self, row: Mapping[str, Any], target: str | None, path: Path, line: int) -> Any:
        found = find_numbers(target or "")
        if not found:
            raise InputError(f"the reference {target!r} holds no number", path=path, line=line)
        return found[-1][1]

    def score(self, text: str, target: str | None, data: Any) -> Score:
        found = find_numbers(text)
        if not found:
            return Score({self.metric(): 0.0}, {"extracted": None, "target": data})
        raw, value = found[-1] if self.options.select == "last" else found[0]
        ok = math.isclose(value, float(data), rel_tol=self.options.rel_tol, abs_tol=self.options.abs_tol)
        return Score({self.metric(): float(ok)}, {"extracted": raw, "value": value, "target": data})


# ------------------------------------------------------------------------------------------- JSON

JSON_FENCE = re.compile(r"```[ \t]*(?:json5?|JSON|jsonc)?[ \t]*\n(.*?)\n?[ \t]*```", re.DOTALL)


def strip_fence(text: str) -> str:
    """The content of the first ```json (or bare ```) fence, else the whole text, stripped."""
    m = JSON_FENCE.search(text)
    return (m.group(1) if m else text).strip()


class JsonSchemaOptions(ScorerOptions):
    schema_: dict[str, Any] | bool | None = Field(None, alias="schema", description="An inline JSON Schema.")
    schema_path: str | None = Field(None, description="A JSON or YAML file holding the schema.")

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    @model_validator(mode="after")
    def _one_schema(self) -> JsonSchemaOptions:
        if (self.schema_ is None) == (self.schema_path is None):
            raise ValueError("give exactly one of 'schema' (inline) or 'schema_path' (a file)")
        return self


@register
class JsonSchemaScorer(Scorer[JsonSchemaOptions]):
    """The output (a ```json fence stripped) parses as JSON (``json_valid``) and fits the schema (``schema_valid``)."""

    kind = "json_schema"
    options_model = JsonSchemaOptions

    def setup(self) -> None:
        import referencing
        from jsonschema import exceptions, validators  # type: ignore[import-untyped]

        o = self.options
        loc: Loc = (*self.loc, "schema")
        schema: Any = o.schema_
        if o.schema_path is not None:
            loc = (*self.loc, "schema_path")
            path = self.ctx.resolve(o.schema_path, loc)
            try:
                text = path.read_text(encoding="utf-8")
                schema = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
            except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError, RecursionError) as exc:
                raise self.ctx.error(f"cannot read the schema file {path}: {exc}", loc) from None
            if not isinstance(schema, dict | bool):
                raise self.ctx.error(f"the schema file {path} must hold a JSON object", loc)
        try:
            cls = validators.validator_for(schema)
            cls.check_schema(schema)
        except exceptions.SchemaError as exc:
            where = "/".join(str(p) for p in exc.path)
            raise self.ctx.error(f"bad JSON schema{' at ' + where if where else ''}: {exc.message}", loc) from None
        except Exception as exc:  # an odd $schema value and the like
            raise self.ctx.error(f"bad JSON schema: {exc}", loc) from None
        # An empty registry: a $ref to a URL is never fetched (a shared task file must not reach the network).
        self.validator = cls(schema, registry=referencing.Registry())

    def metric_names(self) -> tuple[str, ...]:
        return (self.metric("json_valid"), self.metric("schema_valid"))

    def score(self, text: str, target: str | None, data: Any) -> Score:
        body = strip_fence(text)
        try:
            obj = json.loads(body)
        except (ValueError, RecursionError) as exc:
            return Score(
                {self.metric("json_valid"): 0.0, self.metric("schema_valid"): 0.0}, {"error": f"not JSON: {exc}"}
            )
        try:
            errors = sorted(self.validator.iter_errors(obj), key=lambda e: list(e.path))
        except Exception as exc:  # an unresolvable $ref: the schema's fault, reported, scored invalid
            note = f"schema error: {exc}"[:300]
            return Score({self.metric("json_valid"): 1.0, self.metric("schema_valid"): 0.0}, {"error": note})
        details: dict[str, Any] = {}
        if errors:
            where = "/".join(str(p) for p in errors[0].path)
            details["error"] = f"{where or '(root)'}: {errors[0].message}"[:300]
        return Score({self.metric("json_valid"): 1.0, self.metric("schema_valid"): float(not errors)}, details)


# ------------------------------------------------------------------------------------------- code

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


def _defines(entry_point: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", re.MULTILINE)


def ends_with_stub(prefix: str, entry_point: str) -> bool:
    """Whether the prefix's last top-level statement is ``def entry_point(``: a stub (signature, docstring)."""
    last = ""
    for line in prefix.splitlines():
        if line[:1].strip() and not line.startswith(("#", ")")):  # a closing ")" continues a signature
            last = line
    return _defines(entry_point).match(last) is not None


_KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)


def sanitize_code(code: str) -> str:
    """The model's definitions without its own tries: EvalPlus's sanitizer in short.

    Imports, functions, classes and top-level assignments stay; the statements a model adds to try
    its code (asserts, prints, calls, ``if __name__ == "__main__":`` blocks) go, since they run
    before the real tests and fail a correct function with a wrong example of its own. Code that
    does not parse is left as it is (the check then reports the syntax error).
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    kept = [n for n in tree.body if isinstance(n, _KEPT)]
    if len(kept) == len(tree.body):
        return code
    lines = code.splitlines(keepends=True)

    def source(n: ast.stmt) -> str:
        start = min([n.lineno, *(d.lineno for d in getattr(n, "decorator_list", []))])
        return "".join(lines[start - 1 : n.end_lineno])

    return "".join(source(n) for n in kept)


def build_program(prefix: str, output: str, entry_point: str | None, extract: bool, sanitize: bool = False) -> str:
    """The program a code check runs before its test: ``prefix`` followed by the model's code.

    Without ``extract`` the output continues the prefix as it is (a completion). With it, the code is
    the reply's fenced block (:func:`extract_code`); when that code defines the entry point again and the
    prefix ends with the entry point's stub (HumanEval's prompts do), the stub gets a body first, so the
    model's whole function replaces it; a body alone continues the prefix. ``sanitize`` keeps only the
    code's definitions (:func:`sanitize_code`).
    """
    if not extract:
        return prefix + output
    code = extract_code(output)
    if sanitize:
        code = sanitize_code(code)
    if entry_point and ends_with_stub(prefix, entry_point) and _defines(entry_point).search(code):
        return prefix + "\n    pass\n\n" + code
    return prefix + code


class CodeOptions(ScorerOptions):
    prefix: str = Field("", description="Code before the model's output (a template): imports, a signature.")
    test: str = Field(description="Test code run after the program (a template): asserts, or check(candidate).")
    entry_point: str | None = Field(None, description="Function passed to check() (a template); none: just run.")
    extract_code: bool = Field(True, description="Take the code from the reply's ```python fence when it has one.")
    sanitize: bool = Field(
        False, description="Keep only the code's imports, definitions and assignments (EvalPlus's sanitizer)."
    )
    timeout: float = Field(10.0, gt=0, le=600, description="Wall-clock seconds per check.")
    cpu_seconds: int | None = Field(None, ge=1, le=600, description="CPU seconds per process; default: the timeout.")
    memory_mb: int = Field(1024, ge=64, description="Address-space limit of the checked program.")


class CodeCase(NamedTuple):
    """What one item's check needs besides the output: the rendered prefix, test and entry point."""

    prefix: str
    test: str
    entry_point: str | None


@register
class CodeScorer(Scorer[CodeOptions]):
    """The program (:func:`build_program`) and the test run in llmatlas.sandbox; pass@k over the samples.

    The built-in HumanEval tasks score with one of these (prefix: the problem's prompt; test: its
    ``check``; ``extract_code`` only for the chat variant).
    """

    kind = "code"
    options_model = CodeOptions

    def setup(self) -> None:
        o = self.options
        self.prefix = self.ctx.template(o.prefix, (*self.loc, "prefix"))
        self.test = self.ctx.template(o.test, (*self.loc, "test"))
        self.entry = self.ctx.template(o.entry_point, (*self.loc, "entry_point")) if o.entry_point else None

    def metric_names(self) -> tuple[str, ...]:
        return (self.metric("pass@1"),)

    def prepare(self, row: Mapping[str, Any], target: str | None, path: Path, line: int) -> CodeCase:
        entry = self.entry.render(row, path, line).strip() if self.entry else None
        return CodeCase(self.prefix.render(row, path, line), self.test.render(row, path, line), entry or None)

    def limits(self) -> SandboxLimits:
        o = self.options
        cpu = o.cpu_seconds if o.cpu_seconds is not None else max(1, math.ceil(o.timeout))
        return SandboxLimits(wall_seconds=o.timeout, cpu_seconds=cpu, memory_bytes=o.memory_mb << 20)

    def score_many(self, items: Sequence[ScoreItem], judge: Backend | None = None) -> list[Score]:
        from llmatlas.sandbox import run_many

        extract, clean = self.options.extract_code, self.options.sanitize
        jobs = [
            (
                build_program(it.data.prefix, it.text, it.data.entry_point, extract, clean),
                it.data.test,
                it.data.entry_point,
            )
            for it in items
            if it.text is not None
        ]
        verdicts = iter(run_many(jobs, self.limits()) if jobs else [])
        out = []
        for it in items:
            if it.text is None:
                out.append(Score({self.metric("pass@1"): 0.0}, {"passed": False, "status": "no output"}))
                continue
            v = next(verdicts)
            details = {"passed": v.passed, "status": v.status, "detail": v.detail[:200]}
            out.append(Score({self.metric("pass@1"): float(v.passed)}, details))
        return out

    def combine(self, results: Sequence[Score]) -> Score:
        """Unbiased pass@k (Chen et al. 2021) for k in 1, 10, 100 up to the number of samples.

        A failed generation is a failed sample (its verdict says "no output"), never a missing one.
        """
        n = len(results)
        c = sum(1 for r in results if r.details.get("passed"))
        metrics = {self.metric(f"pass@{k}"): pass_at_k(n, c, k) for k in (1, 10, 100) if k <= n}
        verdicts = [{"status": r.details.get("status"), "detail": r.details.get("detail", "")} for r in results]
        return Score(metrics, {"passed": c, "samples": n, "verdicts": verdicts})


# ------------------------------------------------------------------------------------------- judge

JUDGE_SYSTEM = "You are an impartial judge of the quality of an AI assistant's answers."
JUDGE_FORMAT = (
    "\n\nRate the response on a scale of 1 to 10. After a short explanation, give your rating strictly in this format: "
    '"[[rating]]", for example: "Rating: [[5]]".'
)


def parse_rating(reply: str) -> tuple[float | None, str | None]:
    """The judge's 1-10 rating by the one rule of :mod:`llmatlas.tasks.judging` (MT-Bench's too), or None and why."""
    return read_rating(reply)


class JudgeOptions(ScorerOptions):
    rubric: str = Field(description="What the judge reads (a template over the row, `output`, `prompt`, `target`).")
    system: str | None = JUDGE_SYSTEM
    max_tokens: int = Field(512, ge=1)
    temperature: float = Field(0.0, ge=0)


@register
class JudgeScorer(Scorer[JudgeOptions]):
    """A judge model grades each output 1-10 by the rubric; a reply whose rating cannot be read (the rule of
    :func:`llmatlas.tasks.judging.read_rating`, shared with MT-Bench) is recorded as a failure and left out of
    ``judge_score`` (never counted as 0)."""

    kind = "judge"
    options_model = JudgeOptions
    needs_judge = True

    def setup(self) -> None:
        self.rubric = self.ctx.template(self.options.rubric, (*self.loc, "rubric"), ("output", "prompt", "target"))

    def metric_names(self) -> tuple[str, ...]:
        return (self.options.name or "judge_score",)

    def prepare(self, row: Mapping[str, Any], target: str | None, path: Path, line: int) -> Any:
        self.rubric.render(row, path, line, {"output": "", "prompt": "", "target": target or ""})  # fail early
        return (dict(row), str(path), line)

    def judge_prompt(self, item: ScoreItem) -> str:
        row, path, line = item.data
        extra = {"output": item.text or "", "prompt": item.doc.turns[0], "target": item.doc.target or ""}
        text = self.rubric.render(row, Path(path), line, extra)
        return text if "[[" in self.options.rubric else text + JUDGE_FORMAT

    def score_many(self, items: Sequence[ScoreItem], judge: Backend | None = None) -> list[Score]:
        if judge is None:
            raise LlmatlasError("the judge scorer needs a judge model: pass --judge BACKEND:MODEL")
        o = self.options
        prompts: dict[int, str] = {}
        out: list[Score] = [Score({}, {"judge_error": "generation failed"}) for _ in items]
        for i, it in enumerate(items):
            if it.text is None:
                continue
            try:
                prompts[i] = self.judge_prompt(it)
            except InputError as exc:
                out[i] = Score({}, {"judge_error": exc.message})
        requests = [judge_request(p, o.system, o.max_tokens, o.temperature) for p in prompts.values()]
        replies = judge.generate(requests) if requests else []
        for i, g in zip(prompts, replies, strict=True):
            rating, why = rate_reply(g)
            details: dict[str, Any] = {} if g.error else {"judge_reply": g.text[-1000:]}
            if rating is None:
                out[i] = Score({}, details | {"judge_error": why})
            else:
                out[i] = Score({self.metric_names()[0]: rating}, details | {"rating": rating})
        return out


# ------------------------------------------------------------------------------------------- multiple choice


class MultipleChoiceOptions(ScorerOptions):
    choices: list[str] | str = Field(
        description="A list of templates (one per choice, plain words are literal) or a field holding the list."
    )
    gold: str = Field(description="A field or a template giving the answer: a choice's text or its 0-based index.")


_PLAIN_FIELD = re.compile(r"^[^{}%#]+$")


@register
class MultipleChoiceScorer(Scorer[MultipleChoiceOptions]):
    """Log-likelihood scoring: the task becomes a multiple-choice task with ``acc`` and ``acc_norm``."""

    kind = "multiple_choice"
    options_model = MultipleChoiceOptions
    loglikelihood = True

    def setup(self) -> None:
        o = self.options
        self.choice_templates: list[Template] | None = None
        self.choices_field: str | None = None
        if isinstance(o.choices, list):
            if len(o.choices) < 2:
                raise self.ctx.error("give at least two choices", (*self.loc, "choices"))
            self.choice_templates = [self.ctx.template(c, (*self.loc, "choices", i)) for i, c in enumerate(o.choices)]
        elif _PLAIN_FIELD.match(o.choices):
            self.choices_field = o.choices.strip()
        else:
            raise self.ctx.error(
                "choices must be a list of templates or the name of a field holding a list", (*self.loc, "choices")
            )
        self.gold_field = o.gold.strip() if _PLAIN_FIELD.match(o.gold) else None
        self.gold_template = None if self.gold_field else self.ctx.template(o.gold, (*self.loc, "gold"))

    def metric_names(self) -> tuple[str, ...]:
        return ("acc", "acc_norm")

    def prepare(self, row: Mapping[str, Any], target: str | None, path: Path, line: int) -> Any:
        choices = self._choices(row, path, line)
        if self.gold_field is not None:
            if self.gold_field not in row:
                raise InputError("missing field (scorer.gold)", path=path, line=line, field=self.gold_field)
            gold: Any = row[self.gold_field]
        else:
            assert self.gold_template is not None
            gold = self.gold_template.render(row, path, line)
        name = self.gold_field or "gold"
        if isinstance(gold, bool) or not isinstance(gold, int | str):
            raise InputError(f"the answer must be a choice or an index, got {gold!r}", path=path, line=line, field=name)
        if isinstance(gold, str):
            text = gold.strip()
            if text in choices:
                return choices, choices.index(text)
            if not re.fullmatch(r"\d+", text):
                raise InputError(
                    f"the answer {text!r} is none of the choices {list(choices)}", path=path, line=line, field=name
                )
            gold = int(text)
        if not 0 <= gold < len(choices):
            raise InputError(
                f"answer index {gold} is out of range for {len(choices)} choices", path=path, line=line, field=name
            )
        return choices, gold

    def _choices(self, row: Mapping[str, Any], path: Path, line: int) -> tuple[str, ...]:
        if self.choice_templates is not None:
            return tuple(t.render(row, path, line).strip() for t in self.choice_templates)
        name = self.choices_field or ""
        if name not in row:
            raise InputError("missing field (scorer.choices)", path=path, line=line, field=name)
        value = row[name]
        if isinstance(value, str):  # CSV: "a|b|c"
            value = [v.strip() for v in value.split("|")]
        if not isinstance(value, list) or len(value) < 2:
            raise InputError(
                "expected a list of at least two choices (or 'a|b|c' text)", path=path, line=line, field=name
            )
        return tuple(str(v) for v in value)
