"""Queue arithmetic: estimated wait, callback time, position messages. Pure functions."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Optional
from zoneinfo import ZoneInfo

from handoff.settings import QueueConfig


def estimated_wait_seconds(position: int, agents_on_duty: int, config: QueueConfig) -> int:
    """Position times the average handle time, shared by the agents on duty."""
    if position <= 0:
        return 0
    return int(math.ceil(position * config.average_handle_minutes * 60 / max(agents_on_duty, 1)))


def within_duty_hours(moment: datetime, config: QueueConfig) -> bool:
    return config.duty_start_hour <= moment.hour < config.duty_end_hour


def callback_eta(now: datetime, agents_on_duty: int, config: QueueConfig) -> Optional[datetime]:
    """When a colleague will call back, if nobody can answer now (None when someone can).

    Outside duty hours that is the next duty start plus the callback delay; inside
    duty hours with nobody online, now plus the callback delay.
    """
    if agents_on_duty > 0 and within_duty_hours(now, config):
        return None
    delay = timedelta(minutes=config.callback_eta_minutes)
    if within_duty_hours(now, config):
        return now + delay
    start = now.replace(hour=config.duty_start_hour, minute=0, second=0, microsecond=0)
    if now.hour >= config.duty_end_hour:
        start += timedelta(days=1)
    return start + delay


def local_now(timezone: str) -> datetime:
    return datetime.now(ZoneInfo(timezone))


def position_message(position: int, wait_seconds: int, callback: Optional[datetime]) -> str:
    """The periodic update a waiting customer reads (Arabic)."""
    if callback is not None:
        return (
            f"ما زلت في قائمة الانتظار (ترتيبك {position}). لا يوجد زميل متاح الآن، "
            f"وسيتصل بك أحد زملائنا نحو الساعة {callback.strftime('%H:%M')}. محادثتك محفوظة."
        )
    minutes = max(1, math.ceil(wait_seconds / 60))
    return f"ما زلت في قائمة الانتظار: ترتيبك {position}، والوقت المتوقع نحو {minutes} دقيقة. شكراً لصبرك."
