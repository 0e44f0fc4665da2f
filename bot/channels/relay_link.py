"""How the channels reach the handoff relay (``bot/channels/relay.py``, part A).

The relay decides whether a conversation is with a person. The channels call it
through these few functions so that a missing relay module or an unreachable
handoff service never costs a customer message: the message then simply goes to
the bot.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType
from typing import Any, Awaitable, Callable, Dict, Optional

logger = logging.getLogger(__name__)

_relay_module: Optional[ModuleType]
try:  # the relay is built in parallel; the channels work without it
    _relay_module = importlib.import_module("bot.channels.relay")
except ImportError:  # pragma: no cover - depends on the checkout
    _relay_module = None


class _FallbackDeliveryRefused(Exception):
    """A message the channel cannot deliver (e.g. WhatsApp's 24-hour window closed)."""


# Raised by a channel's deliverer; the relay shows its text to the agent in the console.
DeliveryRefused: type = getattr(_relay_module, "DeliveryRefused", _FallbackDeliveryRefused)

OutboundMessage = Dict[str, Any]
Deliverer = Callable[[str, OutboundMessage], Awaitable[Any]]


def _relay() -> Optional[Any]:
    if _relay_module is None or not hasattr(_relay_module, "HandoffRelay"):
        return None
    return _relay_module.HandoffRelay.instance()


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
    if relay is None:
        logger.warning("bot.channels.relay is not available: %s conversations cannot reach agents", channel)
        return
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
    if relay is None:
        return False
    try:
        return bool(await relay.on_customer_message(channel, sender_id, text, message_id=message_id, metadata=metadata))
    except Exception:
        logger.exception("handoff relay failed on a %s message; the bot answers it", channel)
        return False


async def customer_typing(channel: str, sender_id: str) -> None:
    """Tell the relay the customer is typing (shown in the agent console)."""
    relay = _relay()
    if relay is None:
        return
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
