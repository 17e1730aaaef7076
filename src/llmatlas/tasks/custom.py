"""Your own tasks: a YAML file names a dataset, a prompt template, a reference and its scorers.

``llmatlas eval --task path/to/task.yaml`` loads the file here. Everything is checked when the file
loads, before a model is started: the schema (unknown keys are errors, so typos surface), every
template, every scorer's options, and every kept row of the dataset against the templates. A
mistake is one InputError naming the file, the line and the field. Scorers live in
:mod:`llmatlas.tasks.scorers`; a task scored by ``multiple_choice`` becomes a log-likelihood task
that the runner scores like ARC (``acc``, ``acc_norm``). examples/tasks/README.md is the reference.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from llmatlas.backends.base import Backend, Generation
from llmatlas.core.errors import InputError
from llmatlas.core.validation import Loc, validate_located
from llmatlas.core.yamlparse import dotted, parse_yaml
from llmatlas.tasks.datasets import DataSource, read_jsonl
from llmatlas.tasks.generation import GenerationTask
from llmatlas.tasks.multiple_choice import MultipleChoiceTask
from llmatlas.tasks.scorers import (
    SCORERS,
    FileContext,
    ScoreItem,
    Scorer,
    Template,
    scorer_types,
)
from llmatlas.tasks.task import Dataset, Sample, Score

Row = dict[str, Any]
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetSpec(_Strict):
    path: str = Field(description="JSONL, CSV or TSV file, relative to the task file.")
    format: Literal["jsonl", "csv", "tsv"] | None = Field(None, description="Default: from the file's extension.")
    limit: int | None = Field(None, ge=1, description="Keep the first N rows.")
    id_field: str | None = Field(None, description="Field holding a unique item id (default: the line number).")
    group_field: str | None = Field(None, description="Field whose values group the metrics (per category).")


class FewshotSpec(_Strict):
    k: int = Field(ge=0, description="Examples before each item.")
    path: str | None = Field(None, description="File of examples; default: the dataset, without the item itself.")
    answer: str | None = Field(None, description="Template of an example's answer; default: the target.")
    seed: int = 1234
    delimiter: str = Field(" ", description="Between an example's prompt and its answer.")
    separator: str = Field("\n\n", description="Between examples, and before the item.")


class GenerationSpec(_Strict):
    max_tokens: int = Field(256, ge=1)
    temperature: float = Field(0.0, ge=0)
    stop: list[str] = Field(default_factory=list)
    samples: int = Field(1, ge=1, description="Generations per item (pass@k for code).")
    seed: int = 0


class TaskFile(_Strict):
    """The schema of a task file; ``scorer`` is checked by each scorer type's own options model."""

    name: str = Field(pattern=r"^[a-z0-9_]+$", max_length=80)
    description: str | None = None
    dataset: DatasetSpec
    prompt: str
    system: str | None = None
    chat: bool = True
    fewshot: FewshotSpec | None = None
    target: str | None = None
    generation: GenerationSpec = Field(default_factory=GenerationSpec)
    scorer: Any = Field(description="One scorer mapping (with a `type`) or a list of them.")


# ------------------------------------------------------------------------------------------- errors

M = TypeVar("M", bound=BaseModel)


def _validate(model: type[M], data: Any, ctx: FileContext, prefix: Loc) -> M:
    """Validate ``data``; the first error becomes an InputError at its key's line, with a spelling hint."""
    return validate_located(model, data, ctx.lines, ctx.path, prefix)


# ------------------------------------------------------------------------------------------- files


def _is_file(p: Path) -> bool:
    try:
        return p.is_file()
    except (OSError, ValueError):  # a name too long for the file system
        return False


def is_task_file(name: str) -> bool:
    """Whether a --task value names a task file: it ends in .yaml/.yml, or is an existing file."""
    name = name.strip()
    return name.lower().endswith((".yaml", ".yml")) or _is_file(Path(name).expanduser())


def _read_text(p: Path) -> str:
    if not _is_file(p):
        raise InputError("task file not found", path=p, field="task")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the task file: {exc.strerror or exc}", path=p) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError("the file is not UTF-8 text", path=p, line=raw[: exc.start].count(b"\n") + 1) from None


def _read_jsonl(path: Path) -> list[tuple[int, Row]]:
    return list(read_jsonl(path))


def _read_csv(path: Path, delimiter: str) -> list[tuple[int, Row]]:
    rows: list[tuple[int, Row]] = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        try:
            header = next(reader, None)
            if header is None:
                return rows
            for name in header:
                if not name.strip():
                    raise InputError("the header has an empty column name", path=path, line=1)
                if header.count(name) > 1:
                    raise InputError("duplicate column name", path=path, line=1, field=name)
            start = reader.line_num + 1
            for values in reader:
                line, start = start, reader.line_num + 1
                if not values or (len(values) == 1 and not values[0].strip()):
                    continue
                if len(values) != len(header):
                    raise InputError(f"{len(values)} values, the header has {len(header)}", path=path, line=line)
                rows.append((line, dict(zip(header, values, strict=True))))
        except csv.Error as exc:
            raise InputError(f"invalid CSV: {exc}", path=path, line=reader.line_num or None) from None
    return rows


def read_rows(path: Path, fmt: str) -> list[tuple[int, Row]]:
    """(line, row) pairs of a JSONL/CSV/TSV file; any problem is an InputError at the file and line."""
    try:
        return _read_jsonl(path) if fmt == "jsonl" else _read_csv(path, "\t" if fmt == "tsv" else ",")
    except UnicodeDecodeError:
        raise InputError("the file is not UTF-8 text", path=path) from None
    except RecursionError:
        raise InputError("a row nests too deeply", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", path=path) from None


def _format(ctx: FileContext, path: Path, explicit: str | None, loc: Loc) -> str:
    fmt = explicit or FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ctx.error(f"cannot tell the format of {path.name}: use .jsonl, .csv or .tsv, or set dataset.format", loc)
    return fmt


# ------------------------------------------------------------------------------------------- tasks


class CustomGenerationTask(GenerationTask):
    """A task file whose scorers read generated text; docs are rendered and checked at load time."""

    def __init__(
        self,
        spec: TaskFile,
        path: Path,
        docs: list[Sample],
        pool: list[Sample],
        source: DataSource,
        scorers: list[Scorer[Any]],
        num_fewshot: int,
        fewshot_note: str | None,
    ) -> None:
        gen = spec.generation
        fs = spec.fewshot or FewshotSpec(k=0)
        super().__init__(
            name=spec.name,
            metrics=tuple(m for s in scorers for m in s.metric_names()),
            num_fewshot=num_fewshot,
            fewshot_seed=fs.seed,
            max_tokens=gen.max_tokens,
            stop=tuple(gen.stop),
            temperature=gen.temperature,
            samples=gen.samples,
            seed=gen.seed,
            chat=spec.chat,
            system=spec.system,
            target_delimiter=fs.delimiter,
            fewshot_delimiter=fs.separator,
            needs_judge=any(s.needs_judge for s in scorers),
        )
        self.spec = spec
        self.path = path
        self.docs = docs
        self.pool = pool
        self.source = source
        self.scorers = scorers
        self.fewshot_note = fewshot_note

    def load(self, data_dir: str | None = None) -> Dataset:
        """The docs rendered when the file loaded (the dataset path is relative to the task file)."""
        if not self.num_fewshot:
            return Dataset(list(self.docs), [], self.source)
        return Dataset(list(self.docs), list(self.pool), self.source, self.fewshot_note)

    def fewshot_target(self, doc: Sample) -> str:
        return str(doc.meta.get("fewshot_answer", doc.target))

    def score_batch(
        self, docs: Sequence[Sample], outputs: Sequence[Sequence[Generation]], judge: Backend | None = None
    ) -> list[Score]:
        """Each scorer sees every output of the step at once; samples are combined per item."""
        scored = [Score({}, {}) for _ in docs]
        for i, scorer in enumerate(self.scorers):
            items = [
                ScoreItem(d, None if g.error else g.text, d.meta["scorers"][i])
                for d, gens in zip(docs, outputs, strict=True)
                for g in gens
            ]
            results = scorer.score_many(items, judge)
            label = scorer.options.name or scorer.kind
            k = 0
            for out, gens in zip(scored, outputs, strict=True):
                chunk = results[k : k + len(gens)]
                k += len(gens)
                if not chunk:
                    continue
                combined = scorer.combine(chunk)
                out.metrics.update(combined.metrics)
                out.details[label if label not in out.details else dotted(scorer.loc)] = combined.details
        return scored


class CustomMultipleChoiceTask(MultipleChoiceTask):
    """A task file scored by ``multiple_choice``: log-likelihood of each choice, like ARC or HellaSwag."""

    def __init__(
        self, spec: TaskFile, path: Path, docs: list[Sample], pool: list[Sample], source: DataSource, num_fewshot: int
    ) -> None:
        fs = spec.fewshot or FewshotSpec(k=0)
        super().__init__(
            name=spec.name,
            metrics=("acc", "acc_norm"),
            target_delimiter=fs.delimiter,
            fewshot_delimiter=fs.separator,
            num_fewshot=num_fewshot,
        )
        self.spec = spec
        self.path = path
        self.docs = docs
        self.pool = pool
        self.source = source
        self.seed = fs.seed

    def load(self, data_dir: str | None = None) -> Dataset:
        return Dataset(list(self.docs), list(self.pool) if self.num_fewshot else [], self.source)

    def description(self, doc: Sample) -> str:
        """The ``system`` text, as plain text before the examples (log-likelihood has no chat turns)."""
        return self.spec.system + "\n\n" if self.spec.system else ""

    def fewshot_answer(self, example: Sample) -> str:
        return str(example.meta.get("fewshot_answer", example.choices[example.golds[0]]))

    def fewshot_for(self, doc: Sample, pool: Sequence[Sample]) -> list[Sample]:
        """k examples drawn with a seed per item (so a resumed run draws the same), never the item itself."""
        if not self.num_fewshot:
            return []
        others = [p for p in pool if p.id != doc.id]
        return random.Random(f"{self.seed}:{doc.id}").sample(others, min(self.num_fewshot, len(others)))


CustomTask = CustomGenerationTask | CustomMultipleChoiceTask


# ------------------------------------------------------------------------------------------- loading


def _scorers(raw: Any, ctx: FileContext) -> list[Scorer[Any]]:
    known = ", ".join(scorer_types())
    if isinstance(raw, dict):
        entries: list[tuple[Loc, Any]] = [(("scorer",), raw)]
    elif isinstance(raw, list) and raw:
        entries = [(("scorer", i), e) for i, e in enumerate(raw)]
    else:
        raise ctx.error(f"scorer must be a mapping with a 'type' ({known}) or a non-empty list of them", ("scorer",))
    out: list[Scorer[Any]] = []
    for loc, entry in entries:
        if not isinstance(entry, dict):
            raise ctx.error(f"a scorer is a mapping with a 'type' ({known})", loc)
        kind = entry.get("type")
        if kind is None:
            raise ctx.error(f"required key is missing (one of: {known})", (*loc, "type"))
        if not isinstance(kind, str) or kind not in SCORERS:
            close = difflib.get_close_matches(str(kind), scorer_types(), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ctx.error(f"unknown scorer type '{kind}'{hint}; known: {known}", (*loc, "type"))
        cls = SCORERS[kind]
        out.append(cls(_validate(cls.options_model, entry, ctx, loc), ctx, loc))
    return out


def _check_scorers(spec: TaskFile, scorers: list[Scorer[Any]], ctx: FileContext) -> None:
    ll = [s for s in scorers if s.loglikelihood]
    if ll and len(scorers) > 1:
        raise ctx.error("multiple_choice scores log-likelihoods and cannot be combined with other scorers", ll[0].loc)
    owners: dict[str, Loc] = {}
    for s in scorers:
        if s.needs_target() and spec.target is None:
            raise ctx.error(
                f"the {s.kind} scorer compares with a reference: add a 'target:' template", (*s.loc, "type")
            )
        for m in s.metric_names():
            if m in owners:
                raise ctx.error(
                    f"metric '{m}' is already given by {dotted(owners[m])}: give this scorer a different 'name:'",
                    (*s.loc, "name" if s.options.name else "type"),
                )
            owners[m] = s.loc


class _Builder:
    """Renders rows into docs with the task file's templates; every error names the row's file and line."""

    def __init__(self, spec: TaskFile, ctx: FileContext, scorers: list[Scorer[Any]], k: int) -> None:
        self.spec, self.ctx, self.scorers = spec, ctx, scorers
        self.prompt = ctx.template(spec.prompt, ("prompt",))
        self.target = ctx.template(spec.target, ("target",)) if spec.target is not None else None
        fs = spec.fewshot
        self.answer: Template | None = None
        if fs is not None and fs.answer is not None:
            self.answer = ctx.template(fs.answer, ("fewshot", "answer"))
        self.k = k
        self.mc = scorers[0] if scorers[0].loglikelihood else None
        if k and self.mc is None and self.answer is None and self.target is None:
            raise ctx.error("few-shot examples need an answer: add fewshot.answer or target", ("fewshot",))

    def _id(self, row: Row, path: Path, line: int, prefix: str) -> str:
        name = self.spec.dataset.id_field
        if name is None:
            return f"{prefix}{line}"
        if name not in row:
            raise InputError("missing field (dataset.id_field)", path=path, line=line, field=name)
        return prefix + str(row[name])

    def _group(self, row: Row, path: Path, line: int) -> str | None:
        name = self.spec.dataset.group_field
        if name is None:
            return None
        if name not in row:
            raise InputError("missing field (dataset.group_field)", path=path, line=line, field=name)
        return str(row[name])

    def gen_doc(self, row: Row, path: Path, line: int, prefix: str = "", with_scorers: bool = True) -> Sample:
        prompt = self.prompt.render(row, path, line)
        target = self.target.render(row, path, line) if self.target is not None else None
        meta: dict[str, Any] = {"row": row, "line": line}
        if self.k:
            answer = self.answer or self.target
            assert answer is not None
            meta["fewshot_answer"] = answer.render(row, path, line)
        if with_scorers:
            meta["scorers"] = [s.prepare(row, target, path, line) for s in self.scorers]
        doc_id = self._id(row, path, line, prefix)
        return Sample(id=doc_id, turns=(prompt,), target=target, group=self._group(row, path, line), meta=meta)

    def mc_doc(self, row: Row, path: Path, line: int, prefix: str = "") -> Sample:
        assert self.mc is not None
        choices, gold = self.mc.prepare(row, None, path, line)
        meta: dict[str, Any] = {"line": line}
        if self.k and self.answer is not None:
            meta["fewshot_answer"] = self.answer.render(row, path, line)
        query = self.prompt.render(row, path, line)
        doc_id = self._id(row, path, line, prefix)
        return Sample(
            id=doc_id, turns=(query,), choices=choices, target=gold, group=self._group(row, path, line), meta=meta
        )

    def docs(self, rows: list[tuple[int, Row]], path: Path, prefix: str = "", pool: bool = False) -> list[Any]:
        out: list[Any] = []
        seen: set[str] = set()
        for line, row in rows:
            if self.mc is not None:
                doc: Any = self.mc_doc(row, path, line, prefix)
            else:
                doc = self.gen_doc(row, path, line, prefix, with_scorers=not pool)
            if doc.id in seen:
                raise InputError(f"duplicate id '{doc.id}'", path=path, line=line, field=self.spec.dataset.id_field)
            seen.add(doc.id)
            out.append(doc)
        return out


def _digest(task_file: Path, files: Sequence[Path]) -> str:
    """sha256 of the task file and every file it reads: a changed prompt or row starts a new run."""
    h = hashlib.sha256()
    for p in (task_file, *files):
        h.update(str(p.name).encode() + b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()


def load_task_file(path: str | Path, num_fewshot: int | None = None) -> CustomTask:
    """Parse, check and render a task file; ``num_fewshot`` overrides its ``fewshot.k``."""
    p = Path(path).expanduser()
    text = _read_text(p)
    try:
        located = parse_yaml(text, str(p))
    except RecursionError:
        raise InputError("the YAML nests too deeply or refers to itself", path=p) from None
    ctx = FileContext(p, located)
    if not isinstance(located.data, dict):
        raise InputError("a task file is a YAML mapping (name, dataset, prompt, target, scorer...)", path=p, line=1)
    spec = _validate(TaskFile, located.data, ctx, ())
    scorers = _scorers(spec.scorer, ctx)
    _check_scorers(spec, scorers, ctx)
    k = num_fewshot if num_fewshot is not None else (spec.fewshot.k if spec.fewshot else 0)
    builder = _Builder(spec, ctx, scorers, k)

    data_path = ctx.resolve(spec.dataset.path, ("dataset", "path"))
    rows = read_rows(data_path, _format(ctx, data_path, spec.dataset.format, ("dataset", "path")))
    if spec.dataset.limit is not None:
        rows = rows[: spec.dataset.limit]
    if not rows:
        raise ctx.error(f"the dataset {data_path.name} has no rows", ("dataset", "path"))
    docs = builder.docs(rows, data_path)

    pool, note = docs, "drawn from the dataset itself, excluding the item"
    if spec.fewshot is not None and spec.fewshot.path is not None:
        shot_path = ctx.resolve(spec.fewshot.path, ("fewshot", "path"))
        shot_rows = read_rows(shot_path, _format(ctx, shot_path, None, ("fewshot", "path")))
        if not shot_rows and k:
            raise ctx.error(f"the few-shot file {shot_path.name} has no rows", ("fewshot", "path"))
        pool, note = builder.docs(shot_rows, shot_path, prefix="fewshot:", pool=True), f"from {shot_path.name}"

    try:
        digest = _digest(p, ctx.files)
    except OSError as exc:
        raise InputError(f"cannot read a file of the task: {exc}", path=p) from None
    source = DataSource("task-file", str(p), digest)
    if builder.mc is not None:
        return CustomMultipleChoiceTask(spec, p, docs, pool, source, k)
    return CustomGenerationTask(spec, p, docs, pool, source, scorers, k, note)
