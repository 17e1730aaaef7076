"""Errors that reach the user as one clear line (exit code 2), never as a traceback."""

from __future__ import annotations

from pathlib import Path


class LlmatlasError(Exception):
    """Base of every error the CLI reports as a one-line message with exit code 2."""

    exit_code = 2


class InputError(LlmatlasError):
    """Bad user input: a file, a line and a field where known."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        self.message = message
        super().__init__(self.render())

    def render(self) -> str:
        where = ""
        if self.path:
            where = self.path + (f":{self.line}" if self.line else "")
        parts = [p for p in (where, f"field '{self.field}'" if self.field else "") if p]
        prefix = ", ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


class UnknownModelError(LlmatlasError):
    """A model id that is not in the catalog; carries near matches to suggest."""

    def __init__(self, model_id: str, suggestions: list[str]) -> None:
        self.model_id = model_id
        self.suggestions = suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown model '{model_id}'.{hint} (`llmatlas models` lists them)")
