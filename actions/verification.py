"""Verified customers: an account's data goes only to the person it belongs to.

Typing an account or ticket number proves nothing: numbers are printed on bills,
passed around and guessed. A conversation is verified for one account when

- the customer writes from the account's phone on file, on a channel that proves
  the number (WhatsApp Cloud API ``wa_id``, Twilio ``whatsapp:+…``), or
- the customer types the one-time code sent to that phone (a WhatsApp
  authentication template queued in the WhatsApp outbox; in the local demo the fake
  Graph API records it).

The verification lasts ``verified_ttl_s`` for that conversation and account only.
Limits stop guessing and scraping: codes per account and hour, wrong codes per
account and hour (then the account is locked for the rest of the hour, whichever
conversation asks), different account numbers per conversation and hour, and
lookups per account number and hour.

:class:`Verifier` owns every ``verify:*`` key in Redis. Codes are stored as salted
HMAC digests, never as typed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Optional, Protocol

from redis import asyncio as aioredis

from actions.settings import VerificationSettings
from actions.tickets import Ticket
from bot import rate_limit
from bot.channels.outbox import enqueue_job
from bot.channels.whatsapp_payloads import template_message
from bot.nlu.arabic_text import fold_digits, normalize
from bot.untrusted import strip_invisible

NAMESPACE = "verify"
# The form slot that asks for the code. Besides a typed code (replaced at once) it
# holds VERIFIED, or UNAVAILABLE when verification cannot happen now (locked,
# limits, nothing on file): the reason was said, the form ends, and the submit
# action gives nothing away. Submit actions ask the Verifier, never the slot.
VERIFICATION_SLOT = "verification_code"
VERIFIED = "verified"
UNAVAILABLE = "unavailable"
RESEND = "resend"  # the customer asks for a new code (never stays in the slot)
HOUR = 3600
CODE_DIGITS = 6
# Channels whose sender id is a phone number the provider has verified.
PHONE_CHANNELS = frozenset({"whatsapp", "twilio"})
_CODE_IN_TEXT = re.compile(r"(?<!\d)(\d{4,8})(?!\d)")


def international_digits(value: object, country_code: str = "966") -> Optional[str]:
    """A phone number as international digits without ``+`` (``9665…``), or None.

    Accepts any digit script, spaces, dashes, dots, parentheses, ``+``/``00``
    prefixes, a national ``0`` prefix (replaced by ``country_code``) and
    Twilio's ``whatsapp:+…`` form.
    """
    text = fold_digits(strip_invisible(str(value or ""))).strip()
    text = text.split(":", 1)[1] if text.lower().startswith("whatsapp:") else text
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        pass
    elif digits.startswith("00"):
        digits = digits[2:]
    elif digits.startswith("0"):
        digits = country_code + digits[1:]
    return digits if 8 <= len(digits) <= 15 else None


# "The code did not come" / "send it again", matched on the normalised text (every
# dialect, Arabizi, English): the customer gets a new code instead of a repeated question.
_NOT_RECEIVED = (
    "ما وصل", "ماوصل", "ما وصلني", "ما وصلنيش", "موصلش", "ما جاني", "ماجاني", "ما جاش", "ما جا", "مجاش",
    "لم يصل", "لم يصلني", "ما اجاني", "مش واصل", "ما وصلتني", "ما وصلت",
    "ارسل مره ثانيه", "ارسل مره اخري", "ارسله مره", "ارسلوه", "ابعت", "ابعث", "ابعتو", "ابعثو", "عاود ارسل",
    "رمز جديد", "كود جديد", "اعد الارسال", "اعاده ارسال", "resend", "send again", "new code", "didnt get", "didn't get",
    "not received", "no code", "ma wesel", "ma wasal", "ma wsl", "mawsl", "ma ja", "ab3at", "eb3at",
)


def asks_for_a_new_code(text: object) -> bool:
    """Whether the customer says the code did not arrive or asks for another one."""
    normal = normalize(strip_invisible(str(text or ""))).text
    return not code_in(text) and any(phrase in normal for phrase in _NOT_RECEIVED_NORMAL)


def code_in(text: object) -> Optional[str]:
    """The one-time code in what the customer typed (any digit script), or None."""
    found = _CODE_IN_TEXT.findall(fold_digits(strip_invisible(str(text or ""))).replace(" ", ""))
    return found[0] if len(found) == 1 else None


def shared_without_verification(ticket: Ticket, conversation_id: str) -> bool:
    """Tickets anyone in this conversation may hear about without a code.

    The conversation's own tickets, and the organisation's own incident tickets
    (known outages: no account, no conversation), whose status is public anyway.
    """
    if ticket.conversation_id:
        return ticket.conversation_id == conversation_id
    return not ticket.account


_NOT_RECEIVED_NORMAL = tuple(normalize(phrase).text for phrase in _NOT_RECEIVED)


def phone_hint(phone: str) -> str:
    """The end of a phone number, enough for the customer to recognise it."""
    return f"••{phone[-2:]}"


class CodeSender(Protocol):
    """Delivers a one-time code to a phone number."""

    async def send(self, phone: str, code: str) -> None:
        """Queue ``code`` for ``phone`` (international digits); raises on failure."""


class WhatsAppCodeSender:
    """Queues the code as an authentication template in the WhatsApp outbox.

    The Rasa process's WhatsApp worker sends it (and retries); the action server
    only writes the job, so a slow Graph API never holds up the conversation.
    """

    def __init__(self, redis: aioredis.Redis, settings: VerificationSettings) -> None:
        self.redis, self.settings = redis, settings

    async def send(self, phone: str, code: str) -> None:
        body = template_message(phone, self.settings.template, self.settings.template_language, (code,))
        await enqueue_job(self.redis, "whatsapp", phone, body)


@dataclass(frozen=True)
class Started:
    """What happened when a code was asked for.

    Attributes:
        status: ``sent``, ``no_phone`` (nothing on file), ``too_many_codes``,
            ``locked`` (too many wrong codes in the last hour).
        hint: the end of the phone number the code went to.
    """

    status: str
    hint: str = ""

    @property
    def sent(self) -> bool:
        return self.status == "sent"


@dataclass(frozen=True)
class Checked:
    """The outcome of a typed code: ``ok``, ``wrong``, ``expired`` or ``locked``."""

    status: str
    remaining: int = 0


class Verifier:
    """Verification state of conversations (``verify:*`` keys).

    Args:
        redis: the shared Redis (async client).
        settings: limits and the template.
        sender: delivers codes (default: the WhatsApp outbox).
    """

    def __init__(self, redis: aioredis.Redis, settings: VerificationSettings, sender: Optional[CodeSender] = None) -> None:
        self.redis, self.settings = redis, settings
        self.sender = sender or WhatsAppCodeSender(redis, settings)

    # ------------------------------------------------------------------ keys
    @staticmethod
    def _verified_key(conversation_id: str, account: str) -> str:
        return f"{NAMESPACE}:ok:{conversation_id}:{account}"

    @staticmethod
    def _code_key(conversation_id: str, account: str) -> str:
        return f"{NAMESPACE}:code:{conversation_id}:{account}"

    # ------------------------------------------------------------------ state
    async def is_verified(self, conversation_id: str, account: str) -> bool:
        """Whether this conversation proved it holds ``account``'s phone."""
        return bool(await self.redis.exists(self._verified_key(conversation_id, account)))

    async def mark_verified(self, conversation_id: str, account: str) -> None:
        await self.redis.set(self._verified_key(conversation_id, account), "1", ex=self.settings.verified_ttl_s)

    async def verify_by_channel(self, conversation_id: str, channel: Optional[str], account: str, phone: Optional[str]) -> bool:
        """Verify at once when the customer writes from the phone on file.

        Only channels whose sender id the provider vouches for count; a REST or
        web chat sender id is chosen by the client and proves nothing.
        """
        if channel not in PHONE_CHANNELS or not phone:
            return False
        sender = international_digits(conversation_id, self.settings.country_code)
        on_file = international_digits(phone, self.settings.country_code)
        if sender is None or sender != on_file:
            return False
        await self.mark_verified(conversation_id, account)
        return True

    async def allow_lookup(self, conversation_id: str, account: str) -> bool:
        """Rate limits on trying account numbers: per conversation and per account.

        A conversation may try ``accounts_per_conversation`` different numbers an
        hour (trying the same one again is free); one account number may be looked
        up ``lookups_per_account`` times an hour across all conversations.
        """
        seen = f"{NAMESPACE}:seen:{conversation_id}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(seen, account)
            pipe.scard(seen)
            pipe.ttl(seen)
            added, count, ttl = await pipe.execute()
        if int(ttl) < 0:  # a new set: the hour starts now (EXPIRE NX needs Redis 7; 6.2 is supported)
            await self.redis.expire(seen, HOUR)
        if added and int(count) > self.settings.accounts_per_conversation:
            await self.redis.srem(seen, account)
            return False
        return await rate_limit.hit(self.redis, NAMESPACE, f"lookups:{account}", self.settings.lookups_per_account, HOUR)

    async def locked(self, account: str) -> bool:
        """Too many wrong codes for ``account`` in the last hour."""
        wrong = await rate_limit.hits(self.redis, NAMESPACE, f"wrong:{account}", HOUR)
        return wrong >= self.settings.max_wrong_codes

    async def has_active_code(self, conversation_id: str, account: str) -> bool:
        return bool(await self.redis.exists(self._code_key(conversation_id, account)))

    # ------------------------------------------------------------------ codes
    async def send_code(self, conversation_id: str, account: str, phone: Optional[str]) -> Started:
        """Send a fresh one-time code to ``phone`` (the account's phone on file)."""
        on_file = international_digits(phone, self.settings.country_code) if phone else None
        if on_file is None:
            return Started("no_phone")
        if await self.locked(account):
            return Started("locked")
        if not await rate_limit.hit(self.redis, NAMESPACE, f"codes:{account}", self.settings.codes_per_hour, HOUR):
            return Started("too_many_codes")
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        salt = secrets.token_hex(16)
        await self.redis.hset(self._code_key(conversation_id, account), mapping={"salt": salt, "digest": _digest(salt, code)})
        await self.redis.expire(self._code_key(conversation_id, account), self.settings.code_ttl_s)
        await self.sender.send(on_file, code)
        return Started("sent", phone_hint(on_file))

    async def check_code(self, conversation_id: str, account: str, typed: object) -> Checked:
        """Compare what the customer typed with the active code (constant time)."""
        if await self.locked(account):
            return Checked("locked")
        stored = await self.redis.hgetall(self._code_key(conversation_id, account))
        if not stored:
            return Checked("expired")
        code = code_in(typed)
        if code is not None and hmac.compare_digest(_digest(stored["salt"], code), stored["digest"]):
            await self.redis.delete(self._code_key(conversation_id, account))
            await self.mark_verified(conversation_id, account)
            return Checked("ok")
        await rate_limit.hit(self.redis, NAMESPACE, f"wrong:{account}", self.settings.max_wrong_codes, HOUR)
        if await self.locked(account):
            await self.redis.delete(self._code_key(conversation_id, account))
            return Checked("locked")
        wrong = await rate_limit.hits(self.redis, NAMESPACE, f"wrong:{account}", HOUR)
        return Checked("wrong", remaining=max(self.settings.max_wrong_codes - wrong, 0))


def _digest(salt: str, code: str) -> str:
    return hmac.new(salt.encode(), code.encode(), hashlib.sha256).hexdigest()


def get_verifier() -> Verifier:
    """The action server's verifier (one Redis client per event loop)."""
    from actions import settings  # read per call: tests point REDIS_URL elsewhere
    from bot.channels.redis_client import get_redis

    current = settings.get_settings()
    return Verifier(get_redis(current.redis_url), current.verification)
