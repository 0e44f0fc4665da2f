"""Settings of the trainer workbench process, read once from the environment at start.

Every path is relative to the repository root unless absolute. Nothing else in
``workbench/`` reads ``os.environ`` (the training subprocesses inherit it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

from bot import model_sync
from handoff.settings import HandoffSettings

ROOT = Path(__file__).resolve().parents[1]


def _path(value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else ROOT / path


@dataclass(frozen=True)
class WorkbenchSettings:
    """Where the workbench finds data, Redis and the Rasa server.

    Attributes:
        host / port: where ``python -m workbench`` listens (``TRAINER_HOST``, default
            loopback like the handoff service; ``TRAINER_PORT``, default 5090).
        redis_url: Redis holding Rasa's trackers, the workbench's audit log and the
            console's accounts and sessions (``REDIS_URL``).
        tracker_key_prefix: Redis key prefix of Rasa's trackers; ``key_prefix: tracker``
            in endpoints.yml makes the tracker store (``bot/tracker_store.py``) keep each
            conversation's hash at ``tracker:tracker:<sender>``.
        key_prefix: prefix of the workbench's own Redis keys.
        nlu_data: the folder of training files the trainer edits.
        heldout: the held-out file: never written, evaluation only.
        config / domain / stories: what ``rasa train`` reads besides ``nlu_data``.
        models_dir: where accepted models are copied (``make run`` loads the newest).
        work_dir: training jobs' models, logs and cached evaluation reports.
        rasa_url / rasa_token: the running Rasa server's HTTP API (``--enable-api``); the
            inbox reads conversations through ``GET /conversations/{id}/tracker``.
        max_conversations: how many conversations the inbox reads, newest first
            (``TRAINER_MAX_CONVERSATIONS``); also the size of the conversation index.
        discovery_seconds: how often, at most, the index of conversations learns new
            tracker keys by a SCAN of key names (``TRAINER_DISCOVERY_SECONDS``; 0: on
            every inbox request, for tests).
        tracker_cache_seconds: how long a tracker read from Rasa is reused
            (``TRAINER_TRACKER_CACHE_SECONDS``; 0: never).
        low_confidence: intent confidence under which a message counts as doubtful.
        min_examples: fewer examples than this per intent is reported as too few.
        audit_retention_days: audit entries older than this are trimmed from the log
            (``RETENTION_DAYS_AUDIT``, default 365): they quote customers' messages.
        model_key / model_channel: where a loaded model is published for every Rasa
            process (:mod:`bot.model_sync`); not read from the environment, a test on
            a Redis that another deployment uses gives its own.
        signin: the console's sign-in settings (session lifetime, cookie flags,
            throttle; ``HANDOFF_*``): trainers sign in with the console's accounts.
    """

    host: str = "127.0.0.1"
    port: int = 5090

    redis_url: str = "redis://localhost:6379/0"
    tracker_key_prefix: str = "tracker:tracker:"
    key_prefix: str = "trainer:"
    nlu_data: Path = ROOT / "nlu_data"
    heldout: Path = ROOT / "tests" / "data" / "nlu_heldout.yml"
    config: Path = ROOT / "config.yml"
    domain: Path = ROOT / "bot" / "domain"
    stories: Path = ROOT / "bot" / "data"
    models_dir: Path = ROOT / "models"
    work_dir: Path = ROOT / "data" / "trainer"
    rasa_url: str = "http://localhost:5005"
    rasa_token: Optional[str] = None
    low_confidence: float = 0.5
    min_examples: int = 40
    audit_retention_days: float = 365.0
    max_conversations: int = 2000
    discovery_seconds: float = 60.0
    tracker_cache_seconds: float = 30.0
    model_key: str = model_sync.KEY
    model_channel: str = model_sync.CHANNEL
    signin: HandoffSettings = field(default_factory=HandoffSettings)

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> WorkbenchSettings:
        """Read the ``TRAINER_*`` variables, ``REDIS_URL``, ``TRACKER_KEY_PREFIX`` and
        ``RASA_URL`` / ``RASA_TOKEN`` (``RASA_URL`` falls back to ``RASA_PUBLIC_URL``).

        The sign-in settings come from :meth:`HandoffSettings.from_env` (the process
        environment), with this ``REDIS_URL``."""
        env = os.environ if env is None else env
        defaults = cls()
        redis_url = env.get("REDIS_URL") or defaults.redis_url
        return cls(
            host=env.get("TRAINER_HOST") or defaults.host,
            port=int(env.get("TRAINER_PORT") or defaults.port),
            redis_url=redis_url,
            tracker_key_prefix=env.get("TRACKER_KEY_PREFIX", defaults.tracker_key_prefix),
            key_prefix=env.get("TRAINER_KEY_PREFIX", defaults.key_prefix),
            nlu_data=_path(env.get("TRAINER_NLU_DATA", str(defaults.nlu_data))),
            heldout=_path(env.get("TRAINER_HELDOUT", str(defaults.heldout))),
            config=_path(env.get("TRAINER_CONFIG", str(defaults.config))),
            domain=_path(env.get("TRAINER_DOMAIN", str(defaults.domain))),
            stories=_path(env.get("TRAINER_STORIES", str(defaults.stories))),
            models_dir=_path(env.get("TRAINER_MODELS_DIR", str(defaults.models_dir))),
            work_dir=_path(env.get("TRAINER_WORK_DIR", str(defaults.work_dir))),
            # the Rasa API lives on the same server the widget talks to unless told otherwise
            rasa_url=(env.get("RASA_URL") or env.get("RASA_PUBLIC_URL") or defaults.rasa_url).rstrip("/"),
            rasa_token=env.get("RASA_TOKEN") or None,
            low_confidence=float(env.get("TRAINER_LOW_CONFIDENCE", defaults.low_confidence)),
            min_examples=int(env.get("TRAINER_MIN_EXAMPLES", defaults.min_examples)),
            audit_retention_days=float(env.get("RETENTION_DAYS_AUDIT") or defaults.audit_retention_days),
            max_conversations=int(env.get("TRAINER_MAX_CONVERSATIONS") or defaults.max_conversations),
            discovery_seconds=float(env.get("TRAINER_DISCOVERY_SECONDS") or defaults.discovery_seconds),
            tracker_cache_seconds=float(env.get("TRAINER_TRACKER_CACHE_SECONDS") or defaults.tracker_cache_seconds),
            signin=HandoffSettings.from_env().with_overrides(redis_url=redis_url),
        )
