"""REST channel that validates input before Rasa sees it.

Rasa's own REST channel passes broken JSON, empty text and megabyte messages
straight to the pipeline. This one answers each with a clear 4xx (JSON body with
an English ``error`` code and an Arabic ``message`` for the customer) and never
leaves a request hanging. It is registered as ``rest``, so the URL stays
``/webhooks/rest/webhook``.

Only trusted callers: every POST needs ``REST_API_KEY`` (header ``X-Api-Key`` or
``Authorization: Bearer``, compared in constant time), else 401. With no key configured
the channel answers 503, unless ``NOOR_LOCAL_MODE=1`` (``make run``, the test stacks).

Sender ids are namespaced: Rasa keys conversations by sender id alone, so a REST
``sender`` that has another channel's form (``web-…`` of the web chat, a phone number /
WhatsApp id, anything with ``:`` such as ``whatsapp:+…`` of Twilio) is refused with 400:
a REST caller cannot read or continue another channel's conversation.

Every message enters the conversation's stream first (``bot/channels/inbound.py``), and
the request waits for its own turn's replies up to ``REPLY_TIMEOUT_SECONDS``. When the
turn takes longer, the answer is ``202`` with ``{"status": "accepted", "message_id": …,
"message": …}``: the message is not lost and must not be sent again (a 5xx would invite
a retry, and with it the message twice); the turn finishes anyway and its replies come
first in the sender's next reply. ``"status": "retrying"`` (also 202) says the turn
failed and is retried by itself.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple, Union

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from redis.exceptions import RedisError
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import commands, inbound, relay_link
from bot.channels.redis_client import get_redis
from bot.channels.validation import SENDER_PATTERN as _SENDER
from bot.channels.validation import (
    InputError,
    check_rate,
    clean_text,
    delivery_key,
    parse_json_object,
)
from bot.settings import Settings, process_settings
from bot.untrusted import safe_equal

logger = logging.getLogger(__name__)

OFFER_TTL_SECONDS = 24 * 3600

# sender ids of the other channels: web chat sessions (``web-``), WhatsApp ids and phone
# numbers (digits, maybe ``+``), Twilio's ``whatsapp:+…`` and any other ``namespace:``
_FOREIGN_SENDER = re.compile(r"^(?:web-|\+?[0-9]+$)|:", re.IGNORECASE)


def is_foreign_sender(sender: str) -> bool:
    """True for a sender id of the form another channel uses."""
    return bool(_FOREIGN_SENDER.search(sender))


def authenticated_caller(headers: Any, settings: Settings) -> Union[InputError, str]:
    """The caller a request's key belongs to (``""``: the shared key or local mode).

    Every configured key is compared (constant time each), so the time taken does not
    tell which caller a near-miss belongs to.
    """
    keys = list(settings.rest_callers) + ([("", settings.rest_api_key)] if settings.rest_api_key else [])
    if not keys:
        if settings.local_mode:
            return ""
        return InputError(503, "rest_not_configured", "قناة REST غير مفعّلة: لم يُضبط REST_API_KEY.")
    given = headers.get("X-Api-Key")
    if given is None:
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        given = token.strip() if scheme.lower() == "bearer" else None
    matches = [caller for caller, key in keys if safe_equal(given, key)]
    if not matches:
        return InputError(401, "unauthorized", "مفتاح الوصول مفقود أو غير صحيح.")
    return matches[0]


def check_caller_namespace(sender: str, caller: str) -> None:
    """A caller with its own key keeps to its own sender ids (``<caller>-…``)."""
    if caller and not sender.startswith(f"{caller}-"):
        raise InputError(400, "foreign_sender", f"معرّف المرسل يجب أن يبدأ بـ {caller}-.")


# a caller's own id of a message (optional): a retry with the same id is not taken twice
_CLIENT_MESSAGE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
SEEN_TTL_SECONDS = 24 * 3600


def parse_request(body: bytes, settings: Settings) -> Tuple[str, str, Optional[Dict[str, Any]], Optional[str]]:
    """Validate a webhook body and return (sender, text, metadata, message_id).

    ``message_id`` is the caller's optional idempotency key: a caller that lost the
    answer (a timeout, a process that died mid-request, a 502 from the proxy) sends the
    message again with the same id, and it is taken once.

    Raises:
        InputError: for anything the bot cannot or should not process.
    """
    payload = parse_json_object(body, settings.max_body_bytes)
    sender = payload.get("sender")
    if not isinstance(sender, str) or not _SENDER.match(sender):
        raise InputError(400, "invalid_sender", "معرّف المرسل مفقود أو غير صالح.")
    if is_foreign_sender(sender):
        raise InputError(400, "foreign_sender", "معرّف المرسل محجوز لقناة أخرى.")
    text = clean_text(payload.get("message"), settings.max_message_chars)
    metadata = payload.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise InputError(400, "invalid_metadata", "البيانات الوصفية يجب أن تكون كائن JSON.")
    message_id = payload.get("message_id")
    if message_id is not None and (not isinstance(message_id, str) or not _CLIENT_MESSAGE_ID.match(message_id)):
        raise InputError(400, "invalid_message_id", "معرّف الرسالة يجب أن يكون من 1 إلى 64 حرفاً لاتينياً أو رقماً.")
    return sender, text, metadata, message_id


class ValidatedRestInput(InputChannel):
    """``POST /webhooks/rest/webhook`` with ``{"sender": ..., "message": ...}``."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> ValidatedRestInput:
        return cls()

    def __init__(self, settings: Optional[Settings] = None) -> None:
        self.settings = settings or process_settings().channels
        # buttons a REST client shows come back as their payloads; nothing else may be a command
        self.offered = commands.OfferedPayloads(get_redis, self.name(), OFFER_TTL_SECONDS)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("validated_rest_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        # --- handoff relay hook (part A): REST cannot push, so what agents send waits
        # in Redis (keep_for_next_reply) and comes back at the start of the sender's next reply.
        @hook.listener("before_server_start")
        async def start_relay(app: Any, _loop: Any) -> None:
            await relay_link.attach(self.name(), deliver_later, app)
            # turns may run in any process: a request collects its replies through Redis
            await inbound.attach(app, self.name(), lambda _sender: CollectingOutputChannel(), self.settings.burst_window(self.name()), self._keep_for_next_reply)

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            caller = authenticated_caller(request.headers, self.settings)
            if isinstance(caller, InputError):
                return caller.response()
            try:
                sender, text, metadata, client_id = parse_request(request.body or b"", self.settings)
                check_caller_namespace(sender, caller)
                limits = self.settings
                await check_rate(get_redis(), "rest", f"address:{request.remote_addr or request.ip}", limits.rest_messages_per_address, limits.rate_window_seconds)
                await check_rate(get_redis(), "rest", f"sender:{sender}", limits.messages_per_conversation, limits.rate_window_seconds)
                text = await commands.customer_text(self.offered, sender, text)
            except InputError as error:
                return error.response()
            # persisted for the agent first when a person has the conversation (the
            # service drops a retry with the same id); Rasa's paused tracker still records it
            await relay_link.customer_message(self.name(), sender, text, message_id=client_id, metadata=metadata)
            timeout = self.settings.reply_timeout_seconds
            # a caller's ids are its own: one namespace per sender
            seen = f"rest:{sender}"
            # marked as it is stored, in one step: a retry finds it taken, or (the
            # process died first) gets through
            delivery = inbound.DeliveryMark(delivery_key(seen, client_id), SEEN_TTL_SECONDS) if client_id else None
            try:
                message_id = await inbound.accept(self.name(), sender, text, metadata=metadata, wait_seconds=timeout, delivery=delivery)
            except inbound.AlreadyAccepted:
                return accepted(str(client_id), "duplicate", "وصلتنا هذه الرسالة من قبل؛ يصلك الرد عليها مع ردّنا التالي.")
            except RedisError:
                logger.exception("message of %s not stored: Redis unavailable", sender)
                return InputError(503, "unavailable", "تعذّر استلام رسالتك الآن بسبب عطل مؤقت؛ أعد إرسالها بعد لحظات.").response()
            try:
                replies = await inbound.wait(message_id, timeout)
            except inbound.TurnFailed:
                return accepted(message_id, "retrying", "تعذّر الرد على رسالتك الآن وسنعيد المحاولة تلقائياً؛ يصلك الرد مع ردّنا التالي.")
            if replies is None:
                logger.warning("turn of %s took longer than %ss; its replies come with the next reply", sender, timeout)
                return accepted(message_id, "accepted", "وصلت رسالتك ونعمل عليها؛ يصلك الرد مع ردّنا على رسالتك التالية، فلا داعي لإعادة إرسالها.")
            await self._remember_buttons(sender, replies)
            return response.json(await take_kept_replies(sender) + replies)

        return hook

    async def _keep_for_next_reply(self, sender: str, replies: List[Dict[str, Any]]) -> None:
        """Replies of a turn whose request gave up: the sender's next reply carries them."""
        await self._remember_buttons(sender, replies)
        await keep_for_next_reply(sender, replies)

    async def _remember_buttons(self, sender: str, messages: List[Dict[str, Any]]) -> None:
        payloads = commands.button_payloads(messages)
        if not payloads:
            return
        try:
            await self.offered.offer(sender, payloads)
        except Exception:  # the reply still goes out; the buttons then arrive as plain text
            logger.exception("could not remember the buttons offered to %s", sender)


# Replies a REST caller could not receive when they were made (agent messages relayed
# while nobody was asking; bot replies to a request that timed out) wait here, in the
# REST channel's own keys, and come first in the sender's next reply.
PENDING_TTL_SECONDS = 7 * 24 * 3600
_PENDING_MAX = 1000


def _pending_key(sender_id: str) -> str:
    return f"rest:pending:{sender_id}"


async def keep_for_next_reply(sender_id: str, messages: List[Dict[str, Any]]) -> None:
    """Keep REST-format messages for the sender's next reply (in order, for a week)."""
    if not messages:
        return
    redis = get_redis()
    key = _pending_key(sender_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.rpush(key, *(json.dumps(message, ensure_ascii=False) for message in messages))
        pipe.expire(key, PENDING_TTL_SECONDS)
        await pipe.execute()


async def take_kept_replies(sender_id: str) -> List[Dict[str, Any]]:
    """Every message kept for this sender, oldest first (taken atomically; empty when Redis fails)."""
    try:
        raw = await get_redis().lpop(_pending_key(sender_id), _PENDING_MAX)
    except Exception:  # the bot keeps answering when Redis is unavailable
        logger.exception("could not read the replies kept for %s", sender_id)
        return []
    return [json.loads(item) for item in raw or []]


def accepted(message_id: str, status: str, message: str) -> HTTPResponse:
    """202: the message is stored and will be answered; the reply comes with the next one."""
    return response.json({"status": status, "message_id": message_id, "message": message}, status=202)


async def deliver_later(sender_id: str, message: Dict[str, Any]) -> None:
    """The relay's deliverer for REST: keep agent and system messages for the next reply."""
    if message.get("kind") == "typing" or not message.get("text"):
        return
    keys = ("id", "kind", "state", "agent_name", "ticket_id")
    await keep_for_next_reply(
        sender_id,
        [{"recipient_id": sender_id, "text": message["text"], "custom": {"handoff": {k: message.get(k) for k in keys}}}],
    )
