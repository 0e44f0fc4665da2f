"""The workbench's one Redis client: Rasa's trackers (read only) and its own keys.

Keys (prefix ``trainer:`` by default, see PROTOCOL.md):
    ``trainer:audit``     stream; one entry per trainer action, field ``entry`` (JSON)
    ``trainer:undone``    hash; audit id -> id of the audit entry that undid it
    ``trainer:reviewed``  set; inbox item ids already labelled or dismissed
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple

import redis.asyncio as aioredis


class WorkbenchStore:
    """Async access to Redis for the workbench.

    Args:
        url: ``redis://`` URL.
        tracker_prefix: key prefix of Rasa's trackers (``tracker:tracker:``).
        key_prefix: prefix of the workbench's own keys.
        audit_retention_seconds: audit entries older than this are trimmed on each write.
    """

    def __init__(
        self, url: str, tracker_prefix: str = "tracker:tracker:", key_prefix: str = "trainer:",
        audit_retention_seconds: float = 365 * 86400,
    ) -> None:
        self.redis = aioredis.Redis.from_url(url, decode_responses=True)
        self.tracker_prefix = tracker_prefix
        self.key_prefix = key_prefix
        self.audit_retention_seconds = audit_retention_seconds

    def _key(self, name: str) -> str:
        return self.key_prefix + name

    async def close(self) -> None:
        await self.redis.close()

    async def dialogues(self, limit: int = 2000) -> AsyncIterator[Tuple[str, Dict[str, Any]]]:
        """Serialised trackers as (conversation id, dialogue dict); unreadable ones are skipped."""
        seen = 0
        async for key in self.redis.scan_iter(match=self.tracker_prefix + "*", count=200):
            raw = await self.redis.get(key)
            if raw is None:
                continue
            try:
                dialogue = json.loads(raw)
            except (TypeError, ValueError):
                continue  # not a tracker we understand; never fail the whole inbox
            if isinstance(dialogue, dict):
                yield key[len(self.tracker_prefix) :], dialogue
                seen += 1
                if seen >= limit:
                    return

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
