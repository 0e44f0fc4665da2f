"""The workbench's one Redis client: its own keys and the index of conversations.

Keys (prefix ``trainer:`` by default, see PROTOCOL.md):
    ``trainer:audit``          stream; one entry per trainer action, field ``entry`` (JSON)
    ``trainer:undone``         hash; audit id -> id of the audit entry that undid it
    ``trainer:reviewed``       set; inbox item ids already labelled or dismissed
    ``trainer:conversations``  sorted set; the conversation ids the workbench knows,
                               scored by when it first saw them (bounded, see below)

The trackers themselves are read through Rasa's HTTP API (:mod:`workbench.rasa_client`),
never from Redis. Rasa 3.6 has ``GET /conversations/{id}/tracker`` but no way to list
conversations, so the workbench keeps that list itself: :meth:`WorkbenchStore.discover`
adds the ids of tracker keys it has not seen yet (a SCAN of key names only, no value
is read), at most once per ``discovery_seconds`` and never on every request; the
index keeps the newest ``max_conversations`` ids, and ids whose tracker expired
(``record_exp``) leave it before anyone asks Rasa for them: Rasa would answer an
unknown id by creating and saving an empty tracker.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, Dict, List, Optional

import redis.asyncio as aioredis


class WorkbenchStore:
    """Async access to Redis for the workbench.

    Args:
        url: ``redis://`` URL.
        tracker_prefix: key prefix of Rasa's trackers (``tracker:tracker:``).
        key_prefix: prefix of the workbench's own keys.
        audit_retention_seconds: audit entries older than this are trimmed on each write.
        max_conversations: size of the conversation index (newest kept).
    """

    def __init__(
        self, url: str, tracker_prefix: str = "tracker:tracker:", key_prefix: str = "trainer:",
        audit_retention_seconds: float = 365 * 86400, max_conversations: int = 2000,
    ) -> None:
        self.redis = aioredis.Redis.from_url(url, decode_responses=True)
        self.tracker_prefix = tracker_prefix
        self.key_prefix = key_prefix
        self.audit_retention_seconds = audit_retention_seconds
        self.max_conversations = max_conversations

    def _key(self, name: str) -> str:
        return self.key_prefix + name

    async def close(self) -> None:
        await self.redis.close()

    async def discover(self) -> int:
        """Add the conversations whose tracker keys the index does not hold yet.

        One pass of SCAN over key *names* matching the tracker prefix (values are
        never read here); new ids are scored with the time they were first seen, and
        the index is trimmed to the newest ``max_conversations``.

        Returns:
            How many ids were new.
        """
        index = self._key("conversations")
        now = time.time()
        added = 0
        batch: List[str] = []
        async for key in self.redis.scan_iter(match=self.tracker_prefix + "*", count=500):
            batch.append(key[len(self.tracker_prefix) :])
            if len(batch) >= 500:
                added += await self.redis.zadd(index, dict.fromkeys(batch, now), nx=True)
                batch = []
        if batch:
            added += await self.redis.zadd(index, dict.fromkeys(batch, now), nx=True)
        await self.redis.zremrangebyrank(index, 0, -(self.max_conversations + 1))
        return added

    async def conversation_ids(self, limit: int) -> List[str]:
        """The newest ``limit`` conversations of the index whose tracker still exists.

        Ids whose tracker key has expired are removed from the index (one pipelined
        EXISTS per id, no value read), so the workbench never asks Rasa for them.
        """
        index = self._key("conversations")
        ids = list(await self.redis.zrevrange(index, 0, max(0, limit - 1)))
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for conversation_id in ids:
                pipe.exists(self.tracker_prefix + conversation_id)
            present = await pipe.execute()
        gone = [cid for cid, exists in zip(ids, present, strict=True) if not exists]
        if gone:
            await self.redis.zrem(index, *gone)
        return [cid for cid, exists in zip(ids, present, strict=True) if exists]

    async def touch(self, last_seen: Dict[str, float]) -> None:
        """Score indexed conversations by their latest event (from Rasa), so the
        index keeps the most recently active ones; ids not in the index stay out."""
        if last_seen:
            await self.redis.zadd(self._key("conversations"), last_seen, xx=True)

    async def ref_key(self) -> bytes:
        """The secret of opaque conversation references, made once per deployment (``trainer:ref_key``)."""
        await self.redis.set(self._key("ref_key"), secrets.token_hex(32), nx=True)
        return str(await self.redis.get(self._key("ref_key"))).encode("ascii")

    async def reviewed(self) -> List[str]:
        return list(await self.redis.smembers(self._key("reviewed")))

    async def mark_reviewed(self, item_id: str, reviewed: bool = True) -> None:
        if reviewed:
            await self.redis.sadd(self._key("reviewed"), item_id)
        else:
            await self.redis.srem(self._key("reviewed"), item_id)

    async def record(self, who: str, action: str, **details: Any) -> Dict[str, Any]:
        """Append an audit entry and return it with its id.

        Args:
            who: the trainer's user name.
            action: ``add_example``, ``dismiss``, ``undo``, ``train``, ``load_model``.
            details: what changed (file, example, before/after ...), JSON-serialisable.
        """
        entry = {"who": who, "when": time.time(), "action": action, **details}
        # retention: stream ids are milliseconds, so MINID drops every entry older than the limit
        oldest_kept = int((time.time() - self.audit_retention_seconds) * 1000)
        entry_id = await self.redis.xadd(self._key("audit"), {"entry": json.dumps(entry, ensure_ascii=False)}, minid=f"{oldest_kept}-0", approximate=False)
        entry["id"] = entry_id
        return entry

    async def entry(self, entry_id: str) -> Optional[Dict[str, Any]]:
        try:
            found = await self.redis.xrange(self._key("audit"), min=entry_id, max=entry_id)
        except aioredis.ResponseError:
            return None  # not a stream id
        if not found:
            return None
        entry = json.loads(found[0][1]["entry"])
        entry["id"] = found[0][0]
        entry["undone_by"] = await self.redis.hget(self._key("undone"), entry["id"])
        return entry

    async def history(self, limit: int = 100) -> List[Dict[str, Any]]:
        """The newest audit entries first, each with ``undone_by`` when undone."""
        rows = await self.redis.xrevrange(self._key("audit"), count=limit)
        undone = await self.redis.hgetall(self._key("undone"))
        out = []
        for entry_id, fields in rows:
            entry = json.loads(fields["entry"])
            entry["id"] = entry_id
            entry["undone_by"] = undone.get(entry_id)
            out.append(entry)
        return out

    async def claim_undo(self, entry_id: str, undo_id: str) -> bool:
        """Mark ``entry_id`` undone; False when it already was (two clicks, two tabs)."""
        return bool(await self.redis.hsetnx(self._key("undone"), entry_id, undo_id))

    async def set_undone(self, entry_id: str, undo_id: str) -> None:
        await self.redis.hset(self._key("undone"), entry_id, undo_id)

    async def release_undo(self, entry_id: str) -> None:
        await self.redis.hdel(self._key("undone"), entry_id)
