"""Run one service with the environment ``make run`` would give it (containers, systemd).

``endpoints.yml`` reads ``REDIS_URL`` and ``TRACKER_RECORD_EXP_SECONDS``; locally
``scripts/stack.py`` checks the first and derives the second from
``RETENTION_DAYS_TRACKERS``. A container has no stack around it, so its entry point
(``deploy/Dockerfile``) is this module: it does the same with the same functions and
then becomes the service's command (``exec``: the service is the container's main
process and gets its signals).

Usage::

    python -m scripts.service_env python -m scripts.rasa_run run --enable-api ...
"""

from __future__ import annotations

import os
import sys
from typing import Dict, List, Mapping, Optional

from scripts.stack import redis_env, retention_env


def service_env(environ: Mapping[str, str]) -> Dict[str, str]:
    """``environ`` plus the variables derived from ``REDIS_URL`` and the retention settings.

    Raises:
        ValueError: ``REDIS_URL`` is missing or not ``redis://``/``rediss://``, or a
            retention setting is not a positive number.
    """
    url = environ.get("REDIS_URL", "").strip()
    if not url:
        raise ValueError("REDIS_URL is not set (redis://:<password>@host:6379/0)")
    return {**environ, **redis_env(url), **retention_env(environ)}


def main(argv: Optional[List[str]] = None) -> int:
    command = list(sys.argv[1:] if argv is None else argv)
    if not command:
        print("usage: python -m scripts.service_env <command> [args...]", file=sys.stderr)
        return 2
    try:
        env = service_env(os.environ)
    except ValueError as error:
        print(f"scripts.service_env: {error}", file=sys.stderr)
        return 2
    os.execvpe(command[0], command, env)
    return 0  # not reached: exec replaced this process


if __name__ == "__main__":
    sys.exit(main())
