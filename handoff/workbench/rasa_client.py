"""The workbench's one client of the running Rasa server's HTTP API (``--enable-api``)."""

from __future__ import annotations

from typing import Any, Dict, Optional

import aiohttp


class RasaError(RuntimeError):
    """The Rasa server did not answer as expected."""


class RasaClient:
    """``GET /status`` and ``PUT /model`` of a Rasa server.

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
