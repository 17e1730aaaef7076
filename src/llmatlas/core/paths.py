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
