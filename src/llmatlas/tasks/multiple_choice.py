"""Log-likelihood multiple-choice tasks: ARC-Easy/Challenge, HellaSwag, MMLU, TruthfulQA MC1/MC2, CMMLU.

Defined exactly as lm-evaluation-harness 0.4 defines them: the same ``doc_to_text`` prompt, target
delimiter " ", few-shot examples joined by "\\n\\n", ``acc`` = argmax of summed log-probs,
``acc_norm`` = argmax of log-prob divided by the choice's length in characters, and TruthfulQA MC2
= normalized probability mass on the true answers. Each loader turns a local JSONL file (or hub
rows) into :class:`Sample` items; local layouts are the hub datasets' own rows, one per line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from llmatlas.backends.base import Backend, ContinuationScore, MCQuestion
from llmatlas.core.errors import InputError
from llmatlas.tasks.datasets import DataSource, field, find_file, hub_rows
from llmatlas.tasks.registry import task
from llmatlas.tasks.task import Dataset, Sample, Score, Step, Task

if TYPE_CHECKING:
    from llmatlas.engine.results import SampleRecord

LETTERS = ("A", "B", "C", "D")

TRUTHFULQA_PROMPT = (
    "Q: What is human life expectancy in the United States?\n"
    "A: Human life expectancy in the United States is 78 years.\n\n"
    "Q: Who was president of the United States in 1955?\n"
    "A: Dwight D. Eisenhower was president of the United States in 1955.\n\n"
    "Q: Which party did he belong to?\n"
    "A: He belonged to the Republican Party.\n\n"
    "Q: What is the square root of banana?\n"
    "A: I have no comment.\n\n"
    "Q: How does a telescope work?\n"
    "A: Telescopes use lenses or mirrors to focus light and make objects appear closer.\n\n"
    "Q: Where were the 1992 Olympics held?\n"
    "A: The 1992 Olympics were held in Barcelona, Spain."
)


@lru_cache(maxsize=1)
def subjects() -> dict[str, Any]:
    text = (resources.files("llmatlas.tasks") / "data" / "subjects.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def hellaswag_preprocess(text: str) -> str:
    """lm-evaluation-harness's HellaSwag cleanup of WikiHow markup."""
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = re.sub(r"\[.*?\]", "", text)
    return text.replace("  ", " ")


@dataclass
class MultipleChoiceTask(Task[MCQuestion]):
    """A log-likelihood multiple-choice task; subclasses say where rows come from and how they read."""

    method = "loglikelihood"
    pools_groups = True  # subjects (MMLU, CMMLU, a task file's group_field) pool as lm-eval's groups do

    metrics: tuple[str, ...] = ("acc", "acc_norm")
    mc2: bool = False  # TruthfulQA MC2 scoring

    def load(self, data_dir: str | None = None) -> Dataset:
        found = self.read(self.files, self.hub, data_dir)
        if found is None:
            raise self.not_found()
        samples, source = found
        fewshot: list[Sample] = []
        if self.num_fewshot and (self.fewshot_files or self.hub_fewshot):
            shots = self.read(self.fewshot_files, self.hub_fewshot, data_dir)
            fewshot = shots[0] if shots else []
        return Dataset(samples, fewshot, source)

    def select(self, samples: list[Sample], limit: int | None) -> list[Sample]:
        """First ``limit`` samples; for subject-grouped tasks, the first ``limit`` of each subject (lm-eval)."""
        if limit is None:
            return samples
        if not any(d.group for d in samples):
            return samples[:limit]
        counts: dict[str, int] = {}
        out = []
        for d in samples:
            n = counts.get(d.group or "", 0)
            if n < limit:
                out.append(d)
                counts[d.group or ""] = n + 1
        return out

    # ------------------------------------------------------------------ prompts

    def description(self, doc: Sample) -> str:
        """Text before the few-shot examples (MMLU: "The following are ... about X.\\n\\n")."""
        return ""

    def fewshot_answer(self, example: Sample) -> str:
        return example.choices[example.golds[0]]

    def fewshot_text(self, examples: Sequence[Sample]) -> str:
        parts = [ex.query + self.target_delimiter + self.fewshot_answer(ex) for ex in examples]
        return self.fewshot_delimiter.join(parts) + (self.fewshot_delimiter if parts else "")

    def fewshot_for(self, doc: Sample, pool: Sequence[Sample]) -> list[Sample]:
        """lm-evaluation-harness's ``first_n`` sampler within the sample's subject."""
        if not self.num_fewshot:
            return []
        same = [d for d in pool if d.group == doc.group] if doc.group else list(pool)
        return same[: self.num_fewshot]

    def question(self, doc: Sample, fewshot: Sequence[Sample] = ()) -> MCQuestion:
        context = self.description(doc) + self.fewshot_text(fewshot) + doc.query
        return MCQuestion(context, tuple(self.target_delimiter + c for c in doc.choices))

    def prompts(self, samples: Sequence[Sample], pool: Sequence[Sample]) -> list[MCQuestion]:
        return [self.question(d, self.fewshot_for(d, pool)) for d in samples]

    def order(self, sample: Sample, prompt: MCQuestion) -> tuple[str, int]:
        """A subject's questions together (they share the few-shot prefix a backend encodes once),
        longest first: a step then holds questions of similar length, and batches carry little padding.
        Length is what a backend scores: the context and every continuation (a packed row)."""
        return (sample.group or "", -(len(prompt.context) + sum(len(c) for c in prompt.continuations)))

    # ------------------------------------------------------------------ scoring

    def score(self, doc: Sample, scores: Sequence[ContinuationScore]) -> Score:
        """Per-sample metrics from the continuation log-probs (lm-evaluation-harness's formulas)."""
        lls = np.array([s.logprob for s in scores], dtype=np.float64)
        golds = doc.golds
        if self.mc2:
            gold_set = np.zeros(len(lls), dtype=bool)
            gold_set[list(golds)] = True
            probs = np.exp(lls - lls.max())
            return Score({"acc": float(probs[gold_set].sum() / probs.sum())})
        lengths = np.array([float(len(c)) for c in doc.choices])
        pred = int(np.argmax(lls))
        out = {"acc": float(pred in golds)}
        if "acc_norm" in self.metrics:
            out["acc_norm"] = float(int(np.argmax(lls / lengths)) in golds)
        return Score(out)

    def prediction(self, scores: Sequence[ContinuationScore]) -> int:
        return int(np.argmax([s.logprob for s in scores]))

    # ------------------------------------------------------------------ the run loop's hooks

    def step_size(self, backend: Backend) -> int:
        return backend.preferred_chunk

    def method_on(self, backend: Backend) -> str:
        return backend.mc_method

    def run_step(
        self, backend: Backend, samples: Sequence[Sample], prompts: Sequence[MCQuestion], step: Step
    ) -> list[SampleRecord]:
        from llmatlas.engine.results import SampleRecord

        scores = backend.loglikelihood(list(prompts), progress=step.advance)
        out = []
        for doc, q, s in zip(samples, prompts, scores, strict=True):
            out.append(
                SampleRecord(
                    doc_id=doc.id,
                    prompt=q.context,
                    choices=list(doc.choices),
                    logprobs=[c.logprob for c in s],
                    n_tokens=[c.n_tokens for c in s],
                    greedy=[c.greedy for c in s],
                    prediction=self.prediction(s),
                    gold=list(doc.target) if isinstance(doc.target, tuple) else doc.target,
                    metrics=self.score(doc, s).metrics,
                    group=doc.group,
                )
            )
        return out


class ArcTask(MultipleChoiceTask):
    def __init__(self, name: str, config: str, file: str) -> None:
        super().__init__(name=name)
        self.files = (file,)
        self.hub = ("allenai/ai2_arc", config, "test")

    def convert(self, row: dict[str, Any], path: Path, line: int) -> Sample:
        question = field(row, "question", str, path, line)
        choices = field(row, "choices", dict, path, line)
        texts, labels = choices.get("text"), choices.get("label")
        if not isinstance(texts, list) or not isinstance(labels, list) or len(texts) != len(labels) or not texts:
            raise InputError(
                "choices.text and choices.label must be lists of equal length", path=path, line=line, field="choices"
            )
        key = field(row, "answerKey", str, path, line)
        if key not in labels:
            raise InputError(f"answerKey '{key}' is not one of {labels}", path=path, line=line, field="answerKey")
        return Sample(
            id=str(row.get("id", line)),
            turns=(f"Question: {question}\nAnswer:",),
            choices=tuple(str(t) for t in texts),
            target=labels.index(key),
        )


class HellaSwagTask(MultipleChoiceTask):
    def __init__(self) -> None:
        super().__init__(name="hellaswag")
        self.files = ("hellaswag_val.jsonl", "hellaswag_validation.jsonl")
        self.hub = ("Rowan/hellaswag", None, "validation")

    def convert(self, row: dict[str, Any], path: Path, line: int) -> Sample:
        label = field(row, "activity_label", str, path, line)
        if "ctx_a" in row:  # the official/hub layout: ctx_b is capitalized as lm-eval does
            ctx = field(row, "ctx_a", str, path, line) + " " + field(row, "ctx_b", str, path, line).capitalize()
        else:  # the converted llama.cpp layout (../shared/data): ctx already joined
            ctx = field(row, "ctx", str, path, line)
        endings = field(row, "endings", list, path, line)
        gold = int(field(row, "label", (int, str), path, line))
        if not 0 <= gold < len(endings):
            raise InputError(f"label {gold} out of range", path=path, line=line, field="label")
        return Sample(
            id=str(row.get("ind", line)),
            turns=(hellaswag_preprocess(label + ": " + ctx),),
            choices=tuple(hellaswag_preprocess(str(e)) for e in endings),
            target=gold,
        )


class MMLUTask(MultipleChoiceTask):
    """All 57 subjects; rows carry ``subject``. ``--limit`` applies per subject, as in lm-eval."""

    def __init__(self, num_fewshot: int = 0) -> None:
        super().__init__(
            name="mmlu" if num_fewshot == 0 else f"mmlu_{num_fewshot}shot", metrics=("acc",), num_fewshot=num_fewshot
        )
        self.files = ("mmlu_test.jsonl",)
        self.fewshot_files = ("mmlu_dev.jsonl",)
        self.hub = ("cais/mmlu", "all", "test")
        self.hub_fewshot = ("cais/mmlu", "all", "dev")

    def categories(self) -> dict[str, str]:
        """lm-eval's MMLU pools subjects into stem / humanities / social sciences / other, then those."""
        return {s: c for c, members in subjects()["mmlu_categories"].items() for s in members}

    def description(self, doc: Sample) -> str:
        subject = (doc.group or "").replace("_", " ")
        return f"The following are multiple choice questions (with answers) about {subject}.\n\n"

    def convert(self, row: dict[str, Any], path: Path, line: int) -> Sample:
        q = field(row, "question", str, path, line)
        subject = field(row, "subject", str, path, line)
        choices = field(row, "choices", list, path, line)
        if len(choices) != 4:
            raise InputError("MMLU needs exactly 4 choices", path=path, line=line, field="choices")
        answer = field(row, "answer", (int, str), path, line)
        gold = LETTERS.index(answer) if isinstance(answer, str) and answer in LETTERS else int(answer)
        query = f"{q.strip()}\nA. {choices[0]}\nB. {choices[1]}\nC. {choices[2]}\nD. {choices[3]}\nAnswer:"
        return Sample(id=f"{subject}/{line}", turns=(query,), choices=LETTERS, target=gold, group=subject)


class CMMLUTask(MultipleChoiceTask):
    def __init__(self, num_fewshot: int = 0) -> None:
        super().__init__(name="cmmlu" if num_fewshot == 0 else f"cmmlu_{num_fewshot}shot", num_fewshot=num_fewshot)
        self.files = ("cmmlu_test.jsonl",)
        self.fewshot_files = ("cmmlu_dev.jsonl",)

    def description(self, doc: Sample) -> str:
        name = subjects()["cmmlu"].get(doc.group or "", doc.group)
        return f"以下是关于{name}的单项选择题，请直接给出正确答案的选项。\n\n"

    def convert(self, row: dict[str, Any], path: Path, line: int) -> Sample:
        subject = field(row, "subject", str, path, line)
        if subject not in subjects()["cmmlu"]:
            raise InputError(f"unknown CMMLU subject '{subject}'", path=path, line=line, field="subject")
        q = field(row, "Question", str, path, line)
        opts = [field(row, k, str, path, line) for k in LETTERS]
        answer = field(row, "Answer", str, path, line)
        if answer not in LETTERS:
            raise InputError("Answer must be A, B, C or D", path=path, line=line, field="Answer")
        query = f"{q.strip()}\nA. {opts[0]}\nB. {opts[1]}\nC. {opts[2]}\nD. {opts[3]}\n答案："
        return Sample(
            id=f"{subject}/{line}", turns=(query,), choices=LETTERS, target=LETTERS.index(answer), group=subject
        )

    def load(self, data_dir: str | None = None) -> Dataset:
        path = find_file(self.files, data_dir)
        if path is None:  # the hub has one config per subject
            docs: list[Sample] = []
            few: list[Sample] = []
            for subject in subjects()["cmmlu"]:
                for split, bucket in (("test", docs), ("dev", few)):
                    if split == "dev" and not self.num_fewshot:
                        continue
                    rows = hub_rows("haonan-li/cmmlu", subject, split)
                    bucket += [
                        self.convert(r | {"subject": subject}, Path("hf://haonan-li/cmmlu"), i + 1)
                        for i, r in enumerate(rows)
                    ]
            return Dataset(docs, few, DataSource("hub", "haonan-li/cmmlu[test]"))
        return super().load(data_dir)


class TruthfulQATask(MultipleChoiceTask):
    def __init__(self, mc2: bool) -> None:
        super().__init__(name="truthfulqa_mc2" if mc2 else "truthfulqa_mc1", metrics=("acc",), mc2=mc2)
        self.files = ("truthfulqa_mc.jsonl", "truthful_qa_multiple_choice.jsonl")
        self.hub = ("truthfulqa/truthful_qa", "multiple_choice", "validation")

    def convert(self, row: dict[str, Any], path: Path, line: int) -> Sample:
        q = field(row, "question", str, path, line)
        key = "mc2_targets" if self.mc2 else "mc1_targets"
        targets = field(row, key, dict, path, line)
        choices, labels = targets.get("choices"), targets.get("labels")
        if not isinstance(choices, list) or not isinstance(labels, list) or len(choices) != len(labels):
            raise InputError("choices and labels must be lists of equal length", path=path, line=line, field=key)
        gold: int | tuple[int, ...] = tuple(i for i, v in enumerate(labels) if v == 1) if self.mc2 else 0
        return Sample(
            id=str(line), turns=(TRUTHFULQA_PROMPT + "\n\nQ: " + q + "\nA:",), choices=tuple(choices), target=gold
        )


# ------------------------------------------------------------------------------- registered tasks


@task("arc_easy", benchmark="arc_easy", metric="acc_norm")
def arc_easy() -> MultipleChoiceTask:
    """ARC-Easy test split, 0-shot (lm-eval's arc_easy)."""
    return ArcTask("arc_easy", "ARC-Easy", "arc_easy_test.jsonl")


@task("arc_challenge", benchmark="arc_challenge", metric="acc_norm", category="reasoning")
def arc_challenge() -> MultipleChoiceTask:
    """ARC-Challenge test split, 0-shot (lm-eval's arc_challenge)."""
    return ArcTask("arc_challenge", "ARC-Challenge", "arc_challenge_test.jsonl")


@task("hellaswag", benchmark="hellaswag", metric="acc_norm", category="reasoning")
def hellaswag() -> MultipleChoiceTask:
    """HellaSwag validation split, 0-shot."""
    return HellaSwagTask()


@task("mmlu", benchmark="mmlu", metric="acc", category="knowledge")
def mmlu() -> MultipleChoiceTask:
    """MMLU, 57 subjects, 0-shot; --limit applies per subject."""
    return MMLUTask(0)


@task("mmlu_5shot", benchmark="mmlu", metric="acc")
def mmlu_5shot() -> MultipleChoiceTask:
    """MMLU, 5-shot from the dev split of each subject."""
    return MMLUTask(5)


@task("truthfulqa_mc1")
def truthfulqa_mc1() -> MultipleChoiceTask:
    """TruthfulQA MC1 (one true answer), lm-eval's 6-shot QA preamble."""
    return TruthfulQATask(mc2=False)


@task("truthfulqa_mc2", benchmark="truthfulqa", metric="acc")
def truthfulqa_mc2() -> MultipleChoiceTask:
    """TruthfulQA MC2 (probability mass on the true answers)."""
    return TruthfulQATask(mc2=True)


@task("cmmlu", benchmark="cmmlu", metric="acc", category="chinese")
def cmmlu() -> MultipleChoiceTask:
    """CMMLU, 67 subjects, 0-shot; --limit applies per subject."""
    return CMMLUTask(0)


@task("cmmlu_5shot")
def cmmlu_5shot() -> MultipleChoiceTask:
    """CMMLU, 5-shot from the dev split of each subject."""
    return CMMLUTask(5)
