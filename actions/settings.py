"""Settings of the action server, read from the environment.

This is the only module that reads environment variables, so a deployment can
see in one place everything it may configure:

- ``KNOWLEDGE_DIR``: folder with the organisation's YAML files (default: the
  ``knowledge`` folder next to this module, i.e. ``actions/knowledge``).
- ``REDIS_URL``: where tickets are stored (default ``redis://localhost:6379/0``).
- ``TIMEZONE``: the organisation's local time zone (default ``Asia/Riyadh``);
  "today", ticket timestamps and opening hours are all in this zone.
- ``TICKET_KEY_PREFIX``: prefix of the Redis keys of tickets (default ``tickets``).
- ``REDIS_TIMEOUT_S``: socket timeout for Redis in seconds (default ``2``), short
  so a Redis outage gives the customer an apology instead of a hung chat.
- ``HANDOFF_URL``: base URL of the handoff service (default
  ``http://localhost:5080``), where handoff tickets and ratings go.
- ``HANDOFF_SERVICE_TOKEN``: shared secret for service-to-service calls (sent as
  ``Authorization: Bearer <token>``); unset means no header (local development).
- ``HANDOFF_TIMEOUT_S``: how long a call to the handoff service may take, in
  seconds (default ``3``); slower counts as down, and the ticket is kept in Redis.
- ``RETENTION_DAYS_TICKETS``: a ``T-…`` ticket (and its indexes) expires this many
  days after its last change (default ``365``; the handoff service's closed tickets
  use the same variable).
- ``VERIFY_*``: verified customers (see ``actions/verification.py``):
  ``VERIFY_CODE_TTL_S`` (600), ``VERIFY_MAX_WRONG_CODES`` (5 per account and hour,
  then the account is locked for the rest of the hour), ``VERIFY_VERIFIED_TTL_S``
  (1800: how long a verified conversation stays verified), ``VERIFY_CODES_PER_HOUR``
  (3 codes per account and hour), ``VERIFY_ACCOUNTS_PER_CONVERSATION`` (5 different
  account or ticket numbers per conversation and hour), ``VERIFY_LOOKUPS_PER_ACCOUNT``
  (30 lookups of one account number per hour, all conversations together),
  ``VERIFY_TEMPLATE`` (``noor_verification_code:ar``: the approved WhatsApp
  authentication template, ``name:language``) and ``VERIFY_COUNTRY_CODE`` (``966``:
  how a national number such as ``05…`` is written internationally).

The environment is read once per process (:func:`get_settings`, the action
server's one settings object); :func:`read_settings` reads it afresh, which the
tests use so that ``monkeypatch.setenv`` takes effect. The expensive things built
from the settings (the knowledge base, Redis clients) are cached by their owners.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_KNOWLEDGE_DIR = Path(__file__).resolve().parent / "knowledge"
DEFAULT_REDIS_URL = "redis://localhost:6379/0"
DEFAULT_TIMEZONE = "Asia/Riyadh"
DEFAULT_HANDOFF_URL = "http://localhost:5080"

# Used only when the system has no tz database: Saudi Arabia keeps UTC+3 all
# year, so the default zone can still be honoured exactly.
_FIXED_OFFSETS = {"Asia/Riyadh": timedelta(hours=3)}


@dataclass(frozen=True)
class Settings:
    """Configuration of the action server.

    Attributes:
        knowledge_dir: folder holding the organisation's knowledge files.
        redis_url: Redis connection URL for the ticket store.
        timezone: IANA name of the organisation's time zone.
        ticket_key_prefix: prefix of the ticket keys in Redis.
        redis_timeout_s: Redis socket timeout in seconds.
        handoff_url: base URL of the handoff service (no trailing slash).
        handoff_service_token: shared secret for the handoff service, or None.
        handoff_timeout_s: time limit of one call to the handoff service.
        ticket_retention_s: how long a ``T-…`` ticket outlives its last change.
        verification: limits of customer verification.
    """

    knowledge_dir: Path
    redis_url: str
    timezone: str
    ticket_key_prefix: str
    redis_timeout_s: float
    handoff_url: str = DEFAULT_HANDOFF_URL
    handoff_service_token: str | None = None
    handoff_timeout_s: float = 3.0
    ticket_retention_s: int = 365 * 86400
    verification: VerificationSettings = field(default_factory=lambda: VerificationSettings())


@dataclass(frozen=True)
class VerificationSettings:
    """Limits of customer verification (``VERIFY_*``; see the module docstring)."""

    code_ttl_s: int = 600
    max_wrong_codes: int = 5
    verified_ttl_s: int = 1800
    codes_per_hour: int = 3
    accounts_per_conversation: int = 5
    lookups_per_account: int = 30
    template: str = "noor_verification_code"
    template_language: str = "ar"
    country_code: str = "966"

    @classmethod
    def from_env(cls) -> VerificationSettings:
        name, _, language = (os.environ.get("VERIFY_TEMPLATE") or "").partition(":")
        return cls(
            code_ttl_s=int(os.environ.get("VERIFY_CODE_TTL_S") or cls.code_ttl_s),
            max_wrong_codes=int(os.environ.get("VERIFY_MAX_WRONG_CODES") or cls.max_wrong_codes),
            verified_ttl_s=int(os.environ.get("VERIFY_VERIFIED_TTL_S") or cls.verified_ttl_s),
            codes_per_hour=int(os.environ.get("VERIFY_CODES_PER_HOUR") or cls.codes_per_hour),
            accounts_per_conversation=int(os.environ.get("VERIFY_ACCOUNTS_PER_CONVERSATION") or cls.accounts_per_conversation),
            lookups_per_account=int(os.environ.get("VERIFY_LOOKUPS_PER_ACCOUNT") or cls.lookups_per_account),
            template=name.strip() or cls.template,
            template_language=language.strip() or cls.template_language,
            country_code=(os.environ.get("VERIFY_COUNTRY_CODE") or cls.country_code).lstrip("+"),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The action server's settings: read from the environment on first use, then kept."""
    return read_settings()


def read_settings() -> Settings:
    """The settings from the current environment, with defaults filled in."""
    knowledge = os.environ.get("KNOWLEDGE_DIR")
    return Settings(
        knowledge_dir=Path(knowledge).resolve() if knowledge else DEFAULT_KNOWLEDGE_DIR,
        redis_url=os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL,
        timezone=os.environ.get("TIMEZONE") or DEFAULT_TIMEZONE,
        ticket_key_prefix=os.environ.get("TICKET_KEY_PREFIX") or "tickets",
        redis_timeout_s=float(os.environ.get("REDIS_TIMEOUT_S") or 2),
        handoff_url=(os.environ.get("HANDOFF_URL") or DEFAULT_HANDOFF_URL).rstrip("/"),
        handoff_service_token=os.environ.get("HANDOFF_SERVICE_TOKEN") or None,
        handoff_timeout_s=float(os.environ.get("HANDOFF_TIMEOUT_S") or 3),
        ticket_retention_s=int(float(os.environ.get("RETENTION_DAYS_TICKETS") or 365) * 86400),
        verification=VerificationSettings.from_env(),
    )


def local_zone(name: str | None = None) -> tzinfo:
    """The organisation's time zone.

    Args:
        name: IANA zone name; defaults to the configured ``TIMEZONE``.

    Returns:
        A tzinfo; a fixed offset when the system lacks the tz database.
    """
    name = name or get_settings().timezone
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        return timezone(_FIXED_OFFSETS.get(name, timedelta(0)), name)


def now() -> datetime:
    """The current local time of the organisation (timezone-aware)."""
    return datetime.now(local_zone())


def today() -> date:
    """Today's date in the organisation's time zone (not the server's)."""
    return now().date()
