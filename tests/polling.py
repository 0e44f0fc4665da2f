"""Waiting for something that happens in another process or thread."""

from __future__ import annotations

import time
from typing import Any, Callable


def poll_until(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Call ``condition`` until it returns something truthy and return that.

    Raises:
        AssertionError: when ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
