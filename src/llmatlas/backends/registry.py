"""Backends by name, imported lazily so a missing optional dependency only matters when used.

A model SPEC is ``backend:target`` (``llama:path/model.gguf``, ``hf:path``, ``openai:gpt-4o``,
``mock:name``) or the alias ``smollm2`` for the embedded default model. Backend options follow the
target as a query string: ``llama:model.gguf?threads=1&n_ctx=4096``, ``hf:DIR?dtype=bfloat16``.
"""

from __future__ import annotations

import importlib
import re
from typing import Any
from urllib.parse import parse_qsl

from llmatlas.backends.base import Backend
from llmatlas.backends.embedded import PACKAGED_CATALOG_IDS
from llmatlas.core.errors import InputError, LlmatlasError

# name -> (module, class, pip hint)
BACKENDS: dict[str, tuple[str, str, str]] = {
    "mock": ("llmatlas.backends.mock", "MockBackend", ""),
    "llama": ("llmatlas.backends.llama", "LlamaBackend", "pip install 'llmatlas[llama]'"),
    "hf": ("llmatlas.backends.hf", "HFBackend", "pip install 'llmatlas[hf]'"),
    "openai": ("llmatlas.backends.openai", "OpenAIBackend", "pip install httpx"),
    "anthropic": ("llmatlas.backends.anthropic", "AnthropicBackend", "pip install httpx"),
}

ALIASES = {alias: ("llama", alias) for alias in PACKAGED_CATALOG_IDS}  # `smollm2` = `llama:smollm2`


_USERINFO = re.compile(r"(?<=://)[^/@?#&\s]*@")


def public_spec(spec: str) -> str:
    """The spec as it may be shown or stored: credentials in a URL (``http://user:KEY@host``) removed."""
    return _USERINFO.sub("", spec)


def parse_spec(spec: str) -> tuple[str, str]:
    """'llama:x.gguf' -> ('llama', 'x.gguf'); aliases expand; errors list the backends."""
    s = spec.strip()
    head, sep, query = s.partition("?")
    if head in ALIASES:
        name, target = ALIASES[head]
        return name, target + sep + query
    name, sep, target = s.partition(":")
    if not sep or not target:
        raise InputError(
            f"model spec '{spec}' must be BACKEND:TARGET (backends: {', '.join(BACKENDS)}) or 'smollm2'",
            field="model",
        )
    if name not in BACKENDS:
        raise InputError(f"unknown backend '{name}' in '{spec}'; known: {', '.join(BACKENDS)}", field="model")
    return name, target


def load_backend(spec: str, **options: Any) -> Backend:
    """Instantiate the backend a SPEC names, with a pip hint when its dependency is missing."""
    name, target = parse_spec(spec)
    if name != "mock" and "?" in target:  # llama:model.gguf?threads=1&n_ctx=4096
        target, _, query = target.partition("?")
        options = dict(parse_qsl(query)) | options
    module_name, cls_name, hint = BACKENDS[name]
    try:
        module = importlib.import_module(module_name)
        backend: Backend = getattr(module, cls_name)(target, **options)  # backends import lazily here too
    except ImportError as exc:
        if exc.name and exc.name.startswith("llmatlas"):
            raise LlmatlasError(f"the '{name}' backend is not available in this version of llmatlas") from exc
        raise LlmatlasError(f"the '{name}' backend needs '{exc.name}': {hint}") from exc
    return backend
