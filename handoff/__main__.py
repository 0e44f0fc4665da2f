"""Run the handoff service: ``python -m handoff`` (settings from the environment)."""

from __future__ import annotations

import logging

from aiohttp import web

from bot import log_privacy
from handoff.app import create_app
from handoff.settings import HandoffSettings


def main() -> None:
    log_privacy.install()  # before anything logs: no phone number reaches the service's logs
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = HandoffSettings.from_env()
    if not settings.service_token:
        logging.warning("HANDOFF_SERVICE_TOKEN is not set: the internal API refuses every call")
    web.run_app(create_app(settings), host=settings.host, port=settings.port, access_log=None)


if __name__ == "__main__":
    main()
