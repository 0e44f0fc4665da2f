"""Stopping background tasks within a bounded time.

redis-py's asyncio client can turn the cancellation of a blocking read into a
connection error; a worker loop that retries on errors would then swallow the
cancellation and an unbounded ``await task`` would hang shutdown (and tests)
forever. Workers therefore also watch a stop flag, and everyone who stops a task
waits a bounded time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Optional

logger = logging.getLogger(__name__)


async def stop_task(task: Optional[asyncio.Task], grace_seconds: float = 5.0) -> bool:
    """Cancel ``task`` and wait at most ``grace_seconds`` for it to finish.

    Args:
        task: the task to stop; ``None`` or a finished task is fine.
        grace_seconds: how long to wait after cancelling.

    Returns:
        True when the task has finished; False when it is still running (logged).
    """
    if task is None:
        return True
    task.cancel()
    done, _pending = await asyncio.wait({task}, timeout=grace_seconds)
    if not done:
        logger.warning("task %s did not stop within %.1f s", task.get_name(), grace_seconds)
        return False
    if not task.cancelled() and task.exception() is not None:
        logger.debug("task %s ended with %r", task.get_name(), task.exception())
    return True
