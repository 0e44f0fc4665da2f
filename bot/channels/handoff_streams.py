"""The Rasa process's side of the handoff contract (``handoff/contract.py``).

The handoff service owns tickets and their state; the Rasa side never touches its
private keys. It reads the conversation hash the service keeps in step with each
ticket's state, appends what customers write to ``handoff:customer``, and consumes
``handoff:outbound`` (consumer group ``relay``). Its own bookkeeping (which control
entries it carried out) lives under ``relay:``.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Optional, Tuple

import redis.asyncio as aioredis

from bot.redis_retry import resilient_redis
from handoff import contract

Entry = Tuple[str, Dict[str, Any]]
# how long the relay remembers a control entry it carried out (retries come within minutes)
_DONE_TTL_SECONDS = 7 * 24 * 3600


class HandoffStreams:
    """Contract-level access to the handoff's shared keys.

    Args:
        redis_url: the Redis the handoff service uses (``REDIS_URL``).
    """

    def __init__(self, redis_url: str) -> None:
        self.redis: aioredis.Redis = resilient_redis(redis_url)

    async def close(self) -> None:
        await self.redis.close()
        await self.redis.connection_pool.disconnect()

    # ------------------------------------------------------------ conversation
    async def conversation(self, conversation_id: str) -> Optional[Dict[str, str]]:
        """The conversation's open ticket: ``{ticket_id, state, channel}``, or None."""
        found = await self.redis.hgetall(contract.conversation_key(conversation_id))
        return dict(found) if found else None

    async def send_customer(
        self,
        kind: str,
        conversation_id: str,
        ticket_id: str,
        channel: str,
        text: str = "",
        message_id: Optional[str] = None,
        metadata: Optional[Dict[str, Any]] = None,
    ) -> None:
        """Append a customer message (``kind="message"``) or typing notice for the service."""
        fields = {
            contract.CUSTOMER_KIND: kind,
            contract.CUSTOMER_CONVERSATION: conversation_id,
            contract.CUSTOMER_TICKET: ticket_id,
            contract.CUSTOMER_CHANNEL: channel,
            contract.CUSTOMER_TEXT: text,
            contract.CUSTOMER_MESSAGE_ID: message_id or "",
            contract.CUSTOMER_METADATA: json.dumps(metadata or {}, ensure_ascii=False),
            "ts": f"{time.time():.3f}",
        }
        await self.redis.xadd(contract.CUSTOMER, fields, maxlen=contract.CUSTOMER_MAXLEN, approximate=True)

    # ----------------------------------------------------------------- outbound
    async def ensure_relay_group(self) -> None:
        """Create the relay's consumer group (and the stream) when missing."""
        try:
            await self.redis.xgroup_create(contract.OUTBOUND, contract.RELAY_GROUP, id="0", mkstream=True)
        except Exception as error:  # noqa: BLE001 - BUSYGROUP means it exists already
            if "BUSYGROUP" not in str(error):
                raise

    async def read_outbound(self, consumer: str, block_ms: int = 5000, count: int = 50) -> List[Entry]:
        """New entries for this relay consumer."""
        result = await self.redis.xreadgroup(
            contract.RELAY_GROUP, consumer, {contract.OUTBOUND: ">"}, count=count, block=block_ms
        )
        return [
            (entry_id, json.loads(fields["body"]))
            for _stream, items in result or []
            for entry_id, fields in items
            if fields and "body" in fields
        ]

    async def reclaim_outbound(self, consumer: str, min_idle_ms: int, count: int = 50) -> List[Entry]:
        """Take over entries read but not acknowledged for ``min_idle_ms`` (a relay died or failed)."""
        result = await self.redis.xautoclaim(
            contract.OUTBOUND, contract.RELAY_GROUP, consumer, min_idle_ms, start_id="0-0", count=count
        )
        entries = []
        for entry_id, fields in result[1] if len(result) > 1 else []:
            if fields and "body" in fields:
                entries.append((entry_id, json.loads(fields["body"])))
            elif entry_id:
                await self.ack_outbound(entry_id)  # trimmed away: nothing left to deliver
        return entries

    async def ack_outbound(self, entry_id: str) -> None:
        await self.redis.xack(contract.OUTBOUND, contract.RELAY_GROUP, entry_id)

    async def was_relayed(self, message_id: str) -> bool:
        """True when a control entry (return, resolve) was already carried out."""
        return bool(await self.redis.exists(f"relay:done:{message_id}"))

    async def mark_relayed(self, message_id: str) -> None:
        await self.redis.set(f"relay:done:{message_id}", "1", ex=_DONE_TTL_SECONDS)
