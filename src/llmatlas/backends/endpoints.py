"""The user's own model endpoints: ``<user dir>/endpoints.yaml``, a name for each model SPEC.

``llmatlas serve`` offers these (and the embedded model) in the playground and arena. API keys
stay in the environment: an entry names the variable that holds its key (``api_key_env``), the
file never holds a key, and neither does anything sent to the browser::

    endpoints:
      gpt-4.1-mini:
        spec: openai:gpt-4.1-mini
        api_key_env: OPENAI_API_KEY
      local-qwen: "openai:Qwen2.5-7B-Instruct?base_url=http://127.0.0.1:8001/v1"
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from llmatlas.backends.registry import parse_spec
from llmatlas.core.errors import InputError
from llmatlas.core.paths import user_dir
from llmatlas.core.validation import validate_located
from llmatlas.core.yamlparse import read_yaml_mapping

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
EXAMPLE = """endpoints:
  gpt-4.1-mini:
    spec: openai:gpt-4.1-mini
    api_key_env: OPENAI_API_KEY      # the variable that holds the key, never the key
  local-qwen: "openai:Qwen2.5-7B-Instruct?base_url=http://127.0.0.1:8001/v1"
"""


def endpoints_path() -> Path:
    return user_dir() / "endpoints.yaml"


class EndpointEntry(BaseModel):
    """One endpoint in its long form: the SPEC and the variable holding its API key."""

    model_config = ConfigDict(extra="forbid")

    spec: str = Field(min_length=1, description="A model SPEC, as `llmatlas eval --model` takes it.")
    api_key_env: str | None = Field(None, description="Environment variable holding the API key.")

    @field_validator("spec")
    @classmethod
    def _spec(cls, v: str) -> str:
        try:
            parse_spec(v)  # an unknown backend or a malformed spec fails here, at the file's line
        except InputError as exc:
            raise ValueError(str(exc)) from None
        query = v.partition("?")[2]
        if any(k == "api_key" for k, _ in parse_qsl(query)):
            raise ValueError("API keys are read from the environment: name the variable with api_key_env")
        return v

    @field_validator("api_key_env")
    @classmethod
    def _env(cls, v: str | None) -> str | None:
        if v is not None and not ENV_NAME.match(v):
            raise ValueError(f"'{v}' is not an environment variable name")
        return v


class EndpointsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoints: dict[str, EndpointEntry] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        """``name: SPEC`` is short for ``name: {spec: SPEC}``; names are checked here too."""
        if not isinstance(data, dict) or not isinstance(data.get("endpoints"), dict):
            return data
        for name in data["endpoints"]:
            if not re.match(NAME, str(name)):
                raise ValueError(f"endpoint name '{name}' must be letters, digits, '.', '_' or '-' (no ':')")
        short = {k: {"spec": v} if isinstance(v, str) else v for k, v in data["endpoints"].items()}
        return {**data, "endpoints": short}


class Endpoint(BaseModel):
    """A configured model: its name and the SPEC that loads it (with the key's variable, not the key)."""

    name: str
    spec: str


def _full_spec(entry: EndpointEntry) -> str:
    if entry.api_key_env is None:
        return entry.spec
    return f"{entry.spec}{'&' if '?' in entry.spec else '?'}api_key_env={entry.api_key_env}"


def load_endpoints(path: str | Path | None = None) -> list[Endpoint]:
    """The configured endpoints, in file order; none when the file does not exist."""
    p = Path(path) if path is not None else endpoints_path()
    if not p.exists():
        return []
    located = read_yaml_mapping(p, "endpoints file", "endpoints: {NAME: SPEC}")
    parsed = validate_located(EndpointsFile, located.data, located, p)
    return [Endpoint(name=name, spec=_full_spec(entry)) for name, entry in parsed.endpoints.items()]
