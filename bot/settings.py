"""Settings of the Rasa-side code (channels, NLG), read from the environment once."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Tuple

from bot.env import env_bool, env_float, env_int, env_list, env_str


@dataclass(frozen=True)
class Settings:
    """Limits and timeouts of the input channels.

    Attributes:
        max_message_chars: longest customer message accepted (longer: HTTP 413).
        max_body_bytes: largest request body accepted.
        reply_timeout_seconds: a request waiting longer for the bot gets HTTP 504.
        rest_api_key: what REST callers must send (``REST_API_KEY``; header ``X-Api-Key``
            or ``Authorization: Bearer``).
        rest_callers: per-caller keys (``REST_API_KEYS="crm:<key>,ivr:<key>"``): each
            caller's sender ids must begin with ``<caller>-``, so callers cannot reach
            each other's conversations; two keys of one caller allow a rotation.
        local_mode: ``NOOR_LOCAL_MODE=1`` (``make run``, the test stacks): the REST
            channel needs no key. Without a key and outside local mode it answers 503.
        messages_per_conversation / rate_window_seconds: flood limit of one conversation
            on REST, WhatsApp and Twilio (``RATE_LIMIT_MESSAGES`` per
            ``RATE_LIMIT_WINDOW_SECONDS``; the web chat has its own, per session).
        rest_messages_per_address: REST requests per window from one client address
            (``REST_RATE_LIMIT_PER_ADDRESS``): a trusted back end serves many customers.
        burst_window_seconds: WhatsApp and Twilio customers send 3-5 short messages in a
            row; a turn starts once the conversation was quiet this long (at most
            ``BURST_CAP_FACTOR`` times it after the first message), and the bot answers
            them once (``BURST_WINDOW_SECONDS``; 0 answers every message at once).
        burst_windows: per-channel windows that override the above, any channel
            (``BURST_WINDOWS="webchat:0.8,twilio:2"``); REST and web chat default to 0.
        inbound_stale_seconds: a conversation whose waiting messages nobody took up for
            this long (its Rasa process died mid-turn) is drained by the sweeper of any
            process (``INBOUND_STALE_SECONDS``).
        inbound_sweep_seconds: how often each process looks for such conversations.
        inbound_max_attempts: a message whose turn failed this many times is set aside in
            the dead-letter list ``inbound:dead`` (``INBOUND_MAX_ATTEMPTS``).
        inbound_retention_seconds: a conversation's waiting messages expire this long after
            the latest one arrived (``RETENTION_DAYS_INBOUND``, default 7 days).
        dead_letter_retention_seconds: the dead-letter list expires this long after its
            latest entry (``RETENTION_DAYS_DEAD_LETTERS``, as the outbox's).
    """

    max_message_chars: int = 2000
    max_body_bytes: int = 64 * 1024
    reply_timeout_seconds: int = 30
    rest_api_key: str = field(default="", repr=False)
    rest_callers: Tuple[Tuple[str, str], ...] = field(default=(), repr=False)
    local_mode: bool = False
    messages_per_conversation: int = 20
    rate_window_seconds: int = 60
    rest_messages_per_address: int = 600
    burst_window_seconds: float = 1.5
    burst_windows: Tuple[Tuple[str, float], ...] = ()
    inbound_stale_seconds: float = 10.0
    inbound_sweep_seconds: float = 1.0
    inbound_max_attempts: int = 3
    inbound_retention_seconds: int = 7 * 86400
    dead_letter_retention_seconds: int = 30 * 86400

    def burst_window(self, channel: str) -> float:
        """Seconds of quiet that end a burst on ``channel`` (0: no bursts)."""
        overrides = dict(self.burst_windows)
        if channel in overrides:
            return overrides[channel]
        return self.burst_window_seconds if channel in BURSTY_CHANNELS else 0.0

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            max_message_chars=env_int("MAX_MESSAGE_CHARS", cls.max_message_chars),
            max_body_bytes=env_int("MAX_BODY_BYTES", cls.max_body_bytes),
            reply_timeout_seconds=env_int("REPLY_TIMEOUT_SECONDS", cls.reply_timeout_seconds),
            rest_api_key=env_str("REST_API_KEY"),
            rest_callers=tuple(_caller_keys(env_list("REST_API_KEYS", ""))),
            local_mode=env_bool("NOOR_LOCAL_MODE", False),
            messages_per_conversation=env_int("RATE_LIMIT_MESSAGES", cls.messages_per_conversation),
            rate_window_seconds=env_int("RATE_LIMIT_WINDOW_SECONDS", cls.rate_window_seconds),
            rest_messages_per_address=env_int("REST_RATE_LIMIT_PER_ADDRESS", cls.rest_messages_per_address),
            burst_window_seconds=_seconds("BURST_WINDOW_SECONDS", env_float("BURST_WINDOW_SECONDS", cls.burst_window_seconds)),
            burst_windows=tuple(_channel_windows(env_list("BURST_WINDOWS", ""))),
            inbound_stale_seconds=env_float("INBOUND_STALE_SECONDS", cls.inbound_stale_seconds),
            inbound_sweep_seconds=env_float("INBOUND_SWEEP_SECONDS", cls.inbound_sweep_seconds),
            inbound_max_attempts=env_int("INBOUND_MAX_ATTEMPTS", cls.inbound_max_attempts),
            inbound_retention_seconds=_days("RETENTION_DAYS_INBOUND", cls.inbound_retention_seconds),
            dead_letter_retention_seconds=_days("RETENTION_DAYS_DEAD_LETTERS", cls.dead_letter_retention_seconds),
        )


# channels whose customers write in bursts (WhatsApp): BURST_WINDOW_SECONDS applies
BURSTY_CHANNELS = ("whatsapp", "twilio")


def _seconds(name: str, value: float) -> float:
    """A duration that must not be negative (a typo fails the start, naming the variable)."""
    if value < 0:
        raise ValueError(f"{name} must be 0 or more seconds, got {value}")
    return value


def _channel_windows(items: Tuple[str, ...]) -> list:
    """``channel:seconds`` items of ``BURST_WINDOWS`` as (channel, seconds) pairs."""
    pairs = []
    for item in items:
        channel, _, raw = item.partition(":")
        try:
            seconds = float(raw)
        except ValueError:
            raise ValueError(f"BURST_WINDOWS: each item is <channel>:<seconds>, got {item!r}") from None
        pairs.append((channel.strip(), _seconds("BURST_WINDOWS", seconds)))
    return pairs


def _caller_keys(items: Tuple[str, ...] | list) -> list:
    """``caller:key`` items as (caller, key) pairs; a malformed item stops the start."""
    pairs = []
    for item in items:
        caller, _, key = item.partition(":")
        caller, key = caller.strip(), key.strip()
        if not caller.isalnum() or len(key) < 16:
            raise ValueError("REST_API_KEYS: each item is <caller>:<key>, caller letters/digits, key >= 16 characters")
        pairs.append((caller, key))
    return pairs


# --- Channels (web chat, WhatsApp Cloud API, Twilio WhatsApp) -------------------
# Every secret below comes from the environment only; nothing secret is committed.


def redis_url() -> str:
    """Redis of the Rasa process (``REDIS_URL``; ``scripts/stack.py`` always sets it)."""
    return env_str("REDIS_URL", "redis://localhost:6379/0")


@dataclass(frozen=True)
class WebchatSettings:
    """The web chat channel (``bot/channels/webchat.py``).

    Attributes:
        secret: HMAC key of session tokens (``WEBCHAT_SECRET``). When unset a random
            key is generated once and kept in Redis (``webchat:secret``).
        token_ttl_seconds: how long a session token (and its history) lives.
        rate_limit_messages / rate_limit_window_seconds: per-session sliding window.
        sessions_per_ip_per_hour: new sessions one address may open per hour.
        history_length: messages kept per session and replayed on reconnect.
        allowed_origins: pages that may open the WebSocket (``WEBCHAT_ALLOWED_ORIGINS``,
            comma separated; ``*`` allows any).
    """

    secret: str = ""
    token_ttl_seconds: int = 7 * 24 * 3600
    rate_limit_messages: int = 20
    rate_limit_window_seconds: int = 60
    sessions_per_ip_per_hour: int = 60
    history_length: int = 200
    allowed_origins: Tuple[str, ...] = (
        "http://localhost:5080",
        "http://127.0.0.1:5080",
        "http://localhost:5005",
        "http://127.0.0.1:5005",
    )

    @classmethod
    def from_env(cls) -> WebchatSettings:
        return cls(
            secret=env_str("WEBCHAT_SECRET"),
            token_ttl_seconds=env_int("WEBCHAT_TOKEN_TTL_SECONDS", cls.token_ttl_seconds),
            rate_limit_messages=env_int("WEBCHAT_RATE_LIMIT", cls.rate_limit_messages),
            rate_limit_window_seconds=env_int("WEBCHAT_RATE_WINDOW_SECONDS", cls.rate_limit_window_seconds),
            sessions_per_ip_per_hour=env_int("WEBCHAT_SESSIONS_PER_IP_PER_HOUR", cls.sessions_per_ip_per_hour),
            history_length=env_int("WEBCHAT_HISTORY_LENGTH", cls.history_length),
            allowed_origins=env_list("WEBCHAT_ALLOWED_ORIGINS", ",".join(cls.allowed_origins)),
        )


@dataclass(frozen=True)
class OutboxSettings:
    """Retries of the persistent outbox (``bot/channels/outbox.py``).

    Attributes:
        max_attempts: after this many failed attempts a reply goes to the dead-letter list.
        backoff_base_seconds / backoff_max_seconds: wait base * 2**(attempt-1), capped.
        poll_seconds: how often the worker looks for due replies.
        lease_seconds: a claimed reply is retried after this long if its worker died;
            a live worker renews its lease every third of it, so a slow send is not
            taken over (short, so that a dead worker's replies go out soon).
        dead_letter_retention_seconds: the dead-letter list expires this long after its
            last entry (``RETENTION_DAYS_DEAD_LETTERS``, default 30 days).
    """

    max_attempts: int = 8
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 300.0
    poll_seconds: float = 0.2
    lease_seconds: float = 15.0
    dead_letter_retention_seconds: int = 30 * 86400

    @classmethod
    def from_env(cls) -> OutboxSettings:
        return cls(
            max_attempts=env_int("OUTBOX_MAX_ATTEMPTS", cls.max_attempts),
            backoff_base_seconds=env_float("OUTBOX_BACKOFF_BASE_SECONDS", cls.backoff_base_seconds),
            backoff_max_seconds=env_float("OUTBOX_BACKOFF_MAX_SECONDS", cls.backoff_max_seconds),
            poll_seconds=env_float("OUTBOX_POLL_SECONDS", cls.poll_seconds),
            lease_seconds=env_float("OUTBOX_LEASE_SECONDS", cls.lease_seconds),
            dead_letter_retention_seconds=_days("RETENTION_DAYS_DEAD_LETTERS", cls.dead_letter_retention_seconds),
        )


def _days(name: str, default_seconds: int) -> int:
    """A retention setting in days (fractions allowed), as seconds; must be positive."""
    days = env_float(name, default_seconds / 86400)
    if days <= 0:
        raise ValueError(f"environment variable {name} must be a positive number of days, got {days}")
    return max(1, int(days * 86400))


@dataclass(frozen=True)
class WhatsAppSettings:
    """The WhatsApp Cloud API channel (``bot/channels/whatsapp.py``).

    Attributes:
        access_token: Graph API bearer token (``WHATSAPP_ACCESS_TOKEN``).
        app_secret: signs webhook bodies (``WHATSAPP_APP_SECRET``).
        verify_token: echoed back in the subscription handshake (``WHATSAPP_VERIFY_TOKEN``).
        phone_number_id: the business number's id (``WHATSAPP_PHONE_NUMBER_ID``).
        graph_api_url: Graph API base with version (``WHATSAPP_GRAPH_API_URL``; tests
            and the demo point it at ``scripts/fake_graph_api.py``).
        templates: approved message templates, name -> language code
            (``WHATSAPP_TEMPLATES="agent_followup:ar,ticket_update:ar"``); outside the
            24-hour window only these may be sent.
        window_seconds: the customer-service window after the customer's last message.
        request_timeout_seconds: one Graph API call.
        max_message_age_seconds: a message whose signed ``timestamp`` is older is
            dropped (``WHATSAPP_MAX_MESSAGE_AGE_SECONDS``): a replayed webhook body
            keeps a valid signature forever, and the de-duplication keys last 7 days.
        max_clock_skew_seconds: how far in the future a ``timestamp`` may be
            (``WHATSAPP_MAX_CLOCK_SKEW_SECONDS``).
    """

    access_token: str = ""
    app_secret: str = ""
    verify_token: str = ""
    phone_number_id: str = ""
    graph_api_url: str = "https://graph.facebook.com/v19.0"
    templates: Tuple[Tuple[str, str], ...] = ()
    window_seconds: int = 24 * 3600
    request_timeout_seconds: float = 10.0
    max_message_age_seconds: int = 24 * 3600
    max_clock_skew_seconds: int = 300

    @property
    def configured(self) -> bool:
        return bool(self.access_token and self.app_secret and self.verify_token and self.phone_number_id)

    @classmethod
    def from_env(cls) -> WhatsAppSettings:
        templates = []
        for item in env_list("WHATSAPP_TEMPLATES", ""):
            name, _, language = item.partition(":")
            templates.append((name.strip(), language.strip() or "ar"))
        return cls(
            access_token=env_str("WHATSAPP_ACCESS_TOKEN"),
            app_secret=env_str("WHATSAPP_APP_SECRET"),
            verify_token=env_str("WHATSAPP_VERIFY_TOKEN"),
            phone_number_id=env_str("WHATSAPP_PHONE_NUMBER_ID"),
            graph_api_url=env_str("WHATSAPP_GRAPH_API_URL", cls.graph_api_url).rstrip("/"),
            templates=tuple(templates),
            window_seconds=env_int("WHATSAPP_WINDOW_SECONDS", cls.window_seconds),
            request_timeout_seconds=env_float("WHATSAPP_REQUEST_TIMEOUT_SECONDS", cls.request_timeout_seconds),
            max_message_age_seconds=env_int("WHATSAPP_MAX_MESSAGE_AGE_SECONDS", cls.max_message_age_seconds),
            max_clock_skew_seconds=env_int("WHATSAPP_MAX_CLOCK_SKEW_SECONDS", cls.max_clock_skew_seconds),
        )


@dataclass(frozen=True)
class TwilioSettings:
    """The Twilio WhatsApp channel (``bot/channels/twilio_whatsapp.py``).

    Attributes:
        account_sid / auth_token: REST API credentials; the auth token also signs webhooks.
        whatsapp_from: the Twilio sender, e.g. ``whatsapp:+14155238886``.
        api_url: REST API base (``TWILIO_API_URL``; tests point it at the fake server).
        public_url: the webhook URL exactly as configured in Twilio's console
            (``TWILIO_WEBHOOK_URL``); when unset it is rebuilt from the request,
            honouring ``X-Forwarded-Proto`` / ``X-Forwarded-Host`` behind a proxy.
        request_timeout_seconds: one REST call.
    """

    account_sid: str = ""
    auth_token: str = ""
    whatsapp_from: str = ""
    api_url: str = "https://api.twilio.com"
    public_url: str = ""
    request_timeout_seconds: float = 10.0

    @property
    def configured(self) -> bool:
        return bool(self.account_sid and self.auth_token and self.whatsapp_from)

    @classmethod
    def from_env(cls) -> TwilioSettings:
        return cls(
            account_sid=env_str("TWILIO_ACCOUNT_SID"),
            auth_token=env_str("TWILIO_AUTH_TOKEN"),
            whatsapp_from=env_str("TWILIO_WHATSAPP_FROM"),
            api_url=env_str("TWILIO_API_URL", cls.api_url).rstrip("/"),
            public_url=env_str("TWILIO_WEBHOOK_URL"),
            request_timeout_seconds=env_float("TWILIO_REQUEST_TIMEOUT_SECONDS", cls.request_timeout_seconds),
        )


@dataclass(frozen=True)
class ProcessSettings:
    """Everything the Rasa process's own code reads from its environment, read once.

    Channels, the intake and the outboxes take their part of it by default (a test or
    another process passes its own objects instead); nothing else in ``bot/`` re-reads
    ``os.environ`` while the process runs.
    """

    channels: Settings
    webchat: WebchatSettings
    outbox: OutboxSettings
    whatsapp: WhatsAppSettings
    twilio: TwilioSettings

    @classmethod
    def from_env(cls) -> ProcessSettings:
        return cls(
            channels=Settings.from_env(),
            webchat=WebchatSettings.from_env(),
            outbox=OutboxSettings.from_env(),
            whatsapp=WhatsAppSettings.from_env(),
            twilio=TwilioSettings.from_env(),
        )


@functools.lru_cache(maxsize=1)
def process_settings() -> ProcessSettings:
    """The Rasa process's settings, read from the environment on first use."""
    return ProcessSettings.from_env()
