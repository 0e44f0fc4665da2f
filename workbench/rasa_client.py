"""The workbench's one client of the running Rasa server's HTTP API (``--enable-api``)."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional, Sequence, Tuple
from urllib.parse import quote

import aiohttp


class RasaError(RuntimeError):
    """The Rasa server did not answer as expected."""


class RasaClient:
    """``GET /status``, ``GET /conversations/{id}/tracker`` and ``PUT /model`` of a Rasa server.

    Args:
        url: base URL, e.g. ``http://localhost:5005``.
        token: the server's ``--auth-token``, when it has one (sent as ``?token=``).
        timeout: seconds per request; loading a model takes a while.
    """

    def __init__(self, url: str, token: Optional[str] = None, timeout: float = 300) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    def _params(self) -> Dict[str, str]:
        return {"token": self.token} if self.token else {}

    async def status(self) -> Dict[str, Any]:
        """The server's status, including ``model_file`` (the loaded model)."""
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as session:
                async with session.get(f"{self.url}/status", params=self._params()) as response:
                    if response.status != 200:
                        raise RasaError(f"GET /status answered {response.status}: {(await response.text())[:300]}")
                    return await response.json()
        except aiohttp.ClientError as error:
            raise RasaError(f"Rasa server at {self.url} unreachable: {error}") from error

    async def load_model(self, model_file: str) -> None:
        """Replace the running server's model without a restart (``PUT /model``)."""
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as session:
                async with session.put(f"{self.url}/model", json={"model_file": model_file}, params=self._params()) as response:
                    if response.status != 204:
                        raise RasaError(f"PUT /model answered {response.status}: {(await response.text())[:300]}")
        except aiohttp.ClientError as error:
            raise RasaError(f"Rasa server at {self.url} unreachable: {error}") from error

    async def trackers(self, conversation_ids: Sequence[str], concurrency: int = 8,
                       timeout: float = 30) -> List[Tuple[str, Optional[Dict[str, Any]]]]:
        """Each conversation's tracker with all its events (``include_events=ALL``).

        A conversation the server could not serialise (another 4xx/5xx answer) comes
        back as ``(id, None)``: one broken tracker never hides the others.

        Raises:
            RasaError: the server is unreachable, or refuses the token (401/403).
        """
        params = {**self._params(), "include_events": "ALL"}
        gate = asyncio.Semaphore(concurrency)

        async def one(session: aiohttp.ClientSession, conversation_id: str) -> Tuple[str, Optional[Dict[str, Any]]]:
            async with gate:
                url = f"{self.url}/conversations/{quote(conversation_id, safe='')}/tracker"
                async with session.get(url, params=params) as response:
                    if response.status in (401, 403):
                        raise RasaError(f"GET /conversations/.../tracker answered {response.status}: check RASA_TOKEN")
                    if response.status != 200:
                        return conversation_id, None
                    try:
                        body = await response.json()
                    except (aiohttp.ContentTypeError, ValueError):
                        return conversation_id, None
                    return conversation_id, body if isinstance(body, dict) else None

        try:
            # a time limit per request: a few thousand trackers may take longer in all
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=timeout)) as session:
                return list(await asyncio.gather(*(one(session, cid) for cid in conversation_ids)))
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise RasaError(f"Rasa server at {self.url} unreachable: {error}") from error
