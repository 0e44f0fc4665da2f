"""The action server (rasa_sdk) bound to loopback and behind a shared secret.

``python -m rasa_sdk`` listens on every interface (``SANIC_HOST``, default 0.0.0.0)
and runs any action for whoever posts a tracker to ``/webhook``, a forged one
included. This entry point builds the same app (``rasa_sdk.endpoint.create_app``),
listens on ``--host`` (default 127.0.0.1) and answers 401 to every request but
``GET /health`` that lacks ``?token=<ACTION_SERVER_TOKEN>``, which is what Rasa sends
when ``endpoints.yml`` has ``action_endpoint: token: ${ACTION_SERVER_TOKEN}``.

Usage (as ``scripts/stack.py`` does)::

    ACTION_SERVER_TOKEN=... python -m scripts.action_server --actions actions --port 5055
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import List, Optional

from sanic import Sanic, response
from sanic.request import Request

from bot.untrusted import safe_equal

logger = logging.getLogger(__name__)
PUBLIC_PATHS = frozenset({"/health"})


def require_token(app: Sanic, token: str) -> Sanic:
    """Refuse (401) every request but the health check without ``?token=<token>``."""
    if not token:
        raise ValueError("the action server needs a token (ACTION_SERVER_TOKEN)")

    @app.middleware("request")
    async def check_token(request: Request):
        if request.path in PUBLIC_PATHS and request.method in ("GET", "HEAD"):
            return None
        if not safe_equal(request.args.get("token"), token):
            return response.json({"error": "unauthorized"}, status=401)
        return None

    return app


def create_app(actions: str, token: str, cors_origins: Optional[str] = None) -> Sanic:
    """rasa_sdk's app for the ``actions`` package, behind ``token``."""
    from rasa_sdk.endpoint import create_app as sdk_app

    # no CORS by default: browsers have no business calling the action server
    return require_token(sdk_app(actions, cors_origins=cors_origins or []), token)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.action_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--actions", default="actions", help="the actions package")
    parser.add_argument("--host", default=os.environ.get("ACTION_SERVER_HOST", "127.0.0.1"), help="interface to listen on")
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args(argv)
    token = os.environ.get("ACTION_SERVER_TOKEN", "")
    if not token:
        print("ACTION_SERVER_TOKEN is not set: refusing to start an action server anyone could call.", file=sys.stderr)
        return 2
    from rasa_sdk import utils

    logging.basicConfig(level=logging.INFO)
    utils.update_sanic_log_level()
    app = create_app(args.actions, token)
    logger.info("Action server on http://%s:%s (token required)", args.host, args.port)
    app.run(args.host, args.port, workers=utils.number_of_sanic_workers(), access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
