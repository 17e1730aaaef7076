"""Errors that reach the user as one clear line (exit code 2), never as a traceback.

A message names a setting with :func:`option` rather than a command-line flag: the library and the
web say ``'judge'``, the CLI says ``--judge`` (:meth:`LlmatlasError.for_cli`). The library does not
know which front end called it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use marks around a setting's name inside a message
_OPTION = re.compile(f"{_OPEN}([a-z0-9_]+){_CLOSE}")


def option(name: str) -> str:
    """A setting named in a message: ``'name'`` in the library and the web, ``--name`` on the command line."""
    return f"{_OPEN}{name}{_CLOSE}"


def render_options(text: str, style: Callable[[str], str]) -> str:
    return _OPTION.sub(lambda m: style(m.group(1)), text)


def cli_flag(name: str) -> str:
    return "--" + name.replace("_", "-")


class LlmatlasError(Exception):
    """Base of every error the CLI reports as a one-line message with exit code 2."""

    exit_code = 2

    def __str__(self) -> str:
        return render_options(super().__str__(), lambda name: f"'{name}'")

    def for_cli(self) -> str:
        """The message with settings named as the command line's flags."""
        return render_options(super().__str__(), cli_flag)


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
        # the field is named after a file's place ("req.yaml:4, field 'budget'"); for a command-line
        # argument the message says what was wrong ("no run 'abc'"), and ``field`` stays for the web's errors
        parts = [p for p in (where, f"field '{self.field}'" if self.field and where else "") if p]
        prefix = ", ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


class UnknownModelError(LlmatlasError):
    """A model id that is not in the catalog; carries near matches to suggest."""

    def __init__(self, model_id: str, suggestions: list[str]) -> None:
        self.model_id = model_id
        self.suggestions = suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown model '{model_id}'.{hint} (`llmatlas models` lists them)")
