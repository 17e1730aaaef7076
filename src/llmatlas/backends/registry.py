"""Backends by name, imported lazily so a missing optional dependency only matters when used.

A model SPEC is ``backend:target`` (``llama:path/model.gguf``, ``hf:path``, ``openai:gpt-4o``,
``mock:name``) or the alias ``smollm2`` for the embedded default model. Backend options follow the
target as a query string: ``llama:model.gguf?threads=1&n_ctx=4096``, ``hf:DIR?dtype=bfloat16``.

Third-party backends register through the ``llmatlas.backends`` entry-point group: the entry
point's name is the backend's name and it loads to a :class:`Backend` subclass (or a factory
called as ``factory(target, **options)`` that returns a Backend). Plugins are looked up only when
a spec names a backend that is not built in, or when backends are listed; a plugin cannot replace
a built-in backend (it is skipped with a :class:`PluginWarning`), and one that fails to load is an
:class:`InputError` naming it when it is asked for, never an error at import of llmatlas.
"""

from __future__ import annotations

import importlib
import re
import warnings
from collections.abc import Callable
from importlib import metadata
from typing import Any
from urllib.parse import parse_qsl

from llmatlas.backends.base import Backend
from llmatlas.backends.embedded import PACKAGED_CATALOG_IDS
from llmatlas.backends.options import BackendOptions, redact_userinfo
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

ENTRY_POINT_GROUP = "llmatlas.backends"
_PLUGIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

BackendFactory = Callable[..., Backend]


class PluginWarning(UserWarning):
    """A backend plugin that is ignored (its name is built in, or not usable in a spec)."""


def public_spec(spec: str) -> str:
    """The spec as it may be shown or stored: credentials in a URL (``http://user:KEY@host``) removed."""
    return redact_userinfo(spec)


def plugins() -> dict[str, metadata.EntryPoint]:
    """The installed ``llmatlas.backends`` entry points by name (built-in names skipped, warned)."""
    found: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in BACKENDS:
            warnings.warn(
                f"backend plugin '{ep.name}' ({ep.value}) ignored: '{ep.name}' is a built-in backend",
                PluginWarning,
                stacklevel=2,
            )
        elif not _PLUGIN_NAME.fullmatch(ep.name):
            warnings.warn(
                f"backend plugin {ep.name!r} ({ep.value}) ignored: the name cannot be written in a model spec",
                PluginWarning,
                stacklevel=2,
            )
        elif ep.name in found and found[ep.name].value != ep.value:
            warnings.warn(
                f"backend plugin '{ep.name}' is defined twice ({found[ep.name].value}, {ep.value}); the first is used",
                PluginWarning,
                stacklevel=2,
            )
        else:
            found.setdefault(ep.name, ep)
    return found


def backend_names() -> list[str]:
    """Every backend a spec may name: the built-in ones, then installed plugins (sorted)."""
    return [*BACKENDS, *sorted(plugins())]


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
            f"model spec '{public_spec(spec)}' must be BACKEND:TARGET (backends: {', '.join(BACKENDS)}) or 'smollm2'",
            field="model",
        )
    if name not in BACKENDS and name not in plugins():
        known = ", ".join(backend_names())
        raise InputError(f"unknown backend '{name}' in '{public_spec(spec)}'; known: {known}", field="model")
    return name, target


def _load_plugin(name: str) -> BackendFactory:
    ep = plugins().get(name)
    if ep is None:
        raise InputError(f"unknown backend '{name}'; known: {', '.join(backend_names())}", field="model")
    try:
        obj = ep.load()
    except Exception as exc:  # anything a third-party module raises on import
        message = f"backend plugin '{name}' ({ep.value}) failed to load: {_one_line(exc)}"
        raise InputError(message, field="model") from None
    if not callable(obj) or (isinstance(obj, type) and not issubclass(obj, Backend)):
        what = obj.__name__ if isinstance(obj, type) else type(obj).__name__
        raise InputError(
            f"backend plugin '{name}' ({ep.value}) is not a Backend subclass or a factory (got {what})", field="model"
        )
    factory: BackendFactory = obj
    return factory


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def backend_factory(name: str) -> BackendFactory:
    """The class (or a plugin's factory) that builds backend ``name``; imports it on first use."""
    if name not in BACKENDS:
        return _load_plugin(name)
    module_name, cls_name, _ = BACKENDS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise _missing(name, exc) from exc
    cls: type[Backend] = getattr(module, cls_name)
    return cls


def _missing(name: str, exc: ImportError) -> LlmatlasError:
    """A backend whose import failed: the package it needs and how to install it."""
    if name in BACKENDS and exc.name and exc.name.startswith("llmatlas"):
        return LlmatlasError(f"the '{name}' backend is not available in this version of llmatlas")
    hint = BACKENDS[name][2] if name in BACKENDS else ""
    return LlmatlasError(f"the '{name}' backend needs '{exc.name}'" + (f": {hint}" if hint else ""))


def options_model(name: str) -> type[BackendOptions] | None:
    """The options model of backend ``name`` (None for a plugin factory that declares none)."""
    built = backend_factory(name)
    model = getattr(built, "options_model", None)
    return model if isinstance(model, type) and issubclass(model, BackendOptions) else None


def load_backend(spec: str, **options: Any) -> Backend:
    """Instantiate the backend a SPEC names, with a pip hint when its dependency is missing."""
    name, target = parse_spec(spec)
    if name != "mock" and "?" in target:  # llama:model.gguf?threads=1&n_ctx=4096
        target, _, query = target.partition("?")
        options = dict(parse_qsl(query)) | options
    factory = backend_factory(name)
    try:
        backend = factory(target, **options)  # backends import lazily here too
    except ImportError as exc:
        raise _missing(name, exc) from exc
    except LlmatlasError:
        raise
    except Exception as exc:
        if name in BACKENDS:
            raise
        raise InputError(f"backend plugin '{name}' failed: {_one_line(exc)}", field="model") from None
    if not isinstance(backend, Backend):
        raise InputError(f"backend plugin '{name}' returned {type(backend).__name__}, not a Backend", field="model")
    return backend
