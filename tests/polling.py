"""Waiting for something that happens in another process or thread."""

from __future__ import annotations

import subprocess
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


def stop_process(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """Ask a server the test started to stop; kill it if it does not within ``timeout``."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
