"""What the two WhatsApp channels (Cloud API and Twilio) share.

Both must answer a webhook retry only once, know whether WhatsApp's 24-hour
customer-service window is open, send every reply through a persistent outbox, and
deliver agents' replies from the handoff relay.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, Optional

from redis import asyncio as aioredis

from bot.channels import inbound, relay_link, validation
from bot.channels.outbox import Outbox, Sender
from bot.channels.redis_client import get_redis
from bot.settings import OutboxSettings, process_settings

logger = logging.getLogger(__name__)

SEEN_TTL_SECONDS = 7 * 24 * 3600  # Meta and Twilio retry for at most a few days


class MessagingRuntime:
    """Redis-backed state of one messaging channel in this Rasa process.

    Args:
        channel: the channel name (``whatsapp``, ``twilio``), used in Redis keys.
        sender: delivers one outbox payload (see :class:`bot.channels.outbox.Outbox`).
        window_seconds: WhatsApp's customer-service window.
        outbox_settings: retry parameters.
        redis: a client; None uses this loop's client for ``REDIS_URL``.
    """

    def __init__(
        self,
        channel: str,
        sender: Sender,
        window_seconds: int,
        outbox_settings: Optional[OutboxSettings] = None,
        redis: Optional[aioredis.Redis] = None,
    ) -> None:
        self.channel = channel
        self.sender = sender
        self.window_seconds = window_seconds
        self.outbox_settings = outbox_settings or process_settings().outbox
        self._redis = redis
        self._outbox: Optional[Outbox] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    @property
    def redis(self) -> aioredis.Redis:
        return self._redis or get_redis()

    def outbox(self) -> Outbox:
        """The outbox of this loop, its worker started (created on first use)."""
        loop = asyncio.get_running_loop()
        if self._outbox is None or self._loop is not loop:
            self._outbox = Outbox(self.redis, self.channel, self.sender, self.outbox_settings)
            self._loop = loop
        self._outbox.start()
        return self._outbox

    async def stop(self) -> None:
        if self._outbox is not None:
            await self._outbox.stop()

    async def first_delivery(self, message_id: str) -> bool:
        """Mark ``message_id`` now; True the first time (webhooks are retried)."""
        return await validation.first_delivery(self.redis, self.channel, message_id, SEEN_TTL_SECONDS)

    async def already_delivered(self, message_id: str) -> bool:
        """Whether ``message_id`` was taken before (stored, or answered by the channel)."""
        return await validation.already_delivered(self.redis, self.channel, message_id)

    def delivery_mark(self, message_id: str) -> inbound.DeliveryMark:
        """The mark ``inbound.accept`` sets as it stores ``message_id``."""
        return inbound.DeliveryMark(validation.delivery_key(self.channel, message_id), SEEN_TTL_SECONDS)

    async def forget_delivery(self, message_id: str) -> None:
        """Let a retry of ``message_id`` through again (its processing failed)."""
        await validation.forget_delivery(self.redis, self.channel, message_id)

    async def open_window(self, customer: str) -> None:
        """The customer just wrote: free-form replies are allowed for the window."""
        await self.redis.set(f"{self.channel}:window:{customer}", 1, ex=self.window_seconds)

    async def window_open(self, customer: str) -> bool:
        return bool(await self.redis.exists(f"{self.channel}:window:{customer}"))


def relay_deliverer(
    runtime: MessagingRuntime,
    send_text: Callable[[str, str], Awaitable[None]],
    templates_hint: str,
) -> Callable[[str, Dict[str, Any]], Awaitable[None]]:
    """A deliverer for ``HandoffRelay.register_channel`` over a WhatsApp-like channel.

    Args:
        runtime: the channel's state (window check).
        send_text: queues one text to a customer.
        templates_hint: named in the error an agent sees when the window is closed.

    Returns:
        ``deliver(sender_id, outbound_message)``; raises ``DeliveryRefused`` for an agent
        or system message outside the 24-hour window.
    """

    async def deliver(sender_id: str, message: Dict[str, Any]) -> None:
        kind = message.get("kind")
        if kind == "typing":
            return  # WhatsApp shows no typing state from businesses
        if kind == "state":
            text = relay_link.describe_state(message.get("state"), message.get("agent_name"))
        else:
            text = message.get("text") or ""
            if kind == "agent" and message.get("agent_name"):
                text = f"*{message['agent_name']}*: {text}"
        if not text:
            return
        if not await runtime.window_open(sender_id):
            if kind in ("agent", "system"):
                raise relay_link.DeliveryRefused(
                    "WhatsApp's 24-hour customer-service window is closed for this customer: free text cannot "
                    f"be sent until they write again. Only approved templates may be sent ({templates_hint})."
                )
            logger.info("%s: state notice to %s dropped, 24-hour window closed", runtime.channel, sender_id)
            return
        await send_text(sender_id, text)

    return deliver


def add_lifecycle(
    hook: Any,
    channel: Any,
    runtime: MessagingRuntime,
    deliver: Callable[[str, Dict[str, Any]], Awaitable[None]],
    close_client: Callable[[], Awaitable[None]],
) -> None:
    """Start/stop listeners and the health route that both WhatsApp channels need.

    Args:
        hook: the channel's Sanic blueprint.
        channel: the input channel (``settings.configured``, ``get_output_channel()``,
            ``limits.burst_window``).
        runtime: its Redis state; the outbox worker starts with the server so that
            replies a previous process left queued are sent.
        deliver: the relay deliverer (see :func:`relay_deliverer`).
        close_client: closes the channel's API client on shutdown.
    """
    from sanic import response

    @hook.listener("before_server_start")
    async def start(app: Any, loop: Any) -> None:
        if channel.settings.configured:
            runtime.outbox()
            await relay_link.attach(runtime.channel, deliver, app, lambda _sender: channel.get_output_channel())
            # customers' messages wait out a burst in Redis; any process's turn answers through the outbox
            await inbound.attach(app, runtime.channel, lambda _sender: channel.get_output_channel(), channel.limits.burst_window(runtime.channel))

    @hook.listener("after_server_stop")
    async def stop(app: Any, loop: Any) -> None:
        await runtime.stop()
        await close_client()

    @hook.route("/", methods=["GET"])
    async def health(request: Any) -> Any:
        return response.json({"status": "ok", "configured": channel.settings.configured})
