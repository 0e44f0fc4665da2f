"""When to hand a customer to a person: the decision and the running frustration.

Pure module (no Rasa import): the Rasa server's ``EscalationPolicy`` decides with it
and the action server reads the same configuration, so both always agree. The
thresholds, essential services and priorities come from ``escalation.yml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import yaml

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "escalation.yml"

# Reasons, in the order they are listed on a ticket.
ESSENTIAL_OUTAGE = "essential_outage"
ANGRY = "angry"
THREAT = "escalation_threat"
RISING = "rising_frustration"
REQUEST = "explicit_request"
MISUNDERSTOOD = "repeated_misunderstanding"
REASON_ORDER = (ESSENTIAL_OUTAGE, ANGRY, THREAT, RISING, REQUEST, MISUNDERSTOOD)


@dataclass(frozen=True)
class EscalationConfig:
    """The contents of ``escalation.yml``."""

    essential_services: Tuple[str, ...]
    angry_score: float
    urgency_score: float
    decay: float
    window: int
    min_step: float
    min_running: float
    fallbacks_in_a_row: int
    request_intents: Tuple[str, ...]
    threat_intents: Tuple[str, ...]
    priorities: Mapping[str, int]
    priority_names: Mapping[int, str]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EscalationConfig:
        thresholds = data.get("thresholds", {})
        running = data.get("running_frustration", {})
        priorities = {str(k): int(v) for k, v in (data.get("priorities") or {}).items()}
        unknown = set(priorities) - set(REASON_ORDER)
        if unknown:
            raise ValueError(f"escalation.yml: unknown reasons {sorted(unknown)}; known: {list(REASON_ORDER)}")
        return cls(
            essential_services=tuple(data.get("essential_services", ())),
            angry_score=float(thresholds.get("angry_score", 0.8)),
            urgency_score=float(thresholds.get("urgency_score", 0.5)),
            decay=float(running.get("decay", 0.5)),
            window=int(running.get("window", 3)),
            min_step=float(running.get("min_step", 0.05)),
            min_running=float(running.get("min_running", 0.4)),
            fallbacks_in_a_row=int(data.get("fallbacks_in_a_row", 2)),
            request_intents=tuple(data.get("request_intents", ())),
            threat_intents=tuple(data.get("threat_intents", ())),
            priorities=priorities,
            priority_names={int(k): str(v) for k, v in (data.get("priority_names") or {}).items()},
        )


@lru_cache(maxsize=8)
def load_config(path: Path = DEFAULT_PATH) -> EscalationConfig:
    """Read and check ``escalation.yml`` (cached per path)."""
    return EscalationConfig.from_dict(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})


@dataclass(frozen=True)
class Decision:
    """Whether to hand off, why, and how urgently.

    Attributes:
        reasons: reason codes in REASON_ORDER; empty means no handoff.
        priority: name of the most urgent reason's priority, None without reasons.
        service: the essential service that is out, if that is a reason.
    """

    reasons: Tuple[str, ...] = ()
    priority: Optional[str] = None
    service: Optional[str] = None

    @property
    def handoff(self) -> bool:
        return bool(self.reasons)


@dataclass(frozen=True)
class MessageView:
    """What the decision needs to know about the customer's latest message."""

    intent: Optional[str] = None
    frustration_level: Optional[str] = None
    frustration_score: float = 0.0
    urgency_service: Optional[str] = None
    urgency_score: float = 0.0
    entity_services: Tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_parse_data(cls, parse_data: Mapping[str, Any]) -> MessageView:
        """Read a Rasa parse result (``tracker.latest_message``)."""
        signals = parse_data.get("signals") or {}
        frustration = signals.get("frustration") or {}
        urgency = signals.get("urgency") or {}
        return cls(
            intent=(parse_data.get("intent") or {}).get("name"),
            frustration_level=frustration.get("level"),
            frustration_score=float(frustration.get("score") or 0.0),
            urgency_service=urgency.get("service"),
            urgency_score=float(urgency.get("score") or 0.0),
            entity_services=tuple(
                e.get("value") for e in parse_data.get("entities") or [] if e.get("entity") == "service_type"
            ),
        )


def running_frustration(scores: Sequence[float], decay: float) -> float:
    """Exponential moving average of per-message frustration scores, oldest first."""
    running = 0.0
    for i, score in enumerate(scores):
        running = score if i == 0 else decay * running + (1 - decay) * score
    return round(running, 4)


def is_rising(scores: Sequence[float], config: EscalationConfig) -> bool:
    """The last ``window`` scores each rise by ``min_step`` and the running
    estimate has reached ``min_running``."""
    recent = list(scores)[-config.window :]
    if len(recent) < config.window:
        return False
    steps_up = all(b - a >= config.min_step for a, b in zip(recent, recent[1:], strict=False))  # pairs of neighbours
    return steps_up and running_frustration(scores, config.decay) >= config.min_running


def outage_service(message: MessageView, config: EscalationConfig) -> Optional[str]:
    """The essential service that is out, from the signals model or, when it has
    no opinion, from an outage report that names the service."""
    if message.urgency_service in config.essential_services and message.urgency_score >= config.urgency_score:
        return message.urgency_service
    if message.intent == "report_outage":
        for service in message.entity_services:
            if service in config.essential_services:
                return service
    return None


def decide(
    message: MessageView,
    frustration_scores: Sequence[float],
    fallbacks_in_a_row: int,
    config: EscalationConfig,
) -> Decision:
    """Apply escalation.yml to the latest message and the conversation so far.

    Args:
        message: the customer's latest message.
        frustration_scores: per-message frustration scores of this conversation,
            oldest first, the latest message included.
        fallbacks_in_a_row: misunderstood messages in a row, the latest included.
        config: the escalation configuration.
    """
    found: Dict[str, bool] = {}
    service = outage_service(message, config)
    found[ESSENTIAL_OUTAGE] = service is not None
    found[ANGRY] = message.frustration_level == "angry" or message.frustration_score >= config.angry_score
    found[THREAT] = message.intent in config.threat_intents
    found[RISING] = not found[ANGRY] and is_rising(frustration_scores, config)
    found[REQUEST] = message.intent in config.request_intents
    found[MISUNDERSTOOD] = fallbacks_in_a_row >= config.fallbacks_in_a_row
    reasons = tuple(r for r in REASON_ORDER if found.get(r) and r in config.priorities)
    if not reasons:
        return Decision()
    level = min(config.priorities[r] for r in reasons)
    return Decision(reasons, config.priority_names.get(level, str(level)), service if ESSENTIAL_OUTAGE in reasons else None)


def consecutive_fallbacks(intents_newest_first: Sequence[Optional[str]]) -> int:
    """How many of the latest user messages in a row were not understood."""
    count = 0
    for intent in intents_newest_first:
        if intent != "nlu_fallback":
            break
        count += 1
    return count


def reasons_text(reasons: Sequence[str]) -> List[str]:
    """Reason codes in the fixed order, for display and storage."""
    return [r for r in REASON_ORDER if r in reasons]
