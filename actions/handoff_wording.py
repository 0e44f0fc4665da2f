"""How the handoff messages put waits, queue places and callback times in words.

The sentences themselves are fragments of the reply catalogue
(actions/knowledge/replies.yml); these functions pick the fragment and its count.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Optional

from actions import settings
from actions.knowledge_base import KnowledgeBase


def _count_fragment(kb: KnowledgeBase, unit: str, count: int) -> str:
    """"دقيقة واحدة", "دقيقتين", "5 دقائق", "15 دقيقة": Arabic counts by form."""
    if count == 1:
        form = "one"
    elif count == 2:
        form = "two"
    elif 3 <= count <= 10:
        form = "few"
    else:
        form = "many"
    return kb.replies.fragment(f"{unit}_{form}", count=count)


def wait_words(kb: KnowledgeBase, seconds: Optional[float]) -> str:
    """An honest estimate in words: rounded up, never "no wait" when there is one."""
    if seconds is None or seconds < 0 or math.isnan(seconds):
        return kb.replies.fragment("wait_unknown")
    if seconds < 60:
        return kb.replies.fragment("wait_under_minute")
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return _count_fragment(kb, "minutes", minutes)
    return _count_fragment(kb, "hours", math.ceil(minutes / 60))


def queue_words(kb: KnowledgeBase, position: Optional[int]) -> str:
    """"أنت التالي" or "ترتيبك 3"; nothing when the service gave no position."""
    if not position or position < 1:
        return ""
    if position == 1:
        return kb.replies.fragment("queue_next")
    return kb.replies.fragment("queue_position", position=position)


def callback_words(kb: KnowledgeBase, eta: Optional[str], now: datetime) -> str:
    """When the callback comes: the service's time, else the organisation's promise."""
    if eta:
        try:
            moment = datetime.fromisoformat(eta.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None:
            if moment.tzinfo is not None:
                moment = moment.astimezone(settings.local_zone())
            return kb.replies.fragment("callback_at", when=kb.format_datetime(moment))
    return kb.handoff_eta(now)
