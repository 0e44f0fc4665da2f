"""The handoff service: HTTP + WebSocket API and the agent console (aiohttp).

Routes (all JSON errors are ``{"error": code, "message": Arabic text}``):

    GET  /health                                  liveness + Redis
    GET  /                                        demo page with the web chat widget
    GET  /console                                 the agent console (static HTML/JS/CSS)
    POST /api/login, /api/logout; GET /api/me     sign-in (cookie + CSRF token)
    GET  /api/queue                               waiting and open tickets, SLA rules
    GET  /api/tickets/{id}                        ticket, transcript and events
    POST /api/tickets/{id}/claim|messages|notes|typing|transfer|return|resolve
    GET  /api/canned, /api/agents
    GET  /api/ws?after=<feed id>                  live feed (resumes after the id)
    POST /api/internal/tickets                    action server opens a ticket (service token)
    POST /api/internal/tickets/{id}/rating        the customer's rating (service token)
    GET  /api/internal/conversations/{id}         the open ticket of a conversation

The trainer workbench is a process of its own (``python -m workbench``, see
workbench/app.py): this process imports neither Rasa nor TensorFlow. The app's
store, settings and accounts are under :data:`STORE_KEY`, :data:`SETTINGS_KEY`
and :data:`handoff.auth.ACCOUNTS_KEY`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import Any, AsyncIterator, Dict, Optional
from urllib.parse import urlparse

from aiohttp import WSMsgType, web

from bot.tasks import stop_task
from handoff.auth import Accounts, add_signin_routes, authenticate, require_role, require_service_token
from handoff.canned import CannedReplies
from handoff.contract import BOT, RESOLVED
from handoff.middleware import STORE_KEY, Handler, error_response, errors_middleware, health, security_headers
from handoff.payloads import (
    CONVERSATION_ID,
    PayloadError,
    clean_text,
    parse_json_object,
    validate_rating,
    validate_ticket,
)
from handoff.service import HandoffService
from handoff.settings import PACKAGE_DIR, HandoffSettings
from handoff.store import TICKET_ID, HandoffStore, StoreError
from handoff.visibility import can_see, feed_entry_for, for_role

logger = logging.getLogger(__name__)

STATIC_DIR = PACKAGE_DIR / "static"
SETTINGS_KEY = web.AppKey("settings", HandoffSettings)
SERVICE_KEY = web.AppKey("service", HandoffService)
CANNED_KEY = web.AppKey("canned", CannedReplies)
SOCKETS_KEY: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("sockets")
AGENT_ROLES = ("agent", "supervisor")

async def read_json(request: web.Request) -> Dict[str, Any]:
    return parse_json_object(await request.read())


def ticket_id_of(request: web.Request) -> str:
    ticket_id = request.match_info["ticket_id"]
    if not TICKET_ID.match(ticket_id):
        raise StoreError(404, "unknown_ticket", ticket_id[:40])
    return ticket_id


async def visible_ticket(request: web.Request) -> Dict[str, Any]:
    """The ticket of the URL, when the signed-in user may see it (403 otherwise)."""
    user = request["user"]
    ticket = await request.app[STORE_KEY].require_ticket(ticket_id_of(request))
    if not can_see(user.role, user.username, ticket):
        raise StoreError(403, "not_your_ticket", ticket["ticket_id"])
    return ticket


def shown(request: web.Request, ticket: Dict[str, Any]) -> Dict[str, Any]:
    """A ticket as the signed-in user may see it (raw customer ids only for supervisors)."""
    return for_role(ticket, request["user"].role)


# ------------------------------------------------------------------ public
def static_page(name: str) -> Handler:
    async def page(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / name, headers={"Cache-Control": "no-cache"})

    return page


async def demo_page(request: web.Request) -> web.StreamResponse:
    """The demo organisation's page with the web chat widget of the Rasa server."""
    settings = request.app[SETTINGS_KEY]
    html = (STATIC_DIR / "demo.html").read_text(encoding="utf-8").replace("{{RASA_PUBLIC_URL}}", settings.rasa_public_url)
    # the trainer workbench is its own process on its own port (python -m workbench)
    html = html.replace("{{TRAINER_URL}}", settings.trainer_public_url)
    response = web.Response(text=html, content_type="text/html")
    # the widget's script and its API live on the Rasa server
    origin = settings.rasa_public_url
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {origin}; style-src 'self' 'unsafe-inline' {origin}; "
        f"connect-src 'self' {origin} {origin.replace('http', 'ws', 1)}; img-src 'self' data: {origin}; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    return response


# ---------------------------------------------------------------- console
@require_role(*AGENT_ROLES)
async def queue(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    service = request.app[SERVICE_KEY]
    config = service.config
    user = request["user"]
    open_tickets = [t for t in await store.open_tickets() if can_see(user.role, user.username, t)]
    return web.json_response(
        {
            "now_ms": int(time.time() * 1000),
            "feed_id": await store.feed_last_id(),
            "queue": [shown(request, t) for t in await store.queue()],
            "open": [shown(request, t) for t in open_tickets],
            "agents_on_duty": await store.agents_on_duty(config.heartbeat_seconds),
            "sla_minutes": {str(k): v for k, v in config.sla_minutes.items()},
        }
    )


@require_role(*AGENT_ROLES)
async def ticket_detail(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    ticket = await visible_ticket(request)
    events = [event.as_dict() for event in await store.events(ticket["ticket_id"])]
    position = await store.position(ticket["ticket_id"])
    return web.json_response({"ticket": shown(request, ticket), "events": events, "position": position})


@require_role(*AGENT_ROLES)
async def claim(request: web.Request) -> web.Response:
    user = request["user"]
    ticket = await request.app[SERVICE_KEY].claim(ticket_id_of(request), user.username, user.name)
    return web.json_response({"ticket": shown(request, ticket)})


@require_role(*AGENT_ROLES)
async def send_message(request: web.Request) -> web.Response:
    user = request["user"]
    text = clean_text((await read_json(request)).get("text"), request.app[SETTINGS_KEY].max_message_chars)
    event = await request.app[SERVICE_KEY].send_message(ticket_id_of(request), user.username, user.name, text)
    return web.json_response({"event": event}, status=201)


@require_role(*AGENT_ROLES)
async def add_note(request: web.Request) -> web.Response:
    user = request["user"]
    text = clean_text((await read_json(request)).get("text"), request.app[SETTINGS_KEY].max_message_chars)
    await visible_ticket(request)  # no notes on a colleague's or a closed ticket
    event = await request.app[SERVICE_KEY].add_note(ticket_id_of(request), user.username, text)
    return web.json_response({"event": event}, status=201)


@require_role(*AGENT_ROLES)
async def typing(request: web.Request) -> web.Response:
    user = request["user"]
    await request.app[SERVICE_KEY].agent_typing(ticket_id_of(request), user.username, user.name)
    return web.json_response({"status": "ok"})


@require_role(*AGENT_ROLES)
async def transfer(request: web.Request) -> web.Response:
    user = request["user"]
    target = (await read_json(request)).get("agent")
    if not isinstance(target, str) or not target or len(target) > 64:
        raise PayloadError(422, "missing_agent", "اختر الزميل الذي تحوّل إليه المحادثة.")
    ticket = await request.app[SERVICE_KEY].transfer(ticket_id_of(request), user.username, user.role, target)
    return web.json_response({"ticket": shown(request, ticket)})


def close_handler(new_state: str) -> Handler:
    @require_role(*AGENT_ROLES)
    async def close(request: web.Request) -> web.Response:
        user = request["user"]
        ticket = await request.app[SERVICE_KEY].close(ticket_id_of(request), user.username, user.role, new_state)
        return web.json_response({"ticket": shown(request, ticket)})

    return close


@require_role(*AGENT_ROLES)
async def canned(request: web.Request) -> web.Response:
    replies = request.app[CANNED_KEY]
    return web.json_response({"replies": replies.all(), "error": replies.error or None})


@require_role(*AGENT_ROLES)
async def agents(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    online = set(await store.agents_on_duty(request.app[SERVICE_KEY].config.heartbeat_seconds))
    accounts = [
        {**account, "online": account["username"] in online}
        for account in await store.list_accounts()
        if account["role"] in AGENT_ROLES
    ]
    return web.json_response({"agents": accounts})


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if not origin:
        return True
    return urlparse(origin).netloc == request.host


async def live_feed(request: web.Request) -> web.StreamResponse:
    """WebSocket of queue changes, new events and typing, resumable from a feed id.

    The client sends ``?after=<last feed id it has seen>`` when reconnecting and
    gets everything after it (Redis keeps the feed), so nothing is missed; it
    drops events whose id it already shows, so nothing is shown twice.
    """
    if not _same_origin(request):
        return error_response(403, "bad_origin", "مصدر الطلب غير مسموح.")
    user = await authenticate(request, AGENT_ROLES)
    store = request.app[STORE_KEY]
    after = request.query.get("after") or "$"
    if after != "$" and not all(part.isdigit() for part in after.split("-", 1)):
        return error_response(400, "invalid_after", "معرّف الاستئناف غير صالح.")
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    request.app[SOCKETS_KEY].add(ws)
    await store.heartbeat(user.username)
    if after == "$":
        after = await store.feed_last_id()
    await ws.send_json({"kind": "hello", "feed_id": after, "user": user.username})

    # agents get entries of the tickets they may see only, without raw customer ids
    known: Dict[str, Dict[str, Any]] = {}
    seen: set = set()

    async def visible(body: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        ticket_id = str(body.get("ticket_id") or "")
        if isinstance(body.get("ticket"), dict):
            known[ticket_id] = body["ticket"]
        elif ticket_id not in known:
            ticket = await store.get_ticket(ticket_id)
            known[ticket_id] = store.summary(ticket) if ticket else {}
        return feed_entry_for(user.role, user.username, body, known[ticket_id] or None, seen)

    async def forward() -> None:
        cursor = after
        while not ws.closed:
            try:
                entries = await store.read_feed(cursor, block_ms=5000)
                await store.heartbeat(user.username)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis restarting: wait and resume from the cursor
                logger.warning("feed read failed; retrying", exc_info=True)
                await asyncio.sleep(0.5)
                continue
            for feed_id, body in entries:
                cursor = feed_id
                entry = await visible(body)
                if entry is not None:
                    await ws.send_json({**entry, "feed_id": feed_id})

    task = asyncio.create_task(forward())
    try:
        async for message in ws:
            if message.type == WSMsgType.TEXT and message.data == "ping":
                await store.heartbeat(user.username)
                await ws.send_str("pong")
            elif message.type == WSMsgType.ERROR:
                break
    finally:
        await stop_task(task)
    return ws


# --------------------------------------------------------------- internal
async def internal_create_ticket(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS_KEY]
    require_service_token(settings, request)
    payload = validate_ticket(await read_json(request), settings.max_message_chars)
    result = await request.app[SERVICE_KEY].open_ticket(payload)
    created = result.pop("created")
    return web.json_response(result, status=201 if created else 200)


async def internal_rating(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS_KEY]
    require_service_token(settings, request)
    ticket_id = ticket_id_of(request)
    rating = validate_rating(await read_json(request), settings.max_message_chars)
    await request.app[STORE_KEY].set_rating(ticket_id, rating["rating"], rating["comment"])
    return web.json_response({"ticket_id": ticket_id, **rating})


async def internal_conversation(request: web.Request) -> web.Response:
    require_service_token(request.app[SETTINGS_KEY], request)
    conversation_id = request.match_info["conversation_id"]
    if not CONVERSATION_ID.match(conversation_id):
        raise PayloadError(400, "invalid_conversation_id", "معرّف المحادثة غير صالح.")
    ticket = await request.app[STORE_KEY].open_ticket(conversation_id)
    if ticket is None:
        return error_response(404, "no_open_ticket", "لا توجد تذكرة مفتوحة لهذه المحادثة.")
    info = await request.app[SERVICE_KEY].waiting_info(ticket["ticket_id"])
    return web.json_response({**ticket, **info})


# -------------------------------------------------------------------- app
def create_app(settings: Optional[HandoffSettings] = None, store: Optional[HandoffStore] = None) -> web.Application:
    """Build the handoff service.

    Args:
        settings: defaults to :meth:`HandoffSettings.from_env`.
        store: defaults to a store on ``settings.redis_url`` (closed with the app).

    Returns:
        The aiohttp application; run it with ``web.run_app`` (see ``handoff/__main__.py``).
    """
    settings = settings or HandoffSettings.from_env()
    store = store or HandoffStore(settings.redis_url)
    app = web.Application(middlewares=[errors_middleware, security_headers], client_max_size=1024**2)
    app[SETTINGS_KEY] = settings
    app[STORE_KEY] = store
    add_signin_routes(app, Accounts(store, settings))
    app[SERVICE_KEY] = HandoffService(store, settings, settings.queue_config())
    app[CANNED_KEY] = CannedReplies(settings.canned_replies_path)
    app[SOCKETS_KEY] = weakref.WeakSet()
    app.on_shutdown.append(_close_sockets)  # type: ignore[arg-type]  # aiosignal stubs mistype the handler

    app.router.add_get("/health", health)
    app.router.add_get("/", demo_page)
    app.router.add_get("/console", static_page("console.html"))
    app.router.add_static("/static/", STATIC_DIR, show_index=False)
    app.router.add_get("/api/queue", queue)
    app.router.add_get("/api/canned", canned)
    app.router.add_get("/api/agents", agents)
    app.router.add_get("/api/ws", live_feed)
    app.router.add_get("/api/tickets/{ticket_id}", ticket_detail)
    app.router.add_post("/api/tickets/{ticket_id}/claim", claim)
    app.router.add_post("/api/tickets/{ticket_id}/messages", send_message)
    app.router.add_post("/api/tickets/{ticket_id}/notes", add_note)
    app.router.add_post("/api/tickets/{ticket_id}/typing", typing)
    app.router.add_post("/api/tickets/{ticket_id}/transfer", transfer)
    app.router.add_post("/api/tickets/{ticket_id}/return", close_handler(BOT))
    app.router.add_post("/api/tickets/{ticket_id}/resolve", close_handler(RESOLVED))
    app.router.add_post("/api/internal/tickets", internal_create_ticket)
    app.router.add_post("/api/internal/tickets/{ticket_id}/rating", internal_rating)
    app.router.add_get("/api/internal/conversations/{conversation_id}", internal_conversation)
    app.cleanup_ctx.append(_background)
    return app


async def _close_sockets(app: web.Application) -> None:
    """Close live feeds on shutdown; consoles reconnect and resume from their last id."""
    sockets: weakref.WeakSet[web.WebSocketResponse] = app[SOCKETS_KEY]
    for ws in [socket for socket in sockets]:
        await ws.close(code=1001, message=b"server shutdown")


async def _background(app: web.Application) -> AsyncIterator[None]:
    """Position updates, customer messages and the offline-ticket inbox while the app runs; the store closes with the app."""
    service: HandoffService = app[SERVICE_KEY]
    tasks = [asyncio.create_task(loop()) for loop in (service.position_loop, service.inbox_loop, service.customer_loop)]
    yield
    for task in tasks:
        await stop_task(task)
    await app[STORE_KEY].close()


__all__ = ["create_app", "STORE_KEY", "SETTINGS_KEY", "SERVICE_KEY", "require_role"]
