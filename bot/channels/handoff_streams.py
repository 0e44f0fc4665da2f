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
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import redis.asyncio as aioredis

from bot.redis_retry import resilient_redis
from handoff import contract

Entry = Tuple[str, Dict[str, Any]]
# how long the relay remembers a control entry it carried out (retries come within minutes)
_DONE_TTL_SECONDS = 7 * 24 * 3600


# Set the idle time of relay entries a consumer holds: XCLAIM to itself with IDLE (0 to
# renew what it works on, the reclaim time to hand an entry to the next reclaim pass;
# JUSTID: no delivery counted), only while it still owns them, so a relay that stalled
# past the reclaim time never takes an entry back from its new owner.
# KEYS: the stream. ARGV: group, consumer, idle ms, entry ids. Returns how many it held.
_TOUCH_OUTBOUND = """
local held = 0
for i = 4, #ARGV do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if pending[1] and pending[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'IDLE', ARGV[3], 'JUSTID')
    held = held + 1
  end
end
return held
"""


@dataclass(frozen=True)
class PendingEntry:
    """An entry of ``handoff:outbound`` read by a relay but not acknowledged yet.

    Attributes:
        entry_id: the stream id.
        consumer: the relay that holds it.
        idle_ms: time since it was delivered or last renewed.
        deliveries: how often it was read or taken over.
    """

    entry_id: str
    consumer: str
    idle_ms: int
    deliveries: int


class HandoffStreams:
    """Contract-level access to the handoff's shared keys.

    Args:
        redis_url: the Redis the handoff service uses (``REDIS_URL``).
    """

    def __init__(self, redis_url: str) -> None:
        self.redis: aioredis.Redis = resilient_redis(redis_url)
        self._touch_outbound = self.redis.register_script(_TOUCH_OUTBOUND)

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

    async def pending_outbound(self, first: str = "-", last: str = "+", count: int = 1000) -> List[PendingEntry]:
        """Entries from ``first`` to ``last`` (``(id`` excludes it) that a relay read and has
        not acknowledged, oldest first."""
        rows = await self.redis.xpending_range(contract.OUTBOUND, contract.RELAY_GROUP, min=first, max=last, count=count)
        return [
            PendingEntry(str(row["message_id"]), str(row["consumer"]), int(row["time_since_delivered"]), int(row["times_delivered"]))
            for row in rows
        ]

    async def outbound_messages(self, entry_ids: Sequence[str]) -> Dict[str, Dict[str, Any]]:
        """The messages of these entries (trimmed ones are missing from the answer)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for entry_id in entry_ids:
                pipe.xrange(contract.OUTBOUND, min=entry_id, max=entry_id)
            found = await pipe.execute()
        return {
            entry_id: json.loads(items[0][1]["body"])
            for entry_id, items in zip(entry_ids, found, strict=True)
            if items and items[0][1] and "body" in items[0][1]
        }

    async def touch_outbound(self, consumer: str, entry_ids: Sequence[str], idle_ms: int = 0) -> int:
        """Set the idle time of the entries ``consumer`` still holds: 0 renews them (it works
        on them: no relay reclaims them), the reclaim time leaves them to the next reclaim
        pass (a retry). Returns how many it still held."""
        if not entry_ids:
            return 0
        return int(await self._touch_outbound(keys=[contract.OUTBOUND], args=[contract.RELAY_GROUP, consumer, idle_ms, *entry_ids]))

    async def ack_outbound(self, entry_id: str) -> None:
        await self.redis.xack(contract.OUTBOUND, contract.RELAY_GROUP, entry_id)

    async def was_relayed(self, message_id: str) -> bool:
        """True when a control entry (return, resolve) was already carried out."""
        return bool(await self.redis.exists(f"relay:done:{message_id}"))

    async def mark_relayed(self, message_id: str) -> None:
        await self.redis.set(f"relay:done:{message_id}", "1", ex=_DONE_TTL_SECONDS)
