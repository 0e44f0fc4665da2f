"""What every Redis pub/sub subscriber of the Rasa process needs (web chat frames, model sync)."""

from __future__ import annotations

import time
from typing import Any


async def confirm_subscription(pubsub: Any, timeout: float = 10.0) -> None:
    """Wait for Redis to confirm a subscription: whatever is published after it arrives.

    Args:
        pubsub: a ``redis.asyncio`` PubSub that has just sent SUBSCRIBE.
        timeout: seconds to wait for the confirmation.

    Raises:
        TimeoutError: no confirmation came (the caller subscribes again).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = await pubsub.get_message(timeout=1.0)
        if message is not None and message.get("type") == "subscribe":
            return
    raise TimeoutError("no subscription confirmation from Redis")
