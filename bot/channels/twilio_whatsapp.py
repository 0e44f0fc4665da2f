"""Twilio WhatsApp input channel (``/webhooks/twilio/webhook``).

Rasa's own Twilio channel checks no signature; this one rejects any request whose
``X-Twilio-Signature`` does not match (the ``twilio`` package's validator over the
public URL and the form fields), rebuilding the URL Twilio called from
``X-Forwarded-Proto`` / ``X-Forwarded-Host`` behind a proxy, or taking it from
``TWILIO_WEBHOOK_URL``. Replies go out through the persistent outbox to Twilio's
Messages API. Twilio's WhatsApp sandbox has no free-form buttons, so choices are sent
as a numbered list and a reply of ``2`` (or the choice's title) picks the second.

A signature header or proxy header with non-ASCII bytes is a wrong signature (401),
never a 500. Replays: Twilio's webhook carries no timestamp, neither in the signed
form fields nor in a header (``X-Twilio-Signature`` covers only the URL and the
fields), so there is no freshness window to check here; a replayed request is
caught only by the ``MessageSid`` de-duplication (7 days, ``messaging.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional
from urllib.parse import parse_qsl

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator

from bot.channels import commands, inbound, relay_link
from bot.channels.messaging import MessagingRuntime, add_lifecycle, relay_deliverer
from bot.channels.outbox import SendError
from bot.channels.validation import SENDER_PATTERN, InputError, check_rate, clean_text
from bot.channels.whatsapp import UNSUPPORTED_REPLY, chunks
from bot.nlu.arabic_text import normalize
from bot.settings import OutboxSettings, Settings, TwilioSettings, process_settings

logger = logging.getLogger(__name__)

CHANNEL = "twilio"  # the name handoff/PROTOCOL.md uses; URL /webhooks/twilio/webhook
MAX_BODY = 1600  # Twilio's limit for one WhatsApp message body
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def public_url(request: Request, configured: str) -> str:
    """The URL Twilio signed: the configured one, else rebuilt from proxy headers."""
    if configured:
        return configured
    query = f"?{request.query_string}" if request.query_string else ""
    proto = (request.headers.get("X-Forwarded-Proto") or request.scheme or "http").split(",")[0].strip()
    host = (request.headers.get("X-Forwarded-Host") or request.headers.get("Host") or request.host).split(",")[0].strip()
    return f"{proto}://{host}{request.path}{query}"


class TwilioApiClient:
    """Twilio's Messages API (``/2010-04-01/Accounts/{sid}/Messages.json``)."""

    def __init__(self, settings: TwilioSettings) -> None:
        self.settings = settings
        self._session: Optional[aiohttp.ClientSession] = None

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session._loop is not loop:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.request_timeout_seconds))
        return self._session

    async def send(self, to: str, body: str) -> None:
        """Send one WhatsApp text.

        Raises:
            SendError: retryable for network errors, 429 and 5xx; final for other 4xx.
        """
        url = f"{self.settings.api_url}/2010-04-01/Accounts/{self.settings.account_sid}/Messages.json"
        form = {"From": self.settings.whatsapp_from, "To": to, "Body": body}
        auth = aiohttp.BasicAuth(self.settings.account_sid, self.settings.auth_token)
        try:
            async with self._client().post(url, data=form, auth=auth) as reply:
                text = await reply.text()
                if reply.status < 300:
                    return
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise SendError(f"Twilio unreachable: {error!r}") from error
        raise SendError(f"Twilio answered {reply.status}: {text[:300]}", retryable=reply.status == 429 or reply.status >= 500)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


class TwilioWhatsAppOutput(OutputChannel):
    """Queues the bot's replies; choices become a numbered list remembered for the answer."""

    def __init__(self, channel: TwilioWhatsAppInput) -> None:
        self.channel = channel

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.channel.send_text(recipient_id, text)

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], **kwargs: Any) -> None:
        choices = [{"title": str(b.get("title") or b.get("payload")), "payload": str(b.get("payload") or b.get("title"))} for b in buttons]
        await self.channel.remember_choices(recipient_id, choices)
        numbered = "\n".join(f"{i}. {c['title']}" for i, c in enumerate(choices, 1))
        await self.channel.send_text(recipient_id, f"{text}\n{numbered}")

    async def send_quick_replies(self, recipient_id: str, text: str, quick_replies: List[Dict[str, Any]], **kwargs: Any) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)


class TwilioWhatsAppInput(InputChannel):
    """Rasa input channel for WhatsApp through Twilio; secrets come from the environment."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> TwilioWhatsAppInput:
        return cls()

    def __init__(self, settings: Optional[TwilioSettings] = None, limits: Optional[Settings] = None, outbox_settings: Optional[OutboxSettings] = None, window_seconds: int = 24 * 3600) -> None:
        self.settings = settings or process_settings().twilio
        self.limits = limits or process_settings().channels
        self.client = TwilioApiClient(self.settings)
        self.validator = RequestValidator(self.settings.auth_token)
        self.runtime = MessagingRuntime(CHANNEL, self._send, window_seconds, outbox_settings)
        self.offered = commands.OfferedPayloads(lambda: self.runtime.redis, CHANNEL, window_seconds)
        if not self.settings.configured:
            logger.warning("Twilio WhatsApp channel loaded without TWILIO_* settings; its webhook answers 503")

    async def _send(self, payload: Dict[str, Any]) -> None:
        await self.client.send(payload["To"], payload["Body"])

    async def send_text(self, to: str, text: str) -> None:
        for part in chunks(text, MAX_BODY):
            await self.runtime.outbox().enqueue(to, {"To": to, "Body": part})

    def get_output_channel(self) -> OutputChannel:
        return TwilioWhatsAppOutput(self)

    async def remember_choices(self, to: str, choices: List[Dict[str, str]]) -> None:
        await self.runtime.redis.set(f"{CHANNEL}:choices:{to}", json.dumps(choices, ensure_ascii=False), ex=self.runtime.window_seconds)
        await self.offered.offer(to, [c["payload"] for c in choices])

    async def resolve_choice(self, to: str, text: str) -> Optional[str]:
        """The payload of the offered choice the customer picked by number or title."""
        raw = await self.runtime.redis.get(f"{CHANNEL}:choices:{to}")
        if not raw:
            return None
        choices = json.loads(raw)
        folded = normalize(text).text.strip()  # Arabic-Indic digits fold to ASCII
        if folded.isdigit() and 1 <= int(folded) <= len(choices):
            return str(choices[int(folded) - 1]["payload"])
        for choice in choices:
            if normalize(choice["title"]).text.strip() == folded:
                return str(choice["payload"])
        return None

    def signature_valid(self, request: Request, form: Dict[str, str]) -> bool:
        signature = request.headers.get("X-Twilio-Signature")
        # a real signature is base64 (ASCII); anything else is simply wrong
        if not signature or not signature.isascii():
            return False
        try:
            return bool(self.validator.validate(public_url(request, self.settings.public_url), form, signature))
        except UnicodeError:  # a proxy header with undecodable bytes: the URL cannot be what Twilio signed
            return False

    async def handle(self, form: Dict[str, str], on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """Accept one inbound message exactly once (a failure lets Twilio's retry in)."""
        sender, message_sid = form.get("From", ""), form.get("MessageSid", "")
        if not SENDER_PATTERN.match(sender) or not message_sid:
            raise InputError(400, "invalid_sender", "معرّف المرسل مفقود أو غير صالح.")
        if await self.runtime.already_delivered(message_sid):
            return
        # Until the message is stored a retry must get through (the steps before are
        # idempotent: the window, the relay's copy per message id).
        await self.runtime.open_window(sender)
        body = form.get("ButtonPayload") or form.get("Body", "")
        if not body.strip() and (int(form.get("NumMedia", "0") or 0) > 0 or form.get("Latitude")):
            if await self.runtime.first_delivery(message_sid):
                try:
                    await self.send_text(sender, UNSUPPORTED_REPLY)
                except BaseException:
                    await self.runtime.forget_delivery(message_sid)
                    raise
            return
        try:
            await check_rate(self.runtime.redis, CHANNEL, f"sender:{sender}", self.limits.messages_per_conversation, self.limits.rate_window_seconds)
            text = clean_text(body, self.limits.max_message_chars)
            # a choice picked by number or title is a payload we offered; a typed
            # "/EXTERNAL_..." or "/restart" is text
            text = await self.resolve_choice(sender, text) or await commands.customer_text(self.offered, sender, text)
        except InputError as error:
            if error.code != "empty_message" and error.first:
                await self.send_text(sender, error.message_ar)
            return
        metadata = {"twilio": {"message_sid": message_sid, "profile_name": form.get("ProfileName")}}
        await relay_link.customer_message(CHANNEL, sender, text, message_id=message_sid, metadata=metadata)
        try:
            # stored (and marked delivered, in one step) before Twilio gets its answer;
            # the turn (after a burst's quiet) runs apart
            await inbound.accept(CHANNEL, sender, text, message_id=message_sid, metadata=metadata,
                                 delivery=self.runtime.delivery_mark(message_sid))
        except inbound.AlreadyAccepted:
            logger.info("twilio: duplicate delivery of %s ignored", message_sid)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("twilio_whatsapp_webhook", __name__)

        add_lifecycle(hook, self, self.runtime, relay_deliverer(self.runtime, self.send_text, "Twilio Content API templates"), self.client.close)

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.settings.configured:
                return response.json({"error": "not_configured", "message": "قناة تويليو غير مهيأة."}, status=503)
            if len(request.body or b"") > self.limits.max_body_bytes:
                return InputError(413, "body_too_large", "الطلب أكبر من المسموح.").response()
            try:
                # Twilio signs blank fields too (an image has Body=""), which request.form drops
                form = dict(parse_qsl((request.body or b"").decode("utf-8"), keep_blank_values=True))
            except UnicodeDecodeError:
                return InputError(400, "invalid_utf8", "تعذّرت قراءة الرسالة: الترميز ليس UTF-8.").response()
            if not self.signature_valid(request, form):
                return response.json({"error": "invalid_signature", "message": "التوقيع غير صحيح."}, status=401)
            if form.get("MessageStatus") and not form.get("Body") and not form.get("NumMedia"):
                return response.text(EMPTY_TWIML, content_type="text/xml")  # a status callback
            try:
                await self.handle(form, on_new_message)
            except InputError as error:
                return error.response()
            return response.text(EMPTY_TWIML, content_type="text/xml")

        return hook
