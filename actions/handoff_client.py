"""The action server's one client of the handoff service (handoff/PROTOCOL.md).

``POST /api/internal/tickets`` opens a ticket and answers a :class:`HandoffReceipt`;
``POST /api/internal/tickets/<id>/rating`` stores the customer's rating. Any
failure (down, slow, refused, nonsense) is one exception,
:class:`HandoffUnavailable`, so the actions have one fallback to write.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

from actions import settings
from handoff.contract import CALLBACK, OPEN_STATES, QUEUED


class HandoffUnavailable(Exception):
    """The handoff service could not be reached or answered nonsense."""


@dataclass(frozen=True)
class HandoffReceipt:
    """What the handoff service answers to a new ticket.

    Attributes:
        ticket_id: the service's ticket id.
        position: place in the queue (1 is next).
        estimated_wait_s: the service's wait estimate, None when it has none.
        agents_on_duty: colleagues available for live chat now.
        callback_eta: ISO 8601 time of the promised callback when nobody is on duty.
        within_duty_hours: whether colleagues work at this hour (None: the service
            did not say; then the assistant never claims it is out of hours).
        state: the ticket's state, decided by the service (``handoff/contract.py``):
            ``callback`` when nobody can chat now (the bot stays available), else
            ``queued`` (or ``with_agent`` for a ticket already taken).
    """

    ticket_id: str
    position: Optional[int] = None
    estimated_wait_s: Optional[float] = None
    agents_on_duty: int = 0
    callback_eta: Optional[str] = None
    within_duty_hours: Optional[bool] = None
    state: str = QUEUED

    @classmethod
    def from_json(cls, data: Any) -> HandoffReceipt:
        """Read the service's JSON answer.

        Raises:
            HandoffUnavailable: the answer lacks a ticket id.
        """
        if not isinstance(data, Mapping) or not data.get("ticket_id"):
            raise HandoffUnavailable(f"handoff service answered without a ticket id: {data!r:.200}")

        def number(key: str) -> Optional[float]:
            value = data.get(key)
            return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

        position = number("position")
        on_duty = int(number("agents_on_duty") or 0)
        state = data.get("state")
        if state not in OPEN_STATES:
            # a service without the state in its answer: nobody on duty meant a callback
            state = CALLBACK if on_duty <= 0 else QUEUED
        return cls(
            ticket_id=str(data["ticket_id"]),
            position=int(position) if position is not None else None,
            estimated_wait_s=number("estimated_wait_s"),
            agents_on_duty=on_duty,
            callback_eta=str(data["callback_eta"]) if data.get("callback_eta") else None,
            within_duty_hours=data["within_duty_hours"] if isinstance(data.get("within_duty_hours"), bool) else None,
            state=str(state),
        )


class HandoffClient:
    """The action server's client of the handoff service (service token auth).

    Args:
        base_url: the service's base URL, e.g. ``http://localhost:5080``.
        token: the shared service token (``Authorization: Bearer``), or None.
        timeout_s: time limit of one call; slower counts as unavailable.
    """

    def __init__(self, base_url: str, token: str | None, timeout_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    @classmethod
    def from_settings(cls) -> HandoffClient:
        """A client for the configured service (read on every call: tests change it)."""
        config = settings.get_settings()
        return cls(config.handoff_url, config.handoff_service_token, config.handoff_timeout_s)

    def _post_blocking(self, path: str, body: Mapping[str, Any]) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            f"{self.base_url}{path}", data=json.dumps(body, ensure_ascii=False).encode("utf-8"), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 (configured URL)
                text = response.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            raise HandoffUnavailable(f"POST {path}: HTTP {error.code}") from error
        except (OSError, ValueError) as error:  # refused, unreachable, timeout, bad URL
            raise HandoffUnavailable(f"POST {path}: {error!r}") from error
        try:
            return json.loads(text) if text.strip() else {}
        except ValueError as error:
            raise HandoffUnavailable(f"POST {path}: not JSON: {text[:200]!r}") from error

    async def _post(self, path: str, body: Mapping[str, Any]) -> Any:
        # The standard library's client in a worker thread: the action server
        # needs no extra HTTP package, and the event loop keeps serving others.
        return await asyncio.to_thread(self._post_blocking, path, body)

    async def create_ticket(self, ticket: Mapping[str, Any]) -> HandoffReceipt:
        """Open (or find the open) ticket of a conversation.

        Raises:
            HandoffUnavailable: the service is down, slow, refuses or answers nonsense.
        """
        return HandoffReceipt.from_json(await self._post("/api/internal/tickets", ticket))

    async def rate(self, ticket_id: str, rating: int, comment: str | None = None) -> None:
        """Store the customer's rating (and comment) with the ticket.

        Raises:
            HandoffUnavailable: as :meth:`create_ticket`.
        """
        body: Dict[str, Any] = {"rating": rating}
        if comment:
            body["comment"] = comment
        await self._post(f"/api/internal/tickets/{ticket_id}/rating", body)
