"""Web chat channel: server-issued sessions over a WebSocket, and the widget's files.

Why not Rasa's socket.io channel: there the browser names its own session id, so
anyone who knows an id reads and writes that conversation. Here the server makes a
random session id and hands the browser an HMAC-signed token for it; a client can
only ever speak in the session its token names.

Endpoints (prefix ``/webhooks/webchat``):
    ``GET  /static/<file>``  the widget (``widget.js``, ``widget.css``) and ``demo.html``
    ``WS   /socket``         the conversation (frames below)

Client frames: ``{"type": "hello", "token": <token or null>}`` first, then
``{"type": "message", "text": ..., "payload"?: ..., "client_id"?: ...}`` and
``{"type": "typing"}``. Server frames: ``session`` (token, history, handoff state),
``message`` (role ``customer|bot|agent|system``, ``dir="auto"`` text, buttons),
``typing``, ``state`` (handoff), ``error`` (code and Arabic explanation).

With several Rasa processes on one Redis, a frame produced in any process reaches
the session's sockets in every process (``webchat_hub.py``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from redis.exceptions import RedisError
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import rate_limit
from bot.channels import inbound, relay_link
from bot.channels.commands import OfferedPayloads
from bot.channels.redis_client import get_redis
from bot.channels.validation import InputError, check_rate, clean_text, parse_json_object
from bot.channels.webchat_hub import Hub
from bot.settings import Settings, WebchatSettings, process_settings
from bot.untrusted import safe_equal

logger = logging.getLogger(__name__)

CHANNEL = "webchat"
STATIC_DIR = Path(__file__).resolve().parent / "webchat_static"
HELLO_TIMEOUT_SECONDS = 10
SESSION_PREFIX = "web-"


class TokenSigner:
    """Issues and checks session tokens ``<session id>.<issued at>.<HMAC>``."""

    def __init__(self, secret: str, ttl_seconds: int) -> None:
        self._key = secret.encode("utf-8")
        self.ttl_seconds = ttl_seconds

    def _mac(self, message: str) -> str:
        # surrogatepass: a forged token may carry a lone surrogate ("\ud800" in JSON)
        digest = hmac.new(self._key, message.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def issue(self, session_id: str, now: Optional[float] = None) -> str:
        message = f"{session_id}.{int(now if now is not None else time.time())}"
        return f"{message}.{self._mac(message)}"

    def session_of(self, token: Any, now: Optional[float] = None) -> Optional[str]:
        """The session id a genuine, unexpired token names; None otherwise."""
        if not isinstance(token, str) or len(token) > 256 or token.count(".") != 2:
            return None
        session_id, issued, mac = token.split(".")
        if not safe_equal(mac, self._mac(f"{session_id}.{issued}")):
            return None
        if not issued.isdigit() or (now if now is not None else time.time()) - int(issued) > self.ttl_seconds:
            return None
        return session_id


def new_session_id() -> str:
    return SESSION_PREFIX + secrets.token_urlsafe(18)


class SessionStore:
    """Sessions, history, handoff state and rate limits in Redis (``webchat:*`` keys)."""

    def __init__(self, settings: WebchatSettings) -> None:
        self.settings = settings
        self.offered = OfferedPayloads(get_redis, "webchat", settings.token_ttl_seconds)

    @property
    def redis(self) -> Any:
        return get_redis()

    async def create(self, client_ip: str) -> str:
        session_id = new_session_id()
        await self.redis.set(f"webchat:session:{session_id}", json.dumps({"created": time.time(), "ip": client_ip}), ex=self.settings.token_ttl_seconds)
        return session_id

    async def exists(self, session_id: str) -> bool:
        return bool(await self.redis.exists(f"webchat:session:{session_id}"))

    async def append(self, session_id: str, entry: Dict[str, Any]) -> None:
        key = f"webchat:history:{session_id}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, json.dumps(entry, ensure_ascii=False))
            pipe.ltrim(key, -self.settings.history_length, -1)
            pipe.expire(key, self.settings.token_ttl_seconds)
            await pipe.execute()

    async def history(self, session_id: str) -> List[Dict[str, Any]]:
        return [json.loads(raw) for raw in await self.redis.lrange(f"webchat:history:{session_id}", 0, -1)]

    async def set_state(self, session_id: str, state: Dict[str, Any]) -> None:
        await self.redis.set(f"webchat:state:{session_id}", json.dumps(state, ensure_ascii=False), ex=self.settings.token_ttl_seconds)

    async def state(self, session_id: str) -> Optional[Dict[str, Any]]:
        raw = await self.redis.get(f"webchat:state:{session_id}")
        return json.loads(raw) if raw else None

    async def offer(self, session_id: str, payloads: List[str]) -> None:
        """Remember the button payloads just offered: only these may come back as payloads."""
        await self.offered.offer(session_id, payloads)

    async def was_offered(self, session_id: str, payload: str) -> bool:
        return await self.offered.was_offered(session_id, payload)

    async def within_limit(self, key: str, limit: int, window_seconds: int) -> bool:
        """True while ``key`` stays within ``limit`` hits in the last ``window_seconds``."""
        return await rate_limit.hit(self.redis, "webchat", key, limit, window_seconds)


def entry(role: str, text: str, **extra: Any) -> Dict[str, Any]:
    """One history item / ``message`` frame."""
    item = {"type": "message", "id": uuid.uuid4().hex, "role": role, "text": text, "ts": time.time()}
    item.update({key: value for key, value in extra.items() if value is not None})
    return item


class WebchatOutput(OutputChannel):
    """Stores the bot's replies in the session history and pushes them to open tabs."""

    def __init__(self, deliver: Callable[[str, Dict[str, Any]], Awaitable[None]], offer: Callable[[str, List[str]], Awaitable[None]]) -> None:
        self.deliver = deliver
        self.offer = offer

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.deliver(recipient_id, entry("bot", text))

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], **kwargs: Any) -> None:
        choices = [{"title": str(b.get("title") or b.get("payload")), "payload": str(b.get("payload") or b.get("title"))} for b in buttons]
        await self.offer(recipient_id, [c["payload"] for c in choices])
        await self.deliver(recipient_id, entry("bot", text, buttons=choices))

    async def send_quick_replies(self, recipient_id: str, text: str, quick_replies: List[Dict[str, Any]], **kwargs: Any) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        if image.startswith(("https://", "http://")):
            await self.deliver(recipient_id, entry("bot", "", image=image))

    async def send_custom_json(self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any) -> None:
        text = json_message.get("text")
        if isinstance(text, str):
            await self.send_text_message(recipient_id, text)


class WebchatInput(InputChannel):
    """Rasa input channel for the embeddable web chat widget."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> WebchatInput:
        return cls()

    def __init__(self, settings: Optional[WebchatSettings] = None, limits: Optional[Settings] = None) -> None:
        self.settings = settings or process_settings().webchat
        self.limits = limits or process_settings().channels
        self._signer: Optional[TokenSigner] = TokenSigner(self.settings.secret, self.settings.token_ttl_seconds) if self.settings.secret else None
        self.store = SessionStore(self.settings)
        self.hub = Hub(self.store.history)
        self._locks: Dict[str, asyncio.Lock] = {}

    def get_output_channel(self) -> OutputChannel:
        return WebchatOutput(self.deliver_entry, self.store.offer)

    async def deliver_entry(self, session_id: str, item: Dict[str, Any]) -> None:
        """Persist one message, then push it to the session's open tabs."""
        await self.store.append(session_id, item)
        await self.hub.push(session_id, item)

    async def deliver_outbound(self, session_id: str, message: Dict[str, Any]) -> None:
        """Relay deliverer: an agent's reply, a system line, typing or a handoff state."""
        kind = message.get("kind")
        if kind == "typing":
            await self.hub.push(session_id, {"type": "typing", "on": True, "role": "agent"})
            return
        if kind == "state":
            state = {"type": "state", "id": message.get("id"), "state": message.get("state"), "agent_name": message.get("agent_name"), "position": message.get("position"), "ts": time.time()}
            await self.store.set_state(session_id, state)
            await self.store.append(session_id, state)
            await self.hub.push(session_id, state)
            return
        role = {"agent": "agent", "bot": "bot"}.get(str(kind), "system")
        item = entry(role, str(message.get("text") or ""), agent_name=message.get("agent_name"))
        if message.get("id"):
            item["id"] = str(message["id"])  # the widget de-duplicates on it
        await self.deliver_entry(session_id, item)

    async def signer(self) -> TokenSigner:
        """The token signer; without ``WEBCHAT_SECRET`` its key is generated once and
        kept in Redis, so every Rasa worker shares it and tokens survive restarts."""
        if self._signer is None:
            redis = get_redis()
            await redis.set("webchat:secret", secrets.token_hex(32), nx=True)
            self._signer = TokenSigner(await redis.get("webchat:secret"), self.settings.token_ttl_seconds)
        return self._signer

    def _allowed_origin(self, request: Request) -> bool:
        origin = request.headers.get("origin")
        return origin is None or "*" in self.settings.allowed_origins or origin in self.settings.allowed_origins

    async def open_session(self, token: Any, client_ip: str) -> str:
        """The session a genuine token names, or a brand-new one.

        Raises:
            InputError: this address opened too many sessions lately.
        """
        session_id = (await self.signer()).session_of(token)
        if session_id and await self.store.exists(session_id):
            return session_id
        if not await self.store.within_limit(f"ip:{client_ip}", self.settings.sessions_per_ip_per_hour, 3600):
            raise InputError(429, "too_many_sessions", "فُتحت محادثات كثيرة من هذا الجهاز، حاول بعد قليل.")
        return await self.store.create(client_ip)

    async def accept_message(self, session_id: str, frame: Dict[str, Any]) -> str:
        """Validate a customer frame; return the text for the bot.

        Raises:
            InputError: too fast, empty, too long, or a command the bot did not offer.
        """
        await check_rate(self.store.redis, "webchat", f"session:{session_id}", self.settings.rate_limit_messages, self.settings.rate_limit_window_seconds)
        payload = frame.get("payload")
        if isinstance(payload, str) and payload and await self.store.was_offered(session_id, payload):
            return payload
        text = clean_text(frame.get("text"), self.limits.max_message_chars)
        if text.startswith("/"):
            # Rasa reads "/intent{...}" as a command; customers only send those by tapping a button
            raise InputError(400, "command_not_allowed", "لا يمكن إرسال أوامر تبدأ بـ «/»؛ اكتب رسالتك نصّاً من فضلك.")
        return text

    async def handle_message(self, session_id: str, frame: Dict[str, Any], on_new_message: Callable[[UserMessage], Awaitable[Any]], ws: Any) -> None:
        """One customer frame; any refusal or outage answers with an ``error`` frame.

        The widget clears its text box only when the server echoes the message, so a
        refused message stays where the customer typed it.
        """
        try:
            await self._handle_message(session_id, frame, on_new_message, ws)
        except InputError as error:
            await ws.send(json.dumps({"type": "error", "client_id": frame.get("client_id"), **error.as_dict()}, ensure_ascii=False))
        except RedisError:
            logger.exception("webchat: Redis unavailable for %s", session_id)
            unavailable = InputError(503, "unavailable", "تعذّر استلام رسالتك الآن بسبب عطل مؤقت؛ أعد إرسالها بعد لحظات.")
            await ws.send(json.dumps({"type": "error", "client_id": frame.get("client_id"), **unavailable.as_dict()}, ensure_ascii=False))

    async def _handle_message(self, session_id: str, frame: Dict[str, Any], on_new_message: Callable[[UserMessage], Awaitable[Any]], ws: Any) -> None:
        """Validate, record, tell the relay, then queue it for the bot (in order per session).

        The turn runs apart from this socket (``bot/channels/inbound.py``): its replies
        reach the history and the open tabs even when it outlasts the reply timeout.
        """
        text = await self.accept_message(session_id, frame)
        shown = frame.get("text") if isinstance(frame.get("text"), str) and frame.get("payload") else text
        customer = entry("customer", str(shown).strip()[: self.limits.max_message_chars], client_id=frame.get("client_id"))
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        timeout = self.limits.reply_timeout_seconds
        async with lock:
            await self.deliver_entry(session_id, customer)
            handled = await relay_link.customer_message(CHANNEL, session_id, text, message_id=customer["id"], metadata={"webchat": {"message_id": customer["id"]}})
            if not handled:
                await self.hub.push(session_id, {"type": "typing", "on": True, "role": "bot"})
            message_id = await inbound.accept(CHANNEL, session_id, text, message_id=customer["id"], metadata={"webchat": True}, wait_seconds=timeout)
        try:
            if await inbound.wait(message_id, timeout) is None:
                logger.warning("webchat: turn of %s outlasted %ss; its reply follows when ready", session_id, timeout)
        except inbound.TurnFailed:
            retrying = InputError(503, "turn_failed", "تعذّر الرد على رسالتك الآن وسنعيد المحاولة تلقائياً، فلا داعي لإعادة إرسالها.")
            await ws.send(json.dumps({"type": "error", **retrying.as_dict()}, ensure_ascii=False))
        finally:
            await self.hub.push(session_id, {"type": "typing", "on": False, "role": "bot"})

    async def converse(self, request: Request, ws: Any, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """The life of one WebSocket: hello, session, then customer frames."""
        if not self._allowed_origin(request):
            await ws.send(json.dumps({"type": "error", "error": "origin_not_allowed", "message": "هذه الصفحة غير مسموح لها بفتح المحادثة."}))
            await ws.close(code=4403, reason="origin not allowed")
            return
        hello = await self._read_frame(ws, HELLO_TIMEOUT_SECONDS)
        if hello is None or hello.get("type") != "hello":
            await ws.close(code=4400, reason="expected hello")
            return
        try:
            # remote_addr: the customer's address behind a proxy that Sanic trusts
            # (SANIC_PROXIES_COUNT, e.g. make run WORKERS=N); else the peer's
            session_id = await self.open_session(hello.get("token"), request.remote_addr or request.ip or "unknown")
        except InputError as error:
            await ws.send(json.dumps({"type": "error", **error.as_dict()}, ensure_ascii=False))
            await ws.close(code=4429, reason=error.code)
            return
        tasks: Set[asyncio.Task] = set()
        # registered before the history is read, so nothing stored after it is missed;
        # frames wait for the session frame (the widget dedupes on id what is in both)
        send_lock = self.hub.add(session_id, ws)
        try:
            async with send_lock:
                history = await self.store.history(session_id)
                self.hub.shown(session_id, history)
                await ws.send(
                    json.dumps(
                        {
                            "type": "session",
                            "session_id": session_id,
                            "token": (await self.signer()).issue(session_id),
                            "history": history,
                            "state": await self.store.state(session_id),
                            "max_chars": self.limits.max_message_chars,
                        },
                        ensure_ascii=False,
                    )
                )
            while True:
                frame = await self._read_frame(ws, None)
                if frame is None:
                    continue
                if frame.get("type") == "message":
                    # a task, so that typing frames keep flowing while the bot thinks
                    task = asyncio.create_task(self.handle_message(session_id, frame, on_new_message, ws))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                elif frame.get("type") == "typing":
                    await relay_link.customer_typing(CHANNEL, session_id)
        finally:
            self.hub.remove(session_id, ws)
            if tasks:  # replies still land in the history for the next connection
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _read_frame(self, ws: Any, timeout: Optional[float]) -> Optional[Dict[str, Any]]:
        """The next JSON object frame; an ``error`` frame answers anything malformed."""
        raw = await ws.recv(timeout)
        if raw is None:
            return None
        try:
            return parse_json_object(raw, self.limits.max_body_bytes)
        except InputError as error:
            await ws.send(json.dumps({"type": "error", **error.as_dict()}, ensure_ascii=False))
            return None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("webchat", __name__)

        @hook.listener("before_server_start")
        async def start(app: Any, loop: Any) -> None:
            self.hub.start()  # frames for this process's sockets produced in other processes
            await relay_link.attach(CHANNEL, self.deliver_outbound, app, lambda _sender: self.get_output_channel())
            await inbound.attach(app, CHANNEL, lambda _sender: self.get_output_channel(), self.limits.burst_window(CHANNEL))

        @hook.listener("after_server_stop")
        async def stop(app: Any, loop: Any) -> None:
            await self.hub.stop()

        @hook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/static/<name:str>", methods=["GET"])
        async def static(request: Request, name: str) -> HTTPResponse:
            path = (STATIC_DIR / name).resolve()
            if path.parent != STATIC_DIR or not path.is_file():
                return response.json({"error": "not_found"}, status=404)
            reply = await response.file(path)
            # the widget is embedded by other origins' pages
            reply.headers["Access-Control-Allow-Origin"] = "*"
            reply.headers["Cache-Control"] = "no-cache"
            reply.headers["X-Content-Type-Options"] = "nosniff"
            return reply

        @hook.websocket("/socket")
        async def socket(request: Request, ws: Any) -> None:
            await self.converse(request, ws, on_new_message)

        return hook
