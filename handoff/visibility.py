"""Who sees which ticket, and how much of the customer (pure functions).

Agents see the queue and the tickets they hold, with the customer's masked
display only: the conversation id of a WhatsApp or Twilio customer is their
phone number. Supervisors see every ticket, raw ids included (callbacks,
complaints). The console addresses tickets by ``ticket_id`` and never needs the
conversation id.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from handoff.contract import WAITING_STATES, WITH_AGENT

SUPERVISOR = "supervisor"
# Fields that identify the customer beyond the masked display.
RAW_ID_FIELDS = ("conversation_id",)


def can_see(role: str, username: str, ticket: Mapping[str, Any]) -> bool:
    """True when a console user may read the ticket (supervisors: all; agents: queued or held)."""
    if role == SUPERVISOR:
        return True
    state = ticket.get("state")
    return state in WAITING_STATES or (state == WITH_AGENT and ticket.get("agent") == username)


def for_role(ticket: Mapping[str, Any], role: str) -> Dict[str, Any]:
    """The ticket (or summary) as the role may see it: raw ids only for supervisors."""
    if role == SUPERVISOR:
        return dict(ticket)
    return {key: value for key, value in ticket.items() if key not in RAW_ID_FIELDS}


def feed_entry_for(
    role: str, username: str, body: Mapping[str, Any], ticket: Optional[Mapping[str, Any]], seen: set
) -> Optional[Dict[str, Any]]:
    """What one live-feed entry shows this user, or None to skip it.

    Args:
        role / username: the console user.
        body: the feed entry (``ticket_created``, ``ticket_updated``, ``event``, ``typing``).
        ticket: the ticket's latest summary (from the entry itself or the store).
        seen: ids of tickets this socket has shown; updated here. A ticket that
            leaves the user's sight (taken by a colleague, closed) is announced once
            with its state only, so the console drops it.
    """
    ticket_id = body.get("ticket_id")
    if ticket is None:
        return None
    visible = can_see(role, username, ticket)
    if body.get("kind") in ("ticket_created", "ticket_updated"):
        if visible:
            seen.add(ticket_id)
            return {**body, "ticket": for_role(body.get("ticket") or {}, role)}
        if ticket_id in seen:
            seen.discard(ticket_id)
            state = {key: ticket.get(key) for key in ("ticket_id", "state", "agent")}
            return {"kind": body.get("kind"), "ticket_id": ticket_id, "ticket": state}
        return None
    return dict(body) if visible else None
