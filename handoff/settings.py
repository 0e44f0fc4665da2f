"""Settings of the handoff service, read from the environment once.

Everything the service, its store and the relay need to know about their
surroundings is here; nothing else in ``handoff/`` reads ``os.environ``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict

import yaml

from bot.env import env_bool, env_int

PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class QueueConfig:
    """Service levels and waiting-time rules from ``handoff/config.yml``.

    Attributes:
        sla_minutes: longest acceptable wait per priority (1 urgent .. 3 normal).
        average_handle_minutes: average time an agent spends on one ticket; the
            estimated wait is position x this / agents on duty.
        duty_start_hour / duty_end_hour: local hours during which agents work.
        callback_eta_minutes: promised callback when nobody is on duty.
        position_update_seconds: how often a waiting customer hears their position.
        heartbeat_seconds: a console that has not been heard from for longer is offline.
    """

    sla_minutes: Dict[int, int] = field(default_factory=lambda: {1: 5, 2: 15, 3: 30})
    average_handle_minutes: float = 6.0
    duty_start_hour: int = 8
    duty_end_hour: int = 22
    callback_eta_minutes: int = 120
    position_update_seconds: int = 60
    heartbeat_seconds: int = 30

    @classmethod
    def load(cls, path: Path) -> QueueConfig:
        """Read the YAML file at ``path`` (missing keys keep their defaults)."""
        data: Dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        defaults = cls()
        sla = {int(k): int(v) for k, v in (data.get("sla_minutes") or defaults.sla_minutes).items()}
        return cls(
            sla_minutes=sla,
            average_handle_minutes=float(data.get("average_handle_minutes", defaults.average_handle_minutes)),
            duty_start_hour=int(data.get("duty_hours", {}).get("start", defaults.duty_start_hour)),
            duty_end_hour=int(data.get("duty_hours", {}).get("end", defaults.duty_end_hour)),
            callback_eta_minutes=int(data.get("callback_eta_minutes", defaults.callback_eta_minutes)),
            position_update_seconds=int(data.get("position_update_seconds", defaults.position_update_seconds)),
            heartbeat_seconds=int(data.get("heartbeat_seconds", defaults.heartbeat_seconds)),
        )


@dataclass(frozen=True)
class HandoffSettings:
    """Everything the handoff service reads from its environment.

    Attributes:
        redis_url: the only store (``REDIS_URL``).
        host / port: where the service listens (``HANDOFF_HOST``, ``HANDOFF_PORT``).
        public_url: how other processes reach it (``HANDOFF_URL``).
        service_token: shared secret of service-to-service calls
            (``HANDOFF_SERVICE_TOKEN``); internal endpoints refuse every call when empty.
        rasa_public_url: the Rasa server as a browser sees it (``RASA_PUBLIC_URL``).
        trainer_public_url: the trainer workbench as a browser sees it (``TRAINER_URL``);
            the demo page links to its ``/trainer`` page.
        config_path: queue rules (``HANDOFF_CONFIG``).
        canned_replies_path: editable Arabic canned replies (``HANDOFF_CANNED_REPLIES``).
        session_hours: how long a console sign-in lasts (``HANDOFF_SESSION_HOURS``).
        local_mode: plain-HTTP development on this machine (``HANDOFF_LOCAL_MODE``;
            ``make run`` sets it). Only then does the session cookie lose ``Secure``.
        secure_cookies: ``HANDOFF_SECURE_COOKIES`` (default on); ``0`` also drops
            ``Secure``, for a deployment that terminates TLS elsewhere and says so.
        login_max_failures: failed sign-ins of one username within
            ``login_window_seconds`` before it is locked (``HANDOFF_LOGIN_MAX_FAILURES``).
        login_max_failures_per_address: the same for one client address
            (``HANDOFF_LOGIN_MAX_FAILURES_PER_ADDRESS``); higher, because a call
            centre's agents often share one address behind NAT.
        login_window_seconds: how long failures are remembered (``HANDOFF_LOGIN_WINDOW_SECONDS``).
        login_lock_seconds: first lock; each further failure doubles it
            (``HANDOFF_LOGIN_LOCK_SECONDS``) up to ``login_lock_max_seconds``
            (``HANDOFF_LOGIN_LOCK_MAX_SECONDS``).
        max_message_chars: longest agent message or note.
        position_update_seconds: overrides the config file when > 0
            (``HANDOFF_POSITION_UPDATE_SECONDS``; tests set it short).
        timezone: duty hours are in this zone (``TIMEZONE``).
    """

    redis_url: str = "redis://localhost:6379/0"
    host: str = "127.0.0.1"
    port: int = 5080
    public_url: str = "http://localhost:5080"
    service_token: str = ""
    rasa_public_url: str = "http://localhost:5005"
    trainer_public_url: str = "http://localhost:5090"
    config_path: Path = PACKAGE_DIR / "config.yml"
    canned_replies_path: Path = PACKAGE_DIR / "canned_replies.yml"
    session_hours: int = 12
    local_mode: bool = False
    secure_cookies: bool = True
    login_max_failures: int = 5
    login_max_failures_per_address: int = 20
    login_window_seconds: int = 15 * 60
    login_lock_seconds: int = 60
    login_lock_max_seconds: int = 3600
    max_message_chars: int = 2000
    position_update_seconds: int = 0
    timezone: str = "Asia/Riyadh"

    @classmethod
    def from_env(cls) -> HandoffSettings:
        """Build the settings from the process environment."""
        env = os.environ
        return cls(
            redis_url=env.get("REDIS_URL") or cls.redis_url,
            host=env.get("HANDOFF_HOST") or cls.host,
            port=env_int("HANDOFF_PORT", cls.port),
            public_url=(env.get("HANDOFF_URL") or cls.public_url).rstrip("/"),
            service_token=env.get("HANDOFF_SERVICE_TOKEN", ""),
            rasa_public_url=(env.get("RASA_PUBLIC_URL") or cls.rasa_public_url).rstrip("/"),
            trainer_public_url=(env.get("TRAINER_URL") or cls.trainer_public_url).rstrip("/"),
            config_path=Path(env.get("HANDOFF_CONFIG") or cls.config_path),
            canned_replies_path=Path(env.get("HANDOFF_CANNED_REPLIES") or cls.canned_replies_path),
            session_hours=env_int("HANDOFF_SESSION_HOURS", cls.session_hours),
            local_mode=env_bool("HANDOFF_LOCAL_MODE", cls.local_mode),
            secure_cookies=env_bool("HANDOFF_SECURE_COOKIES", cls.secure_cookies),
            login_max_failures=env_int("HANDOFF_LOGIN_MAX_FAILURES", cls.login_max_failures),
            login_max_failures_per_address=env_int(
                "HANDOFF_LOGIN_MAX_FAILURES_PER_ADDRESS", cls.login_max_failures_per_address
            ),
            login_window_seconds=env_int("HANDOFF_LOGIN_WINDOW_SECONDS", cls.login_window_seconds),
            login_lock_seconds=env_int("HANDOFF_LOGIN_LOCK_SECONDS", cls.login_lock_seconds),
            login_lock_max_seconds=env_int("HANDOFF_LOGIN_LOCK_MAX_SECONDS", cls.login_lock_max_seconds),
            max_message_chars=env_int("MAX_MESSAGE_CHARS", cls.max_message_chars),
            position_update_seconds=env_int("HANDOFF_POSITION_UPDATE_SECONDS", cls.position_update_seconds),
            timezone=env.get("TIMEZONE") or cls.timezone,
        )

    @property
    def cookie_secure(self) -> bool:
        """Whether the session cookie carries ``Secure``: always, unless local mode or an explicit opt-out."""
        return self.secure_cookies and not self.local_mode

    def with_overrides(self, **changes: Any) -> HandoffSettings:
        """A copy with some fields changed (tests, benchmarks)."""
        return replace(self, **changes)

    def queue_config(self) -> QueueConfig:
        """The queue rules, with the environment's position interval when set."""
        config = QueueConfig.load(self.config_path) if self.config_path.exists() else QueueConfig()
        if self.position_update_seconds > 0:
            config = replace(config, position_update_seconds=self.position_update_seconds)
        return config
