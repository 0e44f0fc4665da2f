"""Tickets written while the service was down reach the agents' queue when it is back."""

from __future__ import annotations

import json

import redis
from handoff_helpers import internal, ticket_payload
from polling import poll_until

from handoff.contract import INBOX


def queue_offline(redis_url: str, conversation_id: str, offline_id: str, ticket: object = None) -> None:
    """What the action server writes when the HTTP API cannot be reached."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        body = json.dumps(ticket if ticket is not None else ticket_payload(conversation_id, channel="whatsapp"), ensure_ascii=False)
        client.xadd(INBOX, {"ticket": body, "offline_ticket": offline_id})
    finally:
        client.close()


def test_an_offline_ticket_joins_the_queue_with_the_customers_number(service, redis_url):
    queue_offline(redis_url, "966551000101", "T-123456")
    found = poll_until(lambda: internal(service, "GET", "/api/internal/conversations/966551000101").status_code == 200, 15)
    assert found
    ticket = internal(service, "GET", "/api/internal/conversations/966551000101").json()
    assert ticket["state"] == "callback"  # the customer was promised a call; the bot kept answering
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        poll_until(lambda: client.xlen(INBOX) == 0, 15)  # acknowledged and removed
    finally:
        client.close()


def test_a_replayed_entry_and_a_broken_one_open_nothing_twice(service, redis_url):
    queue_offline(redis_url, "966551000102", "T-222222")
    queue_offline(redis_url, "966551000102", "T-222222")  # the same handoff queued twice
    queue_offline(redis_url, "x", "T-333333", ticket={"not": "a ticket"})
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        poll_until(lambda: client.xlen(INBOX) == 0, 15)
    finally:
        client.close()
    first = internal(service, "GET", "/api/internal/conversations/966551000102").json()
    assert first["state"] == "callback"
    queued = [key for key in redis.Redis.from_url(redis_url, decode_responses=True).zrange("handoff:queue", 0, -1)]
    assert queued.count(first["ticket_id"]) == 1
