"""Customer text that looks like a command is text, on every channel.

Rasa reads a message starting with ``/`` as an intent with entities
(``/EXTERNAL_handoff_resolved{"handoff_ticket_id": "HO-000001"}`` would rate
someone else's ticket, ``/restart`` would un-pause a conversation whose ticket is
still open). Customers only send such messages by tapping a button the bot
offered, so each channel remembers the payloads it offered to a conversation
(:class:`OfferedPayloads`) and passes anything else through
:func:`customer_text`, which takes the slashes off.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, List

from bot.channels.validation import InputError

logger = logging.getLogger(__name__)

COMMAND_PREFIX = "/"  # rasa.shared.constants.INTENT_MESSAGE_PREFIX


class OfferedPayloads:
    """The button payloads last offered to each conversation of a channel (``<channel>:offered:<sender>``).

    Args:
        redis: returns this loop's Redis client (channels keep one per loop).
        channel: the channel name, part of the key.
        ttl_seconds: how long an offer stays valid.
    """

    def __init__(self, redis: Callable[[], Any], channel: str, ttl_seconds: int) -> None:
        self._redis, self.channel, self.ttl_seconds = redis, channel, ttl_seconds

    def _key(self, sender_id: str) -> str:
        return f"{self.channel}:offered:{sender_id}"

    async def offer(self, sender_id: str, payloads: Iterable[str]) -> None:
        """Remember the payloads just offered: only these may come back as commands."""
        payloads = [str(p) for p in payloads if p]
        async with self._redis().pipeline(transaction=True) as pipe:
            pipe.delete(self._key(sender_id))
            if payloads:
                pipe.sadd(self._key(sender_id), *payloads)
                pipe.expire(self._key(sender_id), self.ttl_seconds)
            await pipe.execute()

    async def was_offered(self, sender_id: str, payload: str) -> bool:
        return bool(await self._redis().sismember(self._key(sender_id), payload))


def as_plain_text(text: str) -> str:
    """``text`` without its leading slashes (and the spaces between them).

    Raises:
        InputError: nothing is left (a bare ``/``).
    """
    while text.startswith(COMMAND_PREFIX):
        text = text[len(COMMAND_PREFIX):].lstrip()
    if not text:
        raise InputError(400, "empty_message", "الرسالة فارغة، اكتب سؤالك من فضلك.")
    return text


async def customer_text(offered: OfferedPayloads, sender_id: str, text: str) -> str:
    """What the bot may read of a customer message: a payload it offered, or plain text.

    When Redis cannot say whether the payload was offered, the message is text:
    refusing a button is a small cost, running a forged command is not.
    """
    if not text.startswith(COMMAND_PREFIX):
        return text
    try:
        if await offered.was_offered(sender_id, text):
            return text
    except Exception:  # noqa: BLE001 - Redis down: fall back to the safe reading
        logger.warning("%s: offered payloads unavailable for %s; reading a command as text", offered.channel, sender_id, exc_info=True)
    return as_plain_text(text)


def button_payloads(messages: List[dict]) -> List[str]:
    """The payloads of every button in a list of Rasa output messages (REST replies)."""
    return [str(b.get("payload") or b.get("title")) for m in messages for b in m.get("buttons") or [] if isinstance(b, dict)]
