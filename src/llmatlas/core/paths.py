"""Where llmatlas keeps user files: ``$LLMATLAS_HOME`` or ``$XDG_CONFIG_HOME/llmatlas`` (~/.config)."""

from __future__ import annotations

import os
from pathlib import Path


def user_dir() -> Path:
    """The user directory; tests point ``LLMATLAS_HOME`` at a temporary folder."""
    home = os.environ.get("LLMATLAS_HOME")
    if home:
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / "llmatlas"


def user_models_dir() -> Path:
    """User catalog overrides and imported models: ``<user dir>/models/*.yaml``."""
    return user_dir() / "models"


def cache_dir() -> Path:
    """Files derived from others and safe to delete (a model's f32 copy): ``$LLMATLAS_CACHE``, else
    ``$XDG_CACHE_HOME/llmatlas`` (~/.cache). Apart from the user dir, so tests that isolate it
    still share what was derived once."""
    env = os.environ.get("LLMATLAS_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "llmatlas"
