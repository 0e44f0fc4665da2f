"""The trainer workbench's own web process: ``python -m workbench`` (port 5090 by default).

Routes:

    GET  /health                        liveness + Redis
    GET  /                              redirects to /trainer
    POST /api/login, /api/logout; GET /api/me   sign-in with the console's accounts
    GET  /trainer, /api/trainer/...     the workbench (see :mod:`workbench.routes`)

Trainers sign in with the same accounts and sessions as the agent console: both
processes use :mod:`handoff.auth` over the handoff store in ``REDIS_URL`` (the
cookie, the CSRF header, the sign-in throttle and the role checks are that
module's). This process is the one that runs ``rasa train`` (in subprocesses),
writes ``nlu_data/`` and ``models/``, and reads conversations through the Rasa
server's HTTP API; the agent console does none of that.
"""

from __future__ import annotations

from typing import Optional

from aiohttp import web

from handoff.auth import Accounts, add_signin_routes
from handoff.middleware import STORE_KEY, errors_middleware, health, security_headers
from handoff.store import HandoffStore
from workbench import routes
from workbench.settings import WorkbenchSettings


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/trainer")


def create_app(settings: Optional[WorkbenchSettings] = None) -> web.Application:
    """Build the workbench process's application.

    Args:
        settings: defaults to :meth:`WorkbenchSettings.from_env` (read once, here).
    """
    settings = settings or WorkbenchSettings.from_env()
    store = HandoffStore(settings.redis_url)
    app = web.Application(middlewares=[errors_middleware, security_headers], client_max_size=1024**2)
    app[STORE_KEY] = store  # accounts and sessions (handoff.auth), /health
    add_signin_routes(app, Accounts(store, settings.signin))
    app.router.add_get("/health", health)
    app.router.add_get("/", home)
    routes.setup(app, settings)

    async def close(app: web.Application) -> None:
        await store.close()

    app.on_cleanup.append(close)  # type: ignore[arg-type]  # aiosignal stubs mistype the handler
    return app
