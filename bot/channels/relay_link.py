"""How the channels reach the handoff relay (``bot/channels/relay.py``, part A).

The relay decides whether a conversation is with a person. The channels call it
through these few functions so that an unreachable handoff service or Redis
never costs a customer message: the message then simply goes to Rasa, which
records it (and answers it unless the conversation is paused).
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, Optional

from bot.channels.relay import DeliveryRefused, HandoffRelay

logger = logging.getLogger(__name__)

__all__ = ["DeliveryRefused", "attach", "customer_message", "customer_typing", "describe_state"]

OutboundMessage = Dict[str, Any]
Deliverer = Callable[[str, OutboundMessage], Awaitable[Any]]


def _relay() -> HandoffRelay:
    return HandoffRelay.instance()


async def attach(channel: str, deliver: Deliverer, app: Any, output_channel: Optional[Callable[[str], Any]] = None) -> None:
    """Register ``channel``'s deliverer and start the relay (idempotent).

    Args:
        channel: the channel's name.
        deliver: ``deliver(sender_id, OutboundMessage)``.
        app: the Sanic app (the relay finds Rasa's agent on it).
        output_channel: ``factory(sender_id) -> OutputChannel`` for the bot's own replies
            after a handoff ends (so buttons such as the rating keep working).
    """
    relay = _relay()
    relay.register_channel(channel, deliver, output_channel)
    try:
        await relay.start(app)
    except Exception:  # the bot keeps answering when the handoff service is down
        logger.exception("handoff relay did not start")


async def customer_message(
    channel: str, sender_id: str, text: str, message_id: Optional[str] = None, metadata: Optional[Dict[str, Any]] = None
) -> bool:
    """Tell the relay about a customer message; True when a person has the conversation."""
    relay = _relay()
    try:
        return bool(await relay.on_customer_message(channel, sender_id, text, message_id=message_id, metadata=metadata))
    except Exception:
        logger.exception("handoff relay failed on a %s message; the bot answers it", channel)
        return False


async def customer_typing(channel: str, sender_id: str) -> None:
    """Tell the relay the customer is typing (shown in the agent console)."""
    relay = _relay()
    try:
        await relay.on_customer_typing(channel, sender_id)
    except Exception:
        logger.debug("typing notice not relayed", exc_info=True)


def describe_state(state: Optional[str], agent_name: Optional[str]) -> Optional[str]:
    """Arabic line telling the customer where the conversation stands (text channels)."""
    if state == "queued":
        return "تم تحويل محادثتك إلى أحد زملائنا، وستكون معك خلال دقائق."
    if state == "with_agent":
        return f"أنت الآن تتحدث مع {agent_name}." if agent_name else "أنت الآن تتحدث مع أحد زملائنا."
    if state == "bot":
        return "عدت إلى المساعد الآلي."
    return None
