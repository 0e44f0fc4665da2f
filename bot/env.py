"""Typed readers of environment variables, shared by every settings module.

A malformed value fails loudly with the variable's name instead of silently
falling back to the default, so a typo in a deployment is seen at start-up.
"""

from __future__ import annotations

import os
from typing import Tuple


def env_str(name: str, default: str = "") -> str:
    """The stripped value of ``name``, or ``default`` when unset or blank."""
    return os.environ.get(name, "").strip() or default


def env_int(name: str, default: int) -> int:
    """An integer variable; raises ValueError naming the variable when malformed."""
    raw = os.environ.get(name, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError as error:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from error


def env_float(name: str, default: float) -> float:
    """A number variable; raises ValueError naming the variable when malformed."""
    raw = os.environ.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError as error:
        raise ValueError(f"environment variable {name} must be a number, got {raw!r}") from error


def env_bool(name: str, default: bool) -> bool:
    """A yes/no variable: 1, true, yes and on (any case) mean True."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    return raw in ("1", "true", "yes", "on")


def env_list(name: str, default: str) -> Tuple[str, ...]:
    """A comma-separated variable as a tuple of non-empty, stripped items."""
    return tuple(item.strip() for item in env_str(name, default).split(",") if item.strip())
