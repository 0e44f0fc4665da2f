"""WhatsApp Cloud API input channel (``/webhooks/whatsapp/webhook``).

- ``GET``: Meta's subscription handshake (``hub.mode=subscribe``, ``hub.verify_token``),
  answered with ``hub.challenge``; 403 otherwise.
- ``POST``: ``X-Hub-Signature-256`` must be ``sha256=`` + HMAC-SHA256 of the raw body
  with the app secret (compared in constant time, as bytes: a non-ASCII header is a
  wrong signature, 401, never a 500), else 401. Meta signs the bytes it sends (Arabic
  escaped as ``\\uXXXX``), so the body is never re-serialised first. The body is
  parsed by ``validation.parse_json_object`` (nesting bounded before parsing).
- Replays: every message carries Meta's ``timestamp`` (Unix seconds) inside the
  signed body. A message older than ``max_message_age_seconds`` (24 h) or more than
  ``max_clock_skew_seconds`` in the future is dropped (acknowledged, not processed),
  so a captured body cannot be replayed after its de-duplication key expires.
- Text, interactive button and list replies go to the bot; status callbacks are
  ignored; images, audio, locations and the like get a polite Arabic reply. Each
  WhatsApp message id is processed once (Meta retries deliveries).
- Replies leave through a persistent outbox (``bot/channels/outbox.py``) to the Graph
  API ``/{phone-number-id}/messages``: text, up to three reply buttons, or a list.
  Inbound messages are marked as read.
- Outside the 24-hour customer-service window only approved templates may be sent;
  an agent reply then raises ``DeliveryRefused`` so the console shows why.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import commands, relay_link
from bot.channels import inbound as intake
from bot.channels.messaging import MessagingRuntime, add_lifecycle, relay_deliverer
from bot.channels.outbox import SendError
from bot.channels.validation import InputError, check_rate, clean_text, parse_json_object
from bot.channels.whatsapp_payloads import template_message
from bot.settings import OutboxSettings, Settings, WhatsAppSettings, process_settings
from bot.untrusted import safe_equal

logger = logging.getLogger(__name__)

CHANNEL = "whatsapp"
# Graph API limits for interactive messages
MAX_TEXT = 4096
MAX_INTERACTIVE_BODY = 1024
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_LIST_ROWS = 10
MAX_ROW_TITLE = 24
MAX_REPLY_ID = 256

UNSUPPORTED_REPLY = (
    "شكراً لرسالتك! أستطيع حالياً قراءة الرسائل النصية فقط، فهلّا كتبت لي طلبك نصّاً؟ "
    "ولإرسال صورة أو مستند يمكنك زيارة أقرب فرع أو الرد على رسالة الموظف عند تحويلك."
)
LIST_BUTTON_LABEL = "الخيارات"


def verify_signature(raw_body: bytes, header: Optional[str], app_secret: str) -> bool:
    """Check Meta's ``X-Hub-Signature-256`` header against the raw request body.

    Args:
        raw_body: the bytes exactly as received.
        header: the header value, ``sha256=<hex>``.
        app_secret: the app's secret.
    """
    if not header or not app_secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
    return safe_equal(header[len("sha256=") :].strip().lower(), expected)


@dataclass(frozen=True)
class Inbound:
    """One customer message from a webhook.

    Attributes:
        wa_id: the customer's WhatsApp id (phone number), used as the Rasa sender id.
        message_id: WhatsApp's ``wamid``; de-duplication key.
        kind: ``text``, ``interactive``, ``button`` or an unsupported type (``image`` ...).
        text: what goes to the bot (the reply id of a tapped button), None if unsupported.
        name: the customer's profile name, when sent.
        timestamp: when WhatsApp received it (Unix seconds, signed with the body); None if absent.
    """

    wa_id: str
    message_id: str
    kind: str
    text: Optional[str]
    name: Optional[str] = None
    timestamp: Optional[int] = None

    def fresh(self, now: float, max_age_s: int, max_skew_s: int) -> bool:
        """Whether the signed timestamp is recent enough to act on (no timestamp: refused)."""
        return self.timestamp is not None and now - max_age_s <= self.timestamp <= now + max_skew_s


def parse_webhook(payload: Dict[str, Any]) -> List[Inbound]:
    """Customer messages of a webhook body; status callbacks and the rest are skipped."""
    found: List[Inbound] = []
    for entry in payload.get("entry") or []:
        for change in entry.get("changes") or []:
            value = change.get("value") or {}
            names = {c.get("wa_id"): (c.get("profile") or {}).get("name") for c in value.get("contacts") or []}
            for message in value.get("messages") or []:
                wa_id, message_id, kind = message.get("from"), message.get("id"), message.get("type", "")
                if not isinstance(wa_id, str) or not isinstance(message_id, str):
                    continue
                found.append(Inbound(wa_id, message_id, kind, _message_text(message), names.get(wa_id), _timestamp(message)))
    return found


def _timestamp(message: Dict[str, Any]) -> Optional[int]:
    raw = message.get("timestamp")
    # Meta sends a string of ASCII digits; anything else counts as missing
    return int(raw) if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 12 else None


def _message_text(message: Dict[str, Any]) -> Optional[str]:
    kind = message.get("type")
    if kind == "text":
        return (message.get("text") or {}).get("body")
    if kind == "interactive":
        interactive = message.get("interactive") or {}
        reply = interactive.get("button_reply") or interactive.get("list_reply") or {}
        return reply.get("id") or reply.get("title")
    if kind == "button":  # quick-reply button of a template
        button = message.get("button") or {}
        return button.get("payload") or button.get("text")
    return None


def text_body(to: str, text: str) -> Dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text", "text": {"preview_url": False, "body": text}}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def buttons_body(to: str, text: str, buttons: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Graph body for a text with choices: reply buttons (≤ 3), a list (≤ 10), else numbered text."""
    choices = [(str(b.get("payload") or b.get("title"))[:MAX_REPLY_ID], str(b.get("title") or b.get("payload"))) for b in buttons]
    if len(choices) > MAX_LIST_ROWS:
        numbered = "\n".join(f"{i}. {title}" for i, (_, title) in enumerate(choices, 1))
        return text_body(to, _cut(f"{text}\n{numbered}", MAX_TEXT))
    body = {"text": _cut(text or "…", MAX_INTERACTIVE_BODY)}
    if len(choices) <= MAX_BUTTONS:
        interactive: Dict[str, Any] = {
            "type": "button",
            "body": body,
            "action": {"buttons": [{"type": "reply", "reply": {"id": cid, "title": _cut(title, MAX_BUTTON_TITLE)}} for cid, title in choices]},
        }
    else:
        rows = [{"id": cid, "title": _cut(title, MAX_ROW_TITLE)} for cid, title in choices]
        interactive = {"type": "list", "body": body, "action": {"button": LIST_BUTTON_LABEL, "sections": [{"title": LIST_BUTTON_LABEL, "rows": rows}]}}
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "interactive", "interactive": interactive}


def read_receipt(message_id: str) -> Dict[str, Any]:
    return {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}


def chunks(text: str, size: int = MAX_TEXT) -> List[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class GraphApiClient:
    """The Graph API ``/{phone-number-id}/messages`` endpoint (one aiohttp session per loop)."""

    def __init__(self, settings: WhatsAppSettings) -> None:
        self.settings = settings
        self._session: Optional[aiohttp.ClientSession] = None

    @property
    def messages_url(self) -> str:
        return f"{self.settings.graph_api_url}/{self.settings.phone_number_id}/messages"

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session._loop is not loop:
            timeout = aiohttp.ClientTimeout(total=self.settings.request_timeout_seconds)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def send(self, body: Dict[str, Any]) -> Dict[str, Any]:
        """POST one message body.

        Raises:
            SendError: retryable for network errors, 429 and 5xx; final for other 4xx.
        """
        headers = {"Authorization": f"Bearer {self.settings.access_token}"}
        try:
            async with self._client().post(self.messages_url, json=body, headers=headers) as reply:
                text = await reply.text()
                if reply.status < 300:
                    return dict(json.loads(text or "{}"))
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise SendError(f"Graph API unreachable: {error!r}") from error
        retryable = reply.status == 429 or reply.status >= 500
        raise SendError(f"Graph API answered {reply.status}: {text[:300]}", retryable=retryable)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


class WhatsAppOutput(OutputChannel):
    """Queues the bot's replies to one customer in the outbox; remembers the buttons offered."""

    def __init__(self, enqueue: Callable[[str, Dict[str, Any]], Awaitable[str]], offered: Optional[commands.OfferedPayloads] = None) -> None:
        self.enqueue = enqueue
        self.offered = offered

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for part in chunks(text):
            await self.enqueue(recipient_id, text_body(recipient_id, part))

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], **kwargs: Any) -> None:
        if self.offered is not None:
            await self.offered.offer(recipient_id, [str(b.get("payload") or b.get("title"))[:MAX_REPLY_ID] for b in buttons])
        await self.enqueue(recipient_id, buttons_body(recipient_id, text, buttons))

    async def send_quick_replies(self, recipient_id: str, text: str, quick_replies: List[Dict[str, Any]], **kwargs: Any) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.enqueue(recipient_id, {"messaging_product": "whatsapp", "to": recipient_id, "type": "image", "image": {"link": image}})

    async def send_custom_json(self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any) -> None:
        # a response may carry a ready Graph body (e.g. a template) under "whatsapp"
        body = json_message.get("whatsapp")
        if isinstance(body, dict):
            await self.enqueue(recipient_id, {"messaging_product": "whatsapp", "to": recipient_id, **body})


class WhatsAppInput(InputChannel):
    """Rasa input channel for the WhatsApp Cloud API; secrets come from the environment."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> WhatsAppInput:
        return cls()

    def __init__(
        self,
        settings: Optional[WhatsAppSettings] = None,
        limits: Optional[Settings] = None,
        outbox_settings: Optional[OutboxSettings] = None,
    ) -> None:
        self.settings = settings or process_settings().whatsapp
        self.limits = limits or process_settings().channels
        self.client = GraphApiClient(self.settings)
        self.runtime = MessagingRuntime(CHANNEL, self._send, self.settings.window_seconds, outbox_settings)
        self.offered = commands.OfferedPayloads(lambda: self.runtime.redis, CHANNEL, self.settings.window_seconds)
        if not self.settings.configured:
            logger.warning("WhatsApp channel loaded without WHATSAPP_* settings; its webhook answers 503")

    async def _send(self, body: Dict[str, Any]) -> None:
        await self.client.send(body)

    async def enqueue(self, recipient: str, body: Dict[str, Any]) -> str:
        return await self.runtime.outbox().enqueue(recipient, body)

    def get_output_channel(self) -> OutputChannel:
        return WhatsAppOutput(self.enqueue, self.offered)

    @property
    def template_names(self) -> str:
        return ", ".join(name for name, _ in self.settings.templates) or "none configured: set WHATSAPP_TEMPLATES"

    async def send_template(self, to: str, name: str, parameters: Tuple[str, ...] = ()) -> str:
        """Queue an approved template (allowed outside the 24-hour window).

        Raises:
            ValueError: ``name`` is not one of ``WHATSAPP_TEMPLATES``.
        """
        languages = dict(self.settings.templates)
        if name not in languages:
            raise ValueError(f"template {name!r} is not configured ({self.template_names})")
        return await self.enqueue(to, template_message(to, name, languages[name], parameters))

    async def _send_agent_text(self, to: str, text: str) -> None:
        for part in chunks(text):
            await self.enqueue(to, text_body(to, part))

    async def handle(self, inbound: Inbound, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """Accept one customer message exactly once (a failure lets Meta's retry in).

        A stale or future-dated message (a replayed body) is dropped before anything
        else: it must not reopen the 24-hour window or reach the bot or an agent.
        """
        if not inbound.fresh(time.time(), self.settings.max_message_age_seconds, self.settings.max_clock_skew_seconds):
            logger.warning("whatsapp: message %s dropped, timestamp %s outside the window", inbound.message_id, inbound.timestamp)
            return
        if await self.runtime.already_delivered(inbound.message_id):
            logger.info("whatsapp: duplicate delivery of %s ignored", inbound.message_id)
            return
        # Until the message is stored a retry must get through (the steps before are
        # idempotent: the window, the read receipt, the relay's copy per message id).
        await self.runtime.open_window(inbound.wa_id)
        await self.enqueue(inbound.wa_id, read_receipt(inbound.message_id))
        if inbound.text is None:
            if await self.runtime.first_delivery(inbound.message_id):
                try:
                    await self._send_agent_text(inbound.wa_id, UNSUPPORTED_REPLY)
                except BaseException:
                    await self.runtime.forget_delivery(inbound.message_id)
                    raise
            return
        try:
            await check_rate(self.runtime.redis, CHANNEL, f"sender:{inbound.wa_id}", self.limits.messages_per_conversation, self.limits.rate_window_seconds)
            text = clean_text(inbound.text, self.limits.max_message_chars)
            # a typed "/restart" is text; a tapped button's id is a payload we offered
            text = await commands.customer_text(self.offered, inbound.wa_id, text)
        except InputError as error:
            if error.code != "empty_message" and error.first:
                await self._send_agent_text(inbound.wa_id, error.message_ar)
            return
        metadata = {"whatsapp": {"message_id": inbound.message_id, "type": inbound.kind, "name": inbound.name}}
        await relay_link.customer_message(CHANNEL, inbound.wa_id, text, message_id=inbound.message_id, metadata=metadata)
        try:
            # stored (and marked delivered, in one step) before Meta gets its 200; the
            # turn (after a burst's quiet) runs apart
            await intake.accept(CHANNEL, inbound.wa_id, text, message_id=inbound.message_id, metadata=metadata,
                                delivery=self.runtime.delivery_mark(inbound.message_id))
        except intake.AlreadyAccepted:
            logger.info("whatsapp: duplicate delivery of %s ignored", inbound.message_id)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("whatsapp_webhook", __name__)

        add_lifecycle(hook, self, self.runtime, relay_deliverer(self.runtime, self._send_agent_text, self.template_names), self.client.close)

        @hook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            args = request.args
            if (
                self.settings.verify_token
                and args.get("hub.mode") == "subscribe"
                and safe_equal(args.get("hub.verify_token"), self.settings.verify_token)
            ):
                return response.text(args.get("hub.challenge") or "")
            return response.json({"error": "forbidden", "message": "رمز التحقق غير صحيح."}, status=403)

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.settings.configured:
                return response.json({"error": "not_configured", "message": "قناة واتساب غير مهيأة."}, status=503)
            raw = request.body or b""
            max_bytes = self.limits.max_body_bytes * 4  # Meta batches; still bound memory
            if len(raw) > max_bytes:
                return InputError(413, "body_too_large", "الطلب أكبر من المسموح.").response()
            if not verify_signature(raw, request.headers.get("X-Hub-Signature-256"), self.settings.app_secret):
                return response.json({"error": "invalid_signature", "message": "التوقيع غير صحيح."}, status=401)
            try:
                payload = parse_json_object(raw, max_bytes)
            except InputError as error:
                return error.response()
            for inbound in parse_webhook(payload):
                await self.handle(inbound, on_new_message)
            return response.json({"status": "received"})

        return hook
