"""Middleware, error replies and ``/health`` shared by the service's web processes.

The agent console (:mod:`handoff.app`) and the trainer workbench (:mod:`workbench.app`)
answer every refusal as ``{"error": code, "message": Arabic text}`` and send the
same security headers; both install these two middlewares, keep their handoff store
under :data:`STORE_KEY` and answer ``GET /health`` with :func:`health`.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from aiohttp import web

from handoff.auth import AuthError
from handoff.payloads import PayloadError
from handoff.store import HandoffStore, StoreError

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STORE_KEY = web.AppKey("store", HandoffStore)

_STORE_MESSAGES = {
    "unknown_ticket": "لا توجد تذكرة بهذا الرقم.",
    "wrong_state": "حالة التذكرة لا تسمح بهذا الإجراء.",
    "not_your_ticket": "هذه التذكرة ليست معك.",
    "unknown_agent": "لا يوجد زميل بهذا الاسم.",
}


def error_response(status: int, code: str, message_ar: str, **extra: Any) -> web.Response:
    return web.json_response({"error": code, "message": message_ar, **extra}, status=status)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every refusal into a JSON 4xx and every crash into a JSON 500."""
    try:
        return await handler(request)
    except PayloadError as error:
        return error_response(error.status, error.code, error.message_ar)
    except StoreError as error:
        return error_response(error.status, error.code, _STORE_MESSAGES.get(error.code, error.code), detail=error.detail)
    except AuthError:
        raise
    except web.HTTPException as error:
        if request.path.startswith("/api/") and error.status >= 400:
            return error_response(error.status, error.reason.lower().replace(" ", "_"), "طلب غير صالح.")
        raise
    except Exception:
        logger.exception("%s %s failed", request.method, request.path)
        return error_response(500, "internal_error", "حدث خطأ داخلي؛ لم يضع شيء، حاول مرة أخرى.")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No inline script, no framing, no sniffing: customer text can never become code."""
    response = await handler(request)
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self' ws: wss: http: https:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response




async def health(request: web.Request) -> web.Response:
    """Liveness and Redis (through the app's store)."""
    try:
        await request.app[STORE_KEY].ping()
    except Exception as error:  # noqa: BLE001 - health reports, never raises
        return web.json_response({"status": "redis_unavailable", "detail": str(error)}, status=503)
    return web.json_response({"status": "ok"})
