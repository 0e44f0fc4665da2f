"""The trainer workbench: turn real conversations into better Arabic NLU examples.

Pure modules (``masking``, ``inbox``, ``nlu_files``, ``health``, ``evaluation``),
one Redis client (``store``), one Rasa client (``rasa_client``), the operations
shared by web and command line (``service``, ``training``), the web routes
(``routes``) and the command line (``python -m handoff.workbench``).

:func:`register` is called by :func:`handoff.app.create_app` and mounts the pages
under ``/trainer`` and the JSON API under ``/api/trainer``.
"""

from __future__ import annotations

from typing import Any


def register(app: Any) -> None:
    """Mount the workbench on the handoff service's aiohttp application."""
    from handoff.workbench.routes import setup

    setup(app)
