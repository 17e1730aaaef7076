"""Hugging Face transformers backend (``hf:PATH_OR_HUB_ID``), with fast shared-context scoring.

Multiple choice is scored by *prefix packing*: one packed row holds a question's context once,
followed by every choice's continuation tokens (minus each continuation's last token, which is
only ever a target). A custom 4D attention mask lets each continuation attend to the context and
causally to itself only, and position ids restart at ``len(context)`` for every continuation, so
each choice sees exactly what it would see in its own forward pass. Several packed rows form a
padded batch whose size is bounded by a token budget (``batch_tokens``) after sorting by length,
longest first. Logits are computed only at the positions that predict continuation tokens
(transformers' boolean ``logits_to_keep``), and log-softmax only there.

Questions whose contexts share a long token prefix (few-shot exemplars, a task description) are
grouped by :func:`llmatlas.backends.prefix.group_by_prefix`, from the token ids themselves: the
prefix runs through the model once per group (its KV cache kept), and each question's rest of
context and continuations are packed as above on top of it — the cache is shared by every row of a
batch (expanded, not copied), positions continue after the prefix, and the 4D mask shows the
prefix to every token. ``stats()`` counts the tokens run against those asked for.

``loglikelihood_reference`` is the per-choice method of lm-evaluation-harness (one forward pass of
``context + continuation[:-1]`` per choice, batch of one, full logits); the packed scorer equals it
to float tolerance (about 1e-6 in float32 on CPU) whatever the batch budget.

Options (strings or typed values): ``dtype`` (float32 | bfloat16 | float16 | auto; float32 by
default on CPU, bfloat16 on CUDA), ``device`` (cpu | cuda | cuda:N | mps | auto), ``batch_tokens``
(padded tokens per forward pass; default 512 on CPU, 65536 on CUDA), ``gguf_file`` (a GGUF file in the folder, loaded
dequantized by transformers; needs ``accelerate``), ``attn_implementation`` (sdpa by default | eager:
both equal the reference to ~3e-5 on SmolLM2-135M, sdpa is ~30% faster on CPU), ``max_length``
(context window for left truncation; default from the config as lm-eval does), ``add_bos_token``
(unset: the tokenizer's default special tokens; true/false forces them on or off — lm-eval
0.4.0-0.4.8 used false for causal models), ``trust_remote_code``, ``seed`` (sampling), ``threads``
(torch CPU threads, process-wide), ``fused_norm`` (true by default: plain RMSNorm layers of a float32
model run through ``F.rms_norm``), ``prefix_reuse`` (true by default: encode a prefix shared by
several questions once; false for A/B measurements).
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import torch
import transformers
from pydantic import Field, field_validator

from llmatlas.backends.base import (
    Backend,
    BackendInfo,
    ContinuationScore,
    Generation,
    GenerationRequest,
    MCQuestion,
    Progress,
    render_prefilled,
    split_context,
)
from llmatlas.backends.options import BackendOptions, Flag
from llmatlas.backends.prefix import common_prefix_len, group_by_prefix, unique_tokens
from llmatlas.core.errors import InputError

_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
}
_DEFAULT_MAX_LENGTH = 2048  # lm-eval's fallback when neither config nor tokenizer says
_LOGITS_BUDGET_BYTES = 256 * 2**20  # float32 logits kept per forward pass (bounds scored positions)
_STAT_KEYS = (
    "questions",
    "tokens_requested",  # what per-choice scoring runs: context + continuation[:-1], every choice
    "tokens_packed",  # what sharing each question's context among its choices runs
    "tokens_unique",  # distinct token prefixes among the requested sequences (each call's trie)
    "tokens_encoded",  # tokens actually run through the model, padding left out
    "tokens_padded",  # ... padding included
    "forward_passes",
    "prefix_groups",
    "prefix_tokens",  # shared-prefix tokens encoded (once per group)
    "prompt_tokens",  # generation prompts' tokens
    "prompt_tokens_encoded",  # ... run through the model (the rest came from the previous prompt's cache)
)
# Key/value positions a batch over a shared prefix may hold, at least (prefix + row, summed over
# rows): 8,192 positions of a 7B model's fp16 K/V are 134 MB per layer.
_PREFIX_KV_TOKENS = 8192
# Shortest prefix worth its own forward pass and batches: MMLU's subject headers differ after ~12
# tokens, its five shots share hundreds.
MIN_SHARED_PREFIX = 32


@dataclass
class _Unit:
    """One packed row: a context and the choices that share it (a question, or part of one)."""

    question: int
    context: list[int]
    choices: list[tuple[int, list[int]]]  # (choice index in the question, continuation tokens)
    length: int = 0  # row length: context + every continuation but its last token
    n_scored: int = 0  # positions whose logits are needed
    ids: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    segments: list[int] = field(default_factory=list)  # 0 = context, j + 1 = j-th choice
    scored: list[int] = field(default_factory=list)  # row positions predicting each target
    targets: list[int] = field(default_factory=list)
    offset: int = 0  # tokens before the row (a shared prefix in the KV cache): positions start there

    def pack(self) -> None:
        ctx = self.context
        n_ctx = len(ctx)
        start_pos = self.offset + n_ctx
        self.ids = list(ctx)
        self.positions = list(range(self.offset, start_pos))
        self.segments = [0] * n_ctx
        self.scored, self.targets = [], []
        for j, (_, cont) in enumerate(self.choices):
            start = len(self.ids)
            body = cont[:-1]
            self.ids += body
            self.positions += range(start_pos, start_pos + len(body))
            self.segments += [j + 1] * len(body)
            # cont[0] is predicted by the last context token; cont[k] by the row position of cont[k-1]
            self.scored += [n_ctx - 1, *range(start, start + len(body))]
            self.targets += cont
        self.length = len(self.ids)
        self.n_scored = len(self.scored)


class _SharedPrefixCache(transformers.DynamicCache):
    """A read-only KV cache holding one prefix (batch of one) under every row of a batch.

    ``update`` hands each layer the prefix's keys and values expanded to the batch (a view, not a
    copy) followed by the rows' own, and stores nothing: the same cache serves every batch of the
    group, and each layer's concatenation is freed once the layer is done.
    """

    def __init__(self, kv: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        super().__init__(ddp_cache_data=kv)  # so that get_seq_length() and friends see the prefix
        self.kv = kv

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        keys, values = self.kv[layer_idx]
        n = key_states.shape[0]
        return (
            torch.cat([keys.expand(n, -1, -1, -1), key_states], dim=-2),
            torch.cat([values.expand(n, -1, -1, -1), value_states], dim=-2),
        )


@dataclass
class _SharedPrefix:
    length: int
    cache: _SharedPrefixCache


DType = Literal["auto", "float32", "fp32", "float", "bfloat16", "bf16", "float16", "fp16", "half"]


class HFOptions(BackendOptions):
    device: str = Field("auto", description="auto, cpu, cuda, cuda:N or mps")
    dtype: DType = Field("auto", description="weights' dtype (auto: bfloat16 on CUDA, float32 elsewhere)")
    batch_tokens: int | None = Field(
        None, ge=1, le=10_000_000, description="token budget per forward pass (default: 65,536 on CUDA, 512 on CPU)"
    )
    attn_implementation: Literal["eager", "sdpa"] = Field("sdpa", description="attention kernel")
    gguf_file: str | None = Field(None, description="a GGUF file inside the model folder")
    add_bos_token: Flag | None = Field(None, description="prepend BOS (default: the tokenizer's)")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="sampling seed")
    threads: int | None = Field(None, ge=1, le=1024, description="torch CPU threads, process-wide (default: torch's)")
    trust_remote_code: Flag = Field(False, description="run the model repository's own code")
    fused_norm: Flag = Field(True, description="fused RMSNorm on CPU float32")
    max_length: int | None = Field(
        None, ge=1, le=10_000_000, description="longest sequence in tokens (default: from the model's config)"
    )
    prefix_reuse: Flag = Field(True, description="encode a prefix shared by several questions once")

    @field_validator("dtype", mode="before")
    @classmethod
    def _torch_prefix(cls, value: Any) -> Any:
        return value.strip().lower().removeprefix("torch.") if isinstance(value, str) else value


class HFBackend(Backend):
    name = "hf"
    options_model = HFOptions
    options: HFOptions

    def __init__(self, target: str, **options: Any) -> None:
        super().__init__(target, **options)
        opts = self.options
        self.device = self._pick_device(opts.device)
        self.dtype = self._pick_dtype(opts.dtype, self.device)
        # Token budget per forward pass, measured best (benchmarks/RESULTS.md): 65,536 on an H100;
        # on CPU small batches win (SmolLM2 on 2 cores: 5.3 q/s at 512-1,024 vs 1.7 q/s at 4,096), and
        # 512 pads least (benchmarks/RESULTS.md).
        default_budget = 65536 if str(self.device).startswith("cuda") else 512
        if self.device.type == "cpu":
            self.preferred_chunk = 256  # 500 ARC-Easy questions: 3% padding at 256 per step vs 7% at 64
        self.batch_tokens = opts.batch_tokens or default_budget
        self.attn_implementation: str = opts.attn_implementation
        self.gguf_file = opts.gguf_file or None
        self.add_bos_token = opts.add_bos_token
        self.seed = opts.seed
        if opts.threads:  # process-wide in torch; unset leaves torch's default (all cores)
            torch.set_num_threads(opts.threads)
        trust = opts.trust_remote_code

        path = Path(target).expanduser()
        local = path.exists()
        if not local and (target.startswith((".", "/", "~")) or target.count("/") > 1):
            raise InputError(f"model folder '{target}' does not exist", field="model")
        self.model_ref = str(path.resolve()) if local else target
        if self.gguf_file and local and not (path / self.gguf_file).is_file():
            raise InputError(f"gguf_file '{self.gguf_file}' is not in {path}", field="gguf_file")

        common: dict[str, Any] = {"trust_remote_code": trust}
        if local:
            common["local_files_only"] = True
        if self.gguf_file:
            common["gguf_file"] = self.gguf_file
        dtype_key = "dtype" if _version_at_least(transformers.__version__, (4, 56)) else "torch_dtype"
        model_kwargs = common | {dtype_key: self.dtype, "attn_implementation": self.attn_implementation}
        try:
            self.tokenizer: Any = transformers.AutoTokenizer.from_pretrained(self.model_ref, **common)
            # typed Any: transformers' own annotations of from_pretrained/to are not usable under --strict
            self.model: Any = cast(
                Any, transformers.AutoModelForCausalLM.from_pretrained(self.model_ref, **model_kwargs)
            )
        except (OSError, ValueError, KeyError) as exc:  # a folder that is not a causal LM, a missing file
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise InputError(f"cannot load '{target}' as a Hugging Face causal LM: {first}", field="model") from None
        self.model.to(self.device)
        self.model.eval()
        self.fused_norms = 0
        if opts.fused_norm and self.dtype == torch.float32:
            self.fused_norms = _fuse_rms_norms(self.model)
        self.vocab_size = int(self.model.get_output_embeddings().weight.shape[0])
        self.max_length = opts.max_length or self._config_max_length()
        # transformers 5 keeps logits only where a boolean (batch, seq) `logits_to_keep` mask says
        # (modeling_utils.slice_logits_to_keep); older ones compute logits for every position of
        # the padded batch and we slice afterwards (same numbers, more memory).
        self._bool_logits_to_keep = hasattr(transformers.modeling_utils, "slice_logits_to_keep")
        self.prefix_reuse = opts.prefix_reuse
        self._prefix_supported = True  # until a prefix's cache turns out not to be plain keys and values
        # transformers 5.x renamed the forward's `past_key_values` to `cache` (the old name warns)
        self._cache_arg = "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"
        self._stats: dict[str, int] = dict.fromkeys(_STAT_KEYS, 0)
        # the previous generation prompt and its keys and values (prompt positions only), for the next
        self._prompt_cache: tuple[list[int], Any] | None = None

    # ------------------------------------------------------------------ setup helpers

    @staticmethod
    def _pick_device(text: str) -> torch.device:
        if text in ("auto", ""):
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            dev = torch.device(text)
        except RuntimeError:
            raise InputError(f"unknown device '{text}' (cpu, cuda, cuda:N, mps, auto)", field="device") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise InputError("device 'cuda' asked for but torch sees no CUDA GPU", field="device")
        return dev

    @staticmethod
    def _pick_dtype(value: Any, device: torch.device) -> torch.dtype:
        if isinstance(value, torch.dtype):
            return value
        text = str(value or "auto").strip().lower().removeprefix("torch.")
        if text == "auto":
            return torch.bfloat16 if device.type == "cuda" else torch.float32
        if text not in _DTYPES:
            raise InputError(f"unknown dtype '{value}' (float32, bfloat16, float16, auto)", field="dtype")
        return _DTYPES[text]

    def _config_max_length(self) -> int:
        """lm-eval's rule: n_positions / max_position_embeddings / n_ctx, else the tokenizer's limit."""
        config = self.model.config
        text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
        for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
            value = getattr(text_config, attr, None)
            if isinstance(value, int) and value > 0:
                return value
        limit = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(limit, int) and 0 < limit < 10**12:
            return limit
        return _DEFAULT_MAX_LENGTH

    @property
    def prefix_token_id(self) -> int:
        bos = self.tokenizer.bos_token_id
        token = bos if bos is not None else self.tokenizer.eos_token_id
        if token is None:
            raise ValueError("the tokenizer has neither a BOS nor an EOS token to stand for an empty context")
        return int(token)

    def info(self) -> BackendInfo:
        n_params = sum(p.numel() for p in self.model.parameters())
        return BackendInfo(
            backend=self.name,
            model=self.model_ref if not self.gguf_file else f"{self.model_ref}/{self.gguf_file}",
            details={
                "model_type": getattr(self.model.config, "model_type", None),
                "architecture": type(self.model).__name__,
                "gguf_file": self.gguf_file,
                "dtype": str(self.dtype).removeprefix("torch."),
                "device": str(self.device),
                "parameters": n_params,
                "attn_implementation": self.attn_implementation,
                "fused_rms_norms": self.fused_norms,
                "max_length": self.max_length,
                "batch_tokens": self.batch_tokens,
                "threads": torch.get_num_threads(),
                "add_bos_token": self.add_bos_token,
                "prefix_reuse": self.prefix_reuse,
                "scoring": "prefix packing (shared context, 4D mask)",
                "transformers": transformers.__version__,
                "torch": torch.__version__,
            },
        )

    def close(self) -> None:
        self.model = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    # ------------------------------------------------------------------ tokenization (lm-eval rules)

    def _encode(self, text: str, special: bool | None = None) -> list[int]:
        flag = self.add_bos_token if special is None else special
        ids = self.tokenizer.encode(text) if flag is None else self.tokenizer.encode(text, add_special_tokens=flag)
        return [int(t) for t in ids]

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """(context tokens, continuation tokens) exactly as lm-evaluation-harness builds them."""
        return self.encode_choices(context, [continuation])[0]

    def encode_choices(self, context: str, continuations: Sequence[str]) -> list[tuple[list[int], list[int]]]:
        """encode_pair for every choice of a question, encoding the shared context once.

        The continuation tokens are cut from the encoding of ``context + continuation`` (lm-eval's
        rule), so a token merging across the boundary is scored as lm-eval scores it.
        """
        pairs = [split_context(context, c) for c in continuations]
        out: list[tuple[list[int], list[int]]] = []
        context_enc: dict[str, list[int]] = {}
        for ctx, cont in pairs:
            if ctx == "":
                out.append(([self.prefix_token_id], self._encode(cont, special=False)))
                continue
            if ctx not in context_enc:
                context_enc[ctx] = self._encode(ctx)
            out.append((context_enc[ctx], []))
        wholes = [ctx + cont for ctx, cont in pairs if ctx]
        if wholes:
            flag = self.add_bos_token
            kwargs = {} if flag is None else {"add_special_tokens": flag}
            encoded = iter(self.tokenizer(wholes, **kwargs)["input_ids"])
            for k, (ctx, _) in enumerate(pairs):
                if ctx:
                    whole = [int(t) for t in next(encoded)]
                    out[k] = (out[k][0], whole[len(out[k][0]) :])
        return out

    def tokenize(self, texts: Sequence[str]) -> list[list[int]] | None:
        """Token ids as scoring encodes a context (the tokenizer's special tokens, or add_bos_token's)."""
        if not texts:
            return []
        flag = self.add_bos_token
        kwargs = {} if flag is None else {"add_special_tokens": flag}
        return [[int(t) for t in ids] for ids in self.tokenizer(list(texts), **kwargs)["input_ids"]]

    def _truncate(self, context: list[int], cont: list[int]) -> list[int]:
        """Left-truncate so that context + cont[:-1] fits max_length (lm-eval's rule); returns the context."""
        if len(cont) > self.max_length:
            raise ValueError(f"a continuation of {len(cont)} tokens exceeds the model's {self.max_length}")
        overflow = len(context) + len(cont) - 1 - self.max_length
        return context[overflow:] if overflow > 0 else context

    # ------------------------------------------------------------------ fast scorer

    def _units(self, questions: Sequence[MCQuestion]) -> tuple[list[_Unit], list[list[ContinuationScore | None]]]:
        units: list[_Unit] = []
        results: list[list[ContinuationScore | None]] = []
        for qi, q in enumerate(questions):
            row: list[ContinuationScore | None] = [None] * len(q.continuations)
            groups: dict[tuple[int, ...], _Unit] = {}
            for ci, (context, cont) in enumerate(self.encode_choices(q.context, q.continuations)):
                if not cont:
                    row[ci] = ContinuationScore(0.0, 0, True)
                    continue
                ctx = self._truncate(context, cont)
                key = tuple(ctx)  # choices whose truncation differs get their own row
                unit = groups.get(key)
                if unit is None:
                    unit = groups[key] = _Unit(qi, ctx, [])
                unit.choices.append((ci, cont))
            for unit in groups.values():
                unit.pack()
                units.append(unit)
            results.append(row)
        return units, results

    def _batches(self, units: list[_Unit], prefix_len: int = 0) -> list[list[_Unit]]:
        """Rows longest first, as many per batch as the token budget allows.

        Rows on top of a shared prefix also read its keys and values, which each layer materializes
        once per row (and attends over): ``rows * (prefix + width)`` stays within the budget or
        ``_PREFIX_KV_TOKENS``, whichever is larger, so on a GPU (65,536) a batch costs the memory it
        would cost without reuse, and on a CPU (512) a few rows still share a pass.
        """
        max_scored = max(1, _LOGITS_BUDGET_BYTES // (4 * self.vocab_size))
        kv_budget = max(self.batch_tokens, _PREFIX_KV_TOKENS) if prefix_len else self.batch_tokens
        ordered = sorted(units, key=lambda u: (-u.length, u.question))
        batches: list[list[_Unit]] = []
        current: list[_Unit] = []
        width = scored = 0
        for unit in ordered:
            rows = len(current) + 1
            if current and (
                rows * width > self.batch_tokens
                or rows * (width + prefix_len) > kv_budget
                or scored + unit.n_scored > max_scored
            ):
                batches.append(current)
                current, scored = [], 0
            if not current:
                width = unit.length
            current.append(unit)
            scored += unit.n_scored
        if current:
            batches.append(current)
        return batches

    def _encode_prefix(self, ids: list[int]) -> _SharedPrefix | None:
        """Run a shared prefix once and keep its keys and values (batch of one) for the rows on top;
        None (and reuse off from then on) where the model's cache is not plain keys and values."""
        cache = transformers.DynamicCache()  # no config: plain full-attention layers, nothing cropped
        kwargs: dict[str, Any] = {
            "input_ids": torch.tensor([ids], dtype=torch.long, device=self.device),
            self._cache_arg: cache,
            "use_cache": True,
        }
        if self._bool_logits_to_keep:
            kwargs["logits_to_keep"] = 1  # no prefix logits are needed: each row keeps a context token
        with torch.inference_mode(), self._attention_kernels():
            self.model(**kwargs)
        self._count(forward_passes=1, tokens_encoded=len(ids), tokens_padded=len(ids), prefix_tokens=len(ids))
        kv = self._shareable_kv(cache, len(ids))
        if kv is None:  # this model's cache cannot be shared: score without reuse from now on
            self._prefix_supported = False
            return None
        return _SharedPrefix(len(ids), _SharedPrefixCache(kv))

    @staticmethod
    def _shareable_kv(cache: Any, length: int) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
        """Each layer's (keys, values) over the prefix, or None where a layer holds something else
        (linear attention, recurrent state) or fewer positions (a sliding window)."""
        kv: list[tuple[torch.Tensor, torch.Tensor]] = []
        for layer in getattr(cache, "layers", []):
            keys, values = getattr(layer, "keys", None), getattr(layer, "values", None)
            if not (isinstance(keys, torch.Tensor) and isinstance(values, torch.Tensor)) or keys.shape[-2] != length:
                return None
            kv.append((keys, values))
        return kv or None

    def _forward_packed(
        self, batch: list[_Unit], prefix: _SharedPrefix | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probs of every target token of the batch and whether it is the argmax, row-major."""
        n, width = len(batch), max(u.length for u in batch)
        n_prefix = prefix.length if prefix is not None else 0
        dev = self.device
        ids = torch.full((n, width), int(batch[0].ids[0]), dtype=torch.long)
        pos = torch.zeros((n, width), dtype=torch.long)
        seg = torch.full((n, width), -1, dtype=torch.long)
        keep = torch.zeros((n, width), dtype=torch.bool)
        targets: list[int] = []
        flat_rows: list[int] = []
        flat_cols: list[int] = []
        for r, unit in enumerate(batch):
            length = unit.length
            ids[r, :length] = torch.tensor(unit.ids, dtype=torch.long)
            pos[r, :length] = torch.tensor(unit.positions, dtype=torch.long)
            seg[r, :length] = torch.tensor(unit.segments, dtype=torch.long)
            keep[r, unit.scored] = True
            flat_rows += [r] * len(unit.scored)
            flat_cols += unit.scored
            targets += unit.targets
        # allowed[b, q, k]: causal, and k is context or in q's own continuation; padding sees itself
        idx = torch.arange(width)
        causal = idx[None, :, None] >= idx[None, None, :]
        seg_q, seg_k = seg[:, :, None], seg[:, None, :]
        allowed = causal & (seg_q >= 0) & (seg_k >= 0) & ((seg_k == 0) | (seg_k == seg_q))
        allowed |= torch.eye(width, dtype=torch.bool)[None]
        if prefix is not None:  # the cached prefix comes first in the keys: every real token sees all of it
            allowed = torch.cat([(seg_q >= 0).expand(n, width, n_prefix), allowed], dim=-1)
        mask = torch.zeros((n, 1, width, n_prefix + width), dtype=self.dtype)
        mask.masked_fill_(~allowed[:, None], torch.finfo(self.dtype).min)
        self._count(forward_passes=1, tokens_encoded=sum(u.length for u in batch), tokens_padded=n * width)

        kwargs: dict[str, Any] = {
            "input_ids": ids.to(dev),
            "attention_mask": mask.to(dev),
            "position_ids": pos.to(dev),
            "use_cache": False,
        }
        if prefix is not None:
            kwargs[self._cache_arg] = prefix.cache
            kwargs["use_cache"] = True
        if self._bool_logits_to_keep:
            kwargs["logits_to_keep"] = keep.to(dev)
        with torch.inference_mode(), self._attention_kernels():
            logits = self.model(**kwargs).logits
            if self._bool_logits_to_keep:
                # the kept positions come back flattened in row-major order: a position's index
                # there is the number of kept positions before it (the context's last position is
                # kept once but predicts the first token of every choice)
                logits = logits.reshape(-1, logits.shape[-1])
                rank = keep.flatten().cumsum(0) - 1
                gather = rank[torch.tensor(flat_rows) * width + torch.tensor(flat_cols)].to(dev)
                return self._score_logits(logits, torch.tensor(targets, device=dev), gather)
            picked = logits[torch.tensor(flat_rows, device=dev), torch.tensor(flat_cols, device=dev)]
            return self._score_logits(picked, torch.tensor(targets, device=dev))

    def _attention_kernels(self) -> contextlib.AbstractContextManager[Any]:
        """On CUDA, SDPA without cuDNN: cuDNN plans anew for every batch shape, and our shapes all
        differ (measured on an H100, 500 ARC-Easy questions from the command line: 138 q/s with
        cuDNN allowed, 258 q/s without; benchmarks/RESULTS.md)."""
        if self.device.type != "cuda" or self.attn_implementation != "sdpa":
            return contextlib.nullcontext()
        from torch.nn.attention import SDPBackend, sdpa_kernel

        return sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH])

    @staticmethod
    def _score_logits(
        logits: torch.Tensor, targets: torch.Tensor, rows: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """log p(target), and whether the target holds the row's top logit.

        ``rows`` maps each target to its row of ``logits`` (a context's last position predicts
        the first token of every choice): each row is normalized once, and the top-logit test is
        a max, not an argmax (which was slower than the log-softmax itself on CPU).
        """
        logits = logits.float()
        logprobs = torch.log_softmax(logits, dim=-1)
        top = logits.amax(dim=-1)
        if rows is None:
            rows = torch.arange(logits.shape[0], device=logits.device)
        chosen = logprobs[rows, targets]
        is_max = logits[rows, targets] >= top[rows]
        return chosen.double().cpu(), is_max.cpu()

    def loglikelihood(
        self, questions: Sequence[MCQuestion], progress: Progress | None = None
    ) -> list[list[ContinuationScore]]:
        units, results = self._units(questions)
        self._count_request(questions, units)
        remaining = [0] * len(questions)
        for unit in units:
            remaining[unit.question] += 1
        done_early = [qi for qi, n in enumerate(remaining) if n == 0]
        if progress and done_early:
            progress(len(done_early))
        for prefix_ids, rows, originals in self._plan(units):
            prefix = self._encode_prefix(prefix_ids) if prefix_ids and self._prefix_supported else None
            if prefix is None:
                rows = originals
            for batch in self._batches(rows, prefix.length if prefix else 0):
                logprobs, is_max = self._forward_packed(batch, prefix)
                offset = 0
                finished = 0
                for unit in batch:
                    for ci, cont in unit.choices:
                        k = len(cont)
                        lp = float(logprobs[offset : offset + k].sum())
                        greedy = bool(is_max[offset : offset + k].all())
                        results[unit.question][ci] = ContinuationScore(lp, k, greedy)
                        offset += k
                    remaining[unit.question] -= 1
                    finished += remaining[unit.question] == 0
                if progress and finished:
                    progress(finished)
            del prefix  # its keys and values go before the next group's
        return [[s for s in row if s is not None] for row in results]

    def _plan(self, units: list[_Unit]) -> list[tuple[list[int], list[_Unit], list[_Unit]]]:
        """(shared prefix, rows on top of it, the same rows whole) per group; the rows sharing nothing
        come first, with prefix []."""
        if not (self.prefix_reuse and self._prefix_supported):
            return [([], units, units)]
        work: list[tuple[list[int], list[_Unit], list[_Unit]]] = []
        grouped: set[int] = set()
        for group in group_by_prefix([u.context for u in units], MIN_SHARED_PREFIX):
            members = [units[i] for i in group.members]
            # each row keeps at least one context token: its last one predicts the first continuation token
            n_prefix = min(group.prefix_len, *(len(u.context) - 1 for u in members))
            if n_prefix < MIN_SHARED_PREFIX:
                continue
            rows = []
            for unit in members:
                row = _Unit(unit.question, unit.context[n_prefix:], unit.choices, offset=n_prefix)
                row.pack()
                rows.append(row)
            work.append((members[0].context[:n_prefix], rows, members))
            grouped.update(group.members)
        self._count(prefix_groups=len(work))
        rest = [u for i, u in enumerate(units) if i not in grouped]
        return [([], rest, rest), *work] if rest else work

    def _count_request(self, questions: Sequence[MCQuestion], units: list[_Unit]) -> None:
        sequences = [unit.context + cont[:-1] for unit in units for _, cont in unit.choices]
        self._count(
            questions=len(questions),
            tokens_requested=sum(len(s) for s in sequences),
            tokens_packed=sum(u.length for u in units),
            tokens_unique=unique_tokens(sequences),
        )

    def _count(self, **counts: int) -> None:
        for key, value in counts.items():
            self._stats[key] += value

    def stats(self) -> dict[str, int]:
        """Work counters since the backend was made (see ``_STAT_KEYS``): tokens run vs tokens asked for."""
        return dict(self._stats)

    # ------------------------------------------------------------------ reference scorer

    def loglikelihood_reference(self, questions: Sequence[MCQuestion]) -> list[list[ContinuationScore]]:
        out: list[list[ContinuationScore]] = []
        for q in questions:
            row = []
            for continuation in q.continuations:
                context, cont = self.encode_pair(q.context, continuation)
                if not cont:
                    row.append(ContinuationScore(0.0, 0, True))
                    continue
                ctx = self._truncate(context, cont)
                inp = torch.tensor([ctx + cont[:-1]], dtype=torch.long, device=self.device)
                kwargs: dict[str, Any] = {"input_ids": inp, "use_cache": False}
                if self._bool_logits_to_keep:  # same numbers as slicing full logits, without the waste
                    kwargs["logits_to_keep"] = len(cont)
                with torch.inference_mode():
                    logits = self.model(**kwargs).logits[0]
                picked = logits[-len(cont) :]
                lp, is_max = self._score_logits(picked, torch.tensor(cont, device=self.device))
                row.append(ContinuationScore(float(lp.sum()), len(cont), bool(is_max.all())))
            out.append(row)
        return out

    # ------------------------------------------------------------------ generation

    def _prompt_ids(self, request: GenerationRequest) -> list[int]:
        if request.chat and getattr(self.tokenizer, "chat_template", None):
            tokenizer = self.tokenizer

            def render(messages: list[dict[str, str]]) -> str:
                return str(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))

            text = render_prefilled(render, request)
            return self._encode(text, special=False)
        return self._encode(request.flat_prompt())

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (self.tokenizer.eos_token_id, getattr(self.model.generation_config, "eos_token_id", None)):
            if isinstance(source, int):
                ids.add(source)
            elif isinstance(source, list | tuple):
                ids.update(int(x) for x in source)
        return ids

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        out: list[Generation] = []
        eos = self._eos_ids()
        rng = torch.Generator(device="cpu").manual_seed(self.seed)
        for request in requests:
            if request.seed is not None:  # a sample's own seed: the same draw whatever else is in the batch
                rng = torch.Generator(device="cpu").manual_seed(request.seed)
            try:
                out.append(self._generate_one(request, eos, rng))
            except (RuntimeError, ValueError) as exc:
                out.append(Generation(text="", error=f"{type(exc).__name__}: {exc}"))
        return out

    def _generate_one(self, request: GenerationRequest, eos: set[int], rng: torch.Generator) -> Generation:
        prompt_ids = self._prompt_ids(request)
        budget = max(0, min(request.max_tokens, self.max_length - len(prompt_ids)))
        start = time.perf_counter()
        ttft: float | None = None
        generated: list[int] = []
        text = ""
        stopped_by = None
        past, keep = self._reusable_prompt_cache(prompt_ids) if budget else (None, 0)
        with torch.inference_mode():
            inp = torch.tensor([prompt_ids[keep:]], dtype=torch.long, device=self.device)
            for _ in range(budget):
                outputs = self.model(input_ids=inp, use_cache=True, **{self._cache_arg: past})
                past = getattr(outputs, self._cache_arg)
                logits = outputs.logits[0, -1].float()
                if request.temperature > 0:
                    probs = torch.softmax(logits / request.temperature, dim=-1).cpu()
                    token = int(torch.multinomial(probs, 1, generator=rng))
                else:
                    token = int(logits.argmax())
                if ttft is None:  # the prompt has just been read: count it and keep its cache
                    ttft = time.perf_counter() - start
                    self._count(prompt_tokens=len(prompt_ids), prompt_tokens_encoded=len(prompt_ids) - keep)
                    self._keep_prompt_cache(prompt_ids, past)
                if token in eos:
                    stopped_by = "eos"
                    break
                generated.append(token)
                text = self.tokenizer.decode(generated, skip_special_tokens=True)
                hits = [i for i in (text.find(s) for s in request.stop if s) if i >= 0]
                if hits:
                    text = text[: min(hits)]
                    stopped_by = "stop"
                    break
                inp = torch.tensor([[token]], dtype=torch.long, device=self.device)
        latency = time.perf_counter() - start
        return Generation(
            text=text,
            input_tokens=len(prompt_ids),
            output_tokens=len(generated),
            latency_s=latency,
            ttft_s=ttft,
            extra={"stopped_by": stopped_by or "max_tokens"},
        )

    def _reusable_prompt_cache(self, prompt_ids: list[int]) -> tuple[Any, int]:
        """The previous prompt's cache cut back to what it shares with this prompt (few-shot
        exemplars, a system prompt), and that length; (None, 0) when nothing is shared or reuse is off.
        At least one token is left to run, for the logits of the first generated token."""
        held, self._prompt_cache = self._prompt_cache, None
        if held is None or not self.prefix_reuse:
            return None, 0
        previous, cache = held
        keep = min(common_prefix_len(previous, prompt_ids), len(prompt_ids) - 1)
        if keep <= 0:
            return None, 0
        extra = cache.get_seq_length() - keep
        if extra > 0:  # transformers 5 takes only "drop this many" (negative); older ones take both
            cache.crop(-extra)
        return cache, keep

    def _keep_prompt_cache(self, prompt_ids: list[int], cache: Any) -> None:
        """Hold the cache as it stands after the prompt, if it is plain keys and values at every layer
        (not a sliding window, not a recurrent state). Generated tokens are appended to the same
        object; ``crop`` drops them again when the next prompt is taken."""
        if self.prefix_reuse and self._shareable_kv(cache, len(prompt_ids)) is not None:
            self._prompt_cache = (list(prompt_ids), cache)


# RMSNorm classes whose forward is exactly x * rsqrt(mean(x^2) + eps) * weight (Gemma's 1 + weight is not)
_PLAIN_RMS_NORMS = frozenset({"LlamaRMSNorm", "MistralRMSNorm", "Qwen2RMSNorm", "Qwen3RMSNorm", "MixtralRMSNorm"})


def _fuse_rms_norms(model: Any) -> int:
    """Run the plain RMSNorm layers of a float32 model through torch's fused ``F.rms_norm``.

    The Python version makes five passes over the activations (cast, square, mean, scale, weight);
    on a 2-core CPU that was 9% of SmolLM2's forward time. Same formula in float32 (differences at
    float rounding, ~1e-7 relative). Patched per instance, so other models in the process are untouched.
    """
    fn = getattr(torch.nn.functional, "rms_norm", None)
    if fn is None:
        return 0
    count = 0
    for module in model.modules():
        if type(module).__name__ not in _PLAIN_RMS_NORMS or not hasattr(module, "variance_epsilon"):
            continue
        weight, eps = module.weight, float(module.variance_epsilon)

        def forward(hidden: torch.Tensor, _w: torch.Tensor = weight, _eps: float = eps) -> torch.Tensor:
            return cast(torch.Tensor, fn(hidden, (hidden.shape[-1],), _w, _eps))

        module.forward = forward
        count += 1
    return count


def _version_at_least(version: str, wanted: tuple[int, ...]) -> bool:
    parts: list[int] = []
    for piece in version.split(".")[: len(wanted)]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts) >= wanted
