"""A local server that answers like vLLM's OpenAI-compatible ``/v1/completions``, backed by a real model.

No vLLM wheel runs on this CPU-only machine, so the wire format is recorded from vLLM's own
``vllm/entrypoints/openai/serving_completion.py`` (``request_output_to_completion_response`` and
``_create_completion_logprobs``) and the numbers come from the embedded SmolLM2 through
llama-cpp-python. What the recording keeps, because clients trip on it:

* ``echo: true`` with ``logprobs: N`` returns the prompt's tokens then the generated ones; the
  first prompt token has ``token_logprobs`` and ``top_logprobs`` ``None``;
* each token is decoded on its own (``tokenizer.decode(id)``), so a token holding part of a UTF-8
  character reads "�", and ``text_offset`` is the running sum of those decoded lengths, starting
  at 0 — not character positions in ``text`` once such a token occurs;
* log-probs are clamped at -9999.0; ``top_logprobs`` holds the token and the N best (at most
  N + 1 entries, keyed by decoded text);
* ``max_tokens: 0`` with echo returns the prompt alone; ``prompt_logprobs`` (vLLM's extra) is the
  per-position ``{token_id: {logprob, rank, decoded_token}}`` list;
* ``choices[].stop_reason``, ``prompt_token_ids``, ``token_ids`` and ``kv_transfer_params`` exist
  (None unless asked); ``usage`` counts prompt and completion tokens.

``faults`` (status codes) are answered first, one per request, with ``Retry-After: 0``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from tests.fake_servers import serve


class VLLMFake:
    def __init__(self, model_path: Path, name: str = "HuggingFaceTB/SmolLM2-135M-Instruct", delay: float = 0.0) -> None:
        import llama_cpp

        self.name = name
        self.delay = delay
        self.llm = llama_cpp.Llama(
            model_path=str(model_path), n_ctx=2048, n_batch=512, logits_all=True, n_threads=1, verbose=False
        )
        self.lock = threading.Lock()  # one evaluation at a time (the model is not thread-safe)
        self.faults: list[int] = []
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._count = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- the model ---------------------------------------------------------------------------

    def _decode(self, token: int) -> str:
        return self.llm.detokenize([token]).decode("utf-8", errors="replace")

    def _forward(self, ids: list[int]) -> np.ndarray:
        """Log-softmax of the logits at every position of ``ids``."""
        self.llm.reset()
        self.llm.eval(ids)
        logits = np.asarray(self.llm.scores[: len(ids)], dtype=np.float64)
        shifted = logits - logits.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt = body["prompt"]
        ids = list(prompt) if isinstance(prompt, list) else self.llm.tokenize(prompt.encode(), add_bos=True)
        text_prompt = prompt if isinstance(prompt, str) else "".join(self._decode(t) for t in ids)
        max_tokens = int(body.get("max_tokens", 16))
        n_top = body.get("logprobs")
        with self.lock:
            lsm = self._forward(ids)
            generated: list[int] = []
            out_rows: list[np.ndarray] = []
            last = lsm[-1]
            for _ in range(max_tokens):  # greedy: temperature is 0 in every test
                generated.append(int(np.argmax(last)))
                out_rows.append(last)
                if len(generated) < max_tokens:
                    last = self._forward(ids + generated)[-1]
        # per position: the distribution that predicted the token there (None for the first)
        prompt_dists: list[np.ndarray | None] = [None, *[lsm[i - 1] for i in range(1, len(ids))]]
        gen_text = "".join(self._decode(t) for t in generated)
        echo = bool(body.get("echo"))
        if echo:
            token_ids = ids if max_tokens == 0 else ids + generated
            dists = prompt_dists if max_tokens == 0 else [*prompt_dists, *out_rows]
            text = text_prompt if max_tokens == 0 else text_prompt + gen_text
        else:
            token_ids, dists, text = generated, list[np.ndarray | None](out_rows), gen_text
        logprobs = self._logprobs(token_ids, dists, int(n_top)) if n_top is not None else None
        prompt_lps = None
        if body.get("prompt_logprobs") is not None:
            k = int(body["prompt_logprobs"])
            prompt_lps = [
                None if d is None else self._ranked(d, tok, k) for tok, d in zip(ids, prompt_dists, strict=True)
            ]
        return {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": body.get("model", self.name),
            "choices": [
                {
                    "index": 0,
                    "text": text,
                    "logprobs": logprobs,
                    "finish_reason": "length",
                    "stop_reason": None,
                    "prompt_logprobs": prompt_lps,
                    "prompt_token_ids": None,
                    "token_ids": None,
                }
            ],
            "usage": {
                "prompt_tokens": len(ids),
                "total_tokens": len(ids) + len(generated),
                "completion_tokens": len(generated),
                "prompt_tokens_details": None,
            },
            "kv_transfer_params": None,
        }

    def _ranked(self, dist: np.ndarray, token: int, k: int) -> dict[str, dict[str, Any]]:
        order = np.argsort(-dist)
        rank = int(np.where(order == token)[0][0]) + 1
        entries = {token: rank, **{int(t): i + 1 for i, t in enumerate(order[:k])}}
        return {
            str(t): {"logprob": max(float(dist[t]), -9999.0), "rank": r, "decoded_token": self._decode(t)}
            for t, r in entries.items()
        }

    def _logprobs(self, token_ids: list[int], dists: list[np.ndarray | None], n_top: int) -> dict[str, Any]:
        offsets: list[int] = []
        lps: list[float | None] = []
        toks: list[str] = []
        tops: list[dict[str, float] | None] = []
        last = 0
        for tok, dist in zip(token_ids, dists, strict=True):
            piece = self._decode(tok)
            toks.append(piece)
            if dist is None:
                lps.append(None)
                tops.append(None)
            else:
                lps.append(max(float(dist[tok]), -9999.0))
                best = [int(t) for t in np.argsort(-dist)[:n_top]]
                top = {piece: max(float(dist[tok]), -9999.0)}
                for t in best:
                    top.setdefault(self._decode(t), max(float(dist[t]), -9999.0))
                tops.append(dict(list(top.items())[: n_top + 1]))
            offsets.append(0 if not offsets else offsets[-1] + last)
            last = len(piece)
        return {"text_offset": offsets, "token_logprobs": lps, "tokens": toks, "top_logprobs": tops}

    # --- the server --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length", "0")))
        body = json.loads(raw) if raw else {}
        with self._count:
            self.requests.append(body)
            fault = self.faults.pop(0) if self.faults else None
        if self.delay:
            time.sleep(self.delay)
        if fault is not None:
            self._send(h, fault, {"object": "error", "message": "busy", "type": "ServiceUnavailable", "code": fault})
            return
        if h.path != "/v1/completions":
            self._send(h, 404, {"object": "error", "message": f"no route {h.path}", "code": 404})
            return
        self._send(h, 200, self.complete(body))

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        if status in (429, 503):
            h.send_header("Retry-After", "0")
        h.end_headers()
        h.wfile.write(data)

    @contextmanager
    def serving(self) -> Iterator[VLLMFake]:
        server = serve(self, self._handle, self._count)
        self._server = server
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
