"""``python -m rasa`` with the API token taken from the environment.

Rasa reads its API token only from ``--auth-token``. Passing it on the command line
would show it to every local user (``ps``, ``/proc/<pid>/cmdline``), so this wrapper
appends it to ``sys.argv`` inside the process, where the operating system does not
show it, and then runs Rasa's own command line, with the project's patches of Rasa installed
(``bot/rasa_patches.py``) and the server following the deployment's model
(``bot/model_sync.py``).

Usage (as ``scripts/stack.py`` does)::

    RASA_TOKEN=... python -m scripts.rasa_run run --enable-api --port 5005 ...
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional


def with_token(argv: List[str], token: Optional[str]) -> List[str]:
    """``argv`` plus ``--auth-token=<token>`` when a token is set and none is given.

    One argument with ``=``: a URL-safe token may begin with ``-``, which argparse
    would otherwise take for an option (Rasa then exits: "expected one argument").
    """
    if not token or any(arg == "--auth-token" or arg.startswith("--auth-token=") for arg in argv):
        return list(argv)
    return [*argv, f"--auth-token={token}"]


def main() -> None:
    sys.argv = [sys.argv[0], *with_token(sys.argv[1:], os.environ.get("RASA_TOKEN"))]
    # Before Rasa's main, so that every action call of this server validates the
    # action server's response with one compiled validator instead of rebuilding and
    # re-checking the schema per response (issue 15); it stops the start here, loudly,
    # should a Rasa upgrade change the code it replaces.
    from bot import model_sync, rasa_patches

    rasa_patches.install()
    # every worker serves the model the trainer last loaded, not only the one that
    # received PUT /model, and a worker started later too
    model_sync.install()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
