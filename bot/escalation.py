"""When to hand a customer to a person: the decision, its evidence and the running frustration.

Pure module (no Rasa import): the Rasa server's ``EscalationPolicy`` decides with it
and the action server reads the same configuration, so both always agree. The
thresholds, essential services and priorities come from ``escalation.yml``.

Each reason needs evidence in proportion to its weight, and every handoff records
the evidence that decided it (:class:`Evidence`): an urgent essential-outage ticket
needs an outage *reading* of the message (an outage intent with a service, a service
word with an outage expression, an answer to the outage form, or a very high model
score *and* a service named), never a model score alone; a short reply ("لا",
"ايوه", "شكرا", "الخميس", an account number) never escalates on model scores at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

import yaml

from bot.nlu import cues

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "escalation.yml"

# Reasons, in the order they are listed on a ticket.
SAFETY = "safety_hazard"
ESSENTIAL_OUTAGE = "essential_outage"
ANGRY = "angry"
THREAT = "escalation_threat"
RISING = "rising_frustration"
REQUEST = "explicit_request"
MISUNDERSTOOD = "repeated_misunderstanding"
REASON_ORDER = (SAFETY, ESSENTIAL_OUTAGE, ANGRY, THREAT, RISING, REQUEST, MISUNDERSTOOD)


@dataclass(frozen=True)
class EscalationConfig:
    """The contents of ``escalation.yml``."""

    essential_services: Tuple[str, ...]
    angry_score: float
    urgency_score: float
    urgency_score_alone: float
    min_intent_confidence: float
    question_confidence: float
    decay: float
    window: int
    min_step: float
    min_running: float
    sustained_score: float
    exasperation_score: float
    asked_again_times: int
    not_requests: Tuple[str, ...]
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
            urgency_score_alone=float(thresholds.get("urgency_score_alone", 0.9)),
            min_intent_confidence=float(thresholds.get("min_intent_confidence", 0.5)),
            question_confidence=float(thresholds.get("question_confidence", 0.9)),
            decay=float(running.get("decay", 0.5)),
            window=int(running.get("window", 3)),
            min_step=float(running.get("min_step", 0.05)),
            min_running=float(running.get("min_running", 0.4)),
            sustained_score=float(running.get("sustained_score", 0.3)),
            exasperation_score=float(running.get("exasperation_score", 0.5)),
            asked_again_times=int(running.get("asked_again_times", 0)),
            not_requests=tuple(running.get("not_requests", ())),
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
class Evidence:
    """Why one reason applies: the rule that fired, in words, with the scores it saw.

    Attributes:
        reason: the reason code.
        rule: which rule of :func:`decide` fired (stable names, for trainers' reports).
        detail: what in the message supports it (the words, the intent, the service).
        scores: the model scores the rule looked at.
    """

    reason: str
    rule: str
    detail: str = ""
    scores: Mapping[str, float] = field(default_factory=dict)

    def as_dict(self) -> Dict[str, Any]:
        return {"reason": self.reason, "rule": self.rule, "detail": self.detail, "scores": dict(self.scores)}


@dataclass(frozen=True)
class Decision:
    """Whether to hand off, why, and how urgently.

    Attributes:
        reasons: reason codes in REASON_ORDER; empty means no handoff.
        priority: name of the most urgent reason's priority, None without reasons.
        service: the essential service that is out, if that is a reason.
        evidence: one entry per reason, in the same order.
    """

    reasons: Tuple[str, ...] = ()
    priority: Optional[str] = None
    service: Optional[str] = None
    evidence: Tuple[Evidence, ...] = ()

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
    # What the words support (None when the text is unknown: then no short-reply
    # guard and no lexicon evidence, only intents and scores).
    reading: Optional[cues.Reading] = None
    intent_confidence: float = 1.0

    @property
    def short_reply(self) -> bool:
        """Yes/no/thanks/ok, a number or a date: never escalated on scores alone."""
        return self.reading is not None and self.reading.short_reply

    def named_services(self) -> Tuple[str, ...]:
        """Services the customer named (entities, then the lexicon), each once."""
        words = self.reading.services if self.reading else ()
        return tuple(dict.fromkeys((*self.entity_services, *words)))

    @classmethod
    def from_parse_data(cls, parse_data: Mapping[str, Any]) -> MessageView:
        """Read a Rasa parse result (``tracker.latest_message``)."""
        signals = parse_data.get("signals") or {}
        frustration = signals.get("frustration") or {}
        urgency = signals.get("urgency") or {}
        text = parse_data.get("text")
        return cls(
            intent=(parse_data.get("intent") or {}).get("name"),
            frustration_level=frustration.get("level"),
            frustration_score=float(frustration.get("score") or 0.0),
            urgency_service=urgency.get("service"),
            urgency_score=float(urgency.get("score") or 0.0),
            entity_services=tuple(
                e.get("value") for e in parse_data.get("entities") or [] if e.get("entity") == "service_type"
            ),
            reading=cues.read(text) if isinstance(text, str) else None,
            intent_confidence=float((parse_data.get("intent") or {}).get("confidence", 1.0) or 0.0),
        )


# How many of the customer's earlier messages a service named in them is remembered for.
SERVICE_MEMORY = 3


@dataclass(frozen=True)
class Context:
    """What the conversation was doing when the message came: a reply is read
    against what the assistant just asked.

    Attributes:
        active_loop: the form that is open, if any.
        requested_slot: the form's question, if any.
        outage_reported: the customer already reported an outage this session
            (so "الكهربا" answers the outage form's "which service?").
        bot_asked: the assistant's latest message, for the evidence shown to agents.
        misunderstood_before: one of the customer's two messages before this one
            was not understood.
        service_before: the essential service the customer's latest earlier
            message naming one named (of the last :data:`SERVICE_MEMORY`), if any:
            "وهو فاصل دلوقتي" speaks of it.
    """

    active_loop: Optional[str] = None
    requested_slot: Optional[str] = None
    outage_reported: bool = False
    bot_asked: Optional[str] = None
    misunderstood_before: bool = False
    service_before: Optional[str] = None


def felt_frustration(parse_data: Mapping[str, Any], config: EscalationConfig) -> float:
    """A message's frustration score as the running estimate counts it: the signals
    model's score, raised to ``exasperation_score`` when the words say the customer's
    patience is running out ("third time", "fed up", "how long must I wait").

    The model reads tone; a polite "this is the third time I ask" is written calmly
    and scores low, yet it is the clearest sign that frustration is building.
    """
    score = float(((parse_data.get("signals") or {}).get("frustration") or {}).get("score") or 0.0)
    text = parse_data.get("text")
    if not isinstance(text, str):
        return score
    reading = cues.read(text)
    if reading.exasperation:
        return max(score, config.exasperation_score)
    if accepts_calmly((parse_data.get("intent") or {}).get("name"), reading):
        return 0.0
    return score


# Intents of a customer agreeing: with words agreeing to wait, the message is calm.
AGREEING_INTENTS = ("thank", "affirm")


def accepts_calmly(intent: Optional[str], reading: Optional[cues.Reading]) -> bool:
    """Thanks or a yes that agrees to wait ("حسنا سأنتظر يومين، شكرا"), with no word of
    exasperation, insult, threat or shouting: calm, whatever the frustration model reads
    into the duration next to it."""
    if reading is None or intent not in AGREEING_INTENTS or not reading.accepting:
        return False
    return not (reading.exasperation or reading.insult or reading.threat or reading.shouting)


def running_frustration(scores: Sequence[float], decay: float, start: Optional[float] = None) -> float:
    """Exponential moving average of per-message frustration scores, oldest first.

    Args:
        scores: the messages' scores.
        decay: weight of the past.
        start: the average of earlier messages, when they are not in ``scores``.
    """
    running = 0.0 if start is None else start
    for i, score in enumerate(scores):
        running = score if i == 0 and start is None else decay * running + (1 - decay) * score
    return round(running, 4)


def is_rising(scores: Sequence[float], config: EscalationConfig) -> bool:
    """The last ``window`` scores each rise by ``min_step`` and the running
    estimate has reached ``min_running``."""
    recent = list(scores)[-config.window :]
    if len(recent) < config.window:
        return False
    steps_up = all(b - a >= config.min_step for a, b in zip(recent, recent[1:], strict=False))  # pairs of neighbours
    return steps_up and running_frustration(scores, config.decay) >= config.min_running


# Intents under which an outage may hide: a complaint about it, a bare answer, or
# nothing understood.
OUTAGE_LIKE_INTENTS = ("report_outage", "complaint", "inform", "nlu_fallback")
# Yes / no: what an outage said as an answer ("still off", "مش شغال خالص") often reads as.
ANSWER_INTENTS = ("deny", "affirm")


def _score(message: MessageView) -> Dict[str, float]:
    return {"urgency": round(message.urgency_score, 3), "frustration": round(message.frustration_score, 3)}


def outage_evidence(message: MessageView, config: EscalationConfig, context: Context = Context()) -> Optional[Tuple[str, Evidence]]:
    """The essential service that is out now and the evidence for it, or None.

    The rules, strongest first: a service word with an outage or absence expression;
    an outage intent with a service; outage words about the service named before;
    someone's health depending on the supply, in a message about a service; a service
    named while the outage form is open or right after an outage report; a very high
    urgency score with a service named.
    A message saying the service is back, or asking about a planned or past cut, is
    no outage report whatever the scores say.
    """
    essential = config.essential_services
    reading = message.reading
    if reading is not None and reading.blocked_by:
        return None
    named = [s for s in message.named_services() if s in essential]
    if reading is not None and reading.outage_cue and reading.outage_service in essential:
        said = reading.outage_service
        return said, Evidence(ESSENTIAL_OUTAGE, "service_with_outage_words", f"{said}: «{reading.outage_cue}»", _score(message))
    # A question with no outage word in it ("والدي يستخدم جهاز أكسجين، فهل لديكم خصم
    # للمرضى؟" read as report_outage 0.90, urgency 0.54) needs the model to be sure
    asks_only = reading is not None and reading.asks and not reading.unnamed_outage
    # so does "a problem with the internet" with no word of what it is ("النت عندي فيه مشكله")
    vague = reading is not None and bool(reading.problem) and not reading.unnamed_outage and not reading.outage_cue
    needed = config.urgency_score_alone if asks_only or vague else config.urgency_score
    signal_service = (
        message.urgency_service
        if message.urgency_service in essential and message.urgency_score >= needed and not message.short_reply
        else None
    )
    # a question with no outage words needs the classifier sure ("جاري بيشرب شيشة ...
    # ينفع تقطعوا عنه الكهربا؟" was report_outage 0.76)
    sure = message.intent_confidence >= config.min_intent_confidence
    sure_report = message.intent_confidence >= (config.question_confidence if asks_only else config.min_intent_confidence)
    # Without outage words, a message saying the service works ("لا المية شغالة عادي،
    # المشكلة في السخان") or naming an appliance that broke ("السخان بايظ والمية بتنزل
    # ساقعة") is about something else, whatever the intent and the scores read into it
    # (an appliance that stopped because the power went, "قطع تاني دلوقتي والتكييف واقف",
    # is told with outage words: then it says nothing)
    works = reading is not None and reading.works is not None
    appliance = reading is not None and reading.appliance is not None and not reading.unnamed_outage
    # a reply of answer words naming a plan ("نور فايبر ٣٠٠") reports nothing
    if (
        message.intent == "report_outage" and sure_report and not works and not appliance
        and (signal_service if vague else named or signal_service) and not message.short_reply
    ):
        service = named[0] if named else str(signal_service)
        return service, Evidence(ESSENTIAL_OUTAGE, "outage_intent", f"{service}: report_outage ({message.intent_confidence:.2f})", _score(message))
    # "النت بيفصل كل يوم" … "وهو فاصل دلوقتي حالا": outage words about the service named
    # before; "delwa2ty fesel 5ales msh sha3'al" reads as a "no" to the classifier
    outage_like = message.intent in OUTAGE_LIKE_INTENTS or message.intent_confidence < config.min_intent_confidence
    answer_like = outage_like or message.intent in ANSWER_INTENTS
    if reading is not None and reading.unnamed_outage and answer_like and not named and not message.short_reply and context.service_before in essential:
        said = str(context.service_before)
        return said, Evidence(ESSENTIAL_OUTAGE, "outage_words_service_before", f"{said} (named before): «{reading.unnamed_outage}»", _score(message))
    # "w abooy 3ndo jihaz ghaseel kilawi … w y7taaj may": someone's health hangs on the
    # supply, said in a message about it; no wording of the outage is waited for
    medical_service = named[0] if named else context.service_before if context.service_before in essential else signal_service
    # not a need told with the service's use ("امي عندها غسيل كلى ومنستهلك مي كتير": the bill)
    if reading is not None and reading.medical and not reading.consumption and outage_like and medical_service and not message.short_reply:
        return medical_service, Evidence(ESSENTIAL_OUTAGE, "medical_need", f"{medical_service}: «{reading.medical}»", _score(message))
    if named and not works and not appliance and (context.active_loop == "outage_form" or context.outage_reported):
        return named[0], Evidence(ESSENTIAL_OUTAGE, "outage_form_answer", f"{named[0]} named after an outage report", _score(message))
    # The scores decide only where the intent classifier has no confident reading
    # of its own ("moving house: what about the electricity?" is move_service).
    other_intent = sure and message.intent not in OUTAGE_LIKE_INTENTS
    # nor where the words say the service works ("والكهربا شغالة عادي، شو هالصوت؟") or
    # name an appliance that broke
    if (
        named
        and not message.short_reply
        and not other_intent
        and not works
        and not appliance
        and message.urgency_service in named
        and message.urgency_score >= config.urgency_score_alone
    ):
        return message.urgency_service, Evidence(ESSENTIAL_OUTAGE, "model_score_with_service", f"{message.urgency_service} named, urgency {message.urgency_score:.2f}", _score(message))
    return None


def is_sustained(scores: Sequence[float], config: EscalationConfig) -> bool:
    """The last ``window`` messages were each at least annoyed (``sustained_score``)
    and the running estimate has reached ``min_running``: frustration that does not
    climb but does not go away either."""
    recent = list(scores)[-config.window :]
    return (
        len(recent) >= config.window
        and min(recent) >= config.sustained_score
        and running_frustration(scores, config.decay) >= config.min_running
    )


def built_up(scores: Sequence[float], config: EscalationConfig) -> bool:
    """The message before the latest was already at least annoyed (``sustained_score``)."""
    return len(scores) >= 2 and scores[-2] >= config.sustained_score


# Actions that do not answer a request: waiting, asking for what a form needs, not
# understanding, handing over (an answer is any other action, utterances aside).
NOT_ANSWERS = ("action_listen", "action_session_start", "action_fallback", "action_handoff")


def _answers(action: Optional[str]) -> bool:
    name = action or ""
    return not (name in NOT_ANSWERS or name.endswith("_form") or name.startswith("utter_"))


def asked_again(steps: Sequence[Tuple[str, Optional[str]]], config: EscalationConfig) -> Optional[str]:
    """A request the customer made again after the assistant answered it, counted
    ``asked_again_times`` times this session, or None (0 in escalation.yml: off).

    Args:
        steps: ("user", intent) and ("action", name) of the session, oldest first.
        config: the escalation configuration.

    A request repeated before any answer ("I can't log in" then "it says the password
    is wrong", or a form's answer) is the same request told in more words.
    """
    if config.asked_again_times <= 0:
        return None
    asked: Dict[str, int] = {}
    answered: Set[str] = set()
    pending: Optional[str] = None  # the latest request; a form's answers do not replace it
    for kind, name in steps:
        if kind == "action" and _answers(name) and pending:
            answered.add(pending)
        elif kind == "user" and name and name not in config.not_requests:
            if name not in asked or name in answered:
                asked[name] = asked.get(name, 0) + 1
                answered.discard(name)
            pending = name
    repeated = [intent for intent, times in asked.items() if times >= config.asked_again_times]
    return repeated[-1] if repeated else None


def outage_service(message: MessageView, config: EscalationConfig, context: Context = Context()) -> Optional[str]:
    """The essential service that is out now, when the message supports it."""
    found = outage_evidence(message, config, context)
    return found[0] if found else None


def decide(
    message: MessageView,
    frustration_scores: Sequence[float],
    fallbacks_in_a_row: int,
    config: EscalationConfig,
    context: Context = Context(),
    repeated_request: Optional[str] = None,
) -> Decision:
    """Apply escalation.yml to the latest message and the conversation so far.

    Args:
        message: the customer's latest message.
        frustration_scores: per-message frustration scores of this conversation,
            oldest first, the latest message included (short replies left out).
        fallbacks_in_a_row: misunderstood messages in a row, the latest included.
        config: the escalation configuration.
        context: what the conversation was doing (open form, earlier outage report).
        repeated_request: a request the customer has made again after it was
            answered (:func:`asked_again`), if any.
    """
    short = message.short_reply
    found: Dict[str, Evidence] = {}
    # burning, smoke, sparks, a fallen live wire: people are at risk, whatever the tone
    danger = message.reading.danger if message.reading is not None else None
    if danger:
        found[SAFETY] = Evidence(SAFETY, "danger_words", f"«{danger}»", _score(message))
    outage = outage_evidence(message, config, context)
    if outage is not None:
        found[ESSENTIAL_OUTAGE] = outage[1]
    # The calibrated score, not the most likely level: "angry" by a nose (P 0.4 against
    # 0.35 annoyed) is not evidence enough for an urgent ticket.
    calm_agreement = accepts_calmly(message.intent, message.reading)
    if not short and not calm_agreement and message.frustration_score >= config.angry_score:
        found[ANGRY] = Evidence(ANGRY, "angry_model", f"{message.frustration_level} ({message.frustration_score:.2f})", _score(message))
    # An insult is anger however calmly the model reads its tone ("وش ذا الرقم؟ انتم حراميه")
    insult = message.reading.insult if message.reading is not None else None
    if not short and ANGRY not in found and insult:
        found[ANGRY] = Evidence(ANGRY, "insult_words", f"«{insult}»", _score(message))
    # Shouting in capitals is anger in any language the models read poorly ("WHAT IS
    # WRONG WITH YOU PEOPLE"), when its words are exasperated too (not "I NEED THE WIFI
    # PASSWORD", typed with caps lock on)
    shouting = message.reading.shouting if message.reading is not None else None
    if not short and ANGRY not in found and shouting and message.reading is not None and message.reading.exasperation:
        found[ANGRY] = Evidence(ANGRY, "shouting", f"«{shouting}»", _score(message))
    sure = message.intent_confidence >= config.min_intent_confidence
    # A calm question with no threat words in it asks, it does not threaten, when the
    # classifier reads a threat without being sure, or when it asks for an authority's
    # number or website ("هل يمكن تزويدي برقم هيئة تنظيم الكهرباء؟ احتاجه لبحث جامعي" was
    # a threat at 0.64, "شو هو موقع هيئة تنظيم الكهرباء؟ عندي مشروع بالمدرسه" at 0.97)
    calm_question = (
        message.reading is not None and message.reading.asks and not message.reading.threat
        and message.frustration_score < config.sustained_score
        and (message.intent_confidence < config.question_confidence or message.reading.authority_contact is not None)
    )
    if not short and sure and not calm_question and message.intent in config.threat_intents:
        found[THREAT] = Evidence(THREAT, "threat_intent", f"{message.intent} ({message.intent_confidence:.2f})", _score(message))
    if not short:
        rule = "rising_scores" if is_rising(frustration_scores, config) else "sustained_scores" if is_sustained(frustration_scores, config) else None
        if (
            rule is None
            and repeated_request
            # asking once more is still asking; it is what comes after that tells
            and repeated_request != message.intent
            and len(frustration_scores) >= config.window
            # the tone itself, not only the words: "nobody has called me yet, I just
            # wanted to check" asks again calmly
            and message.frustration_score >= config.sustained_score
        ):
            rule = "asked_again"
        # An angry message is also rising frustration when the customer was already
        # annoyed before it: the agent should know the anger built up over the
        # conversation, not that it came from nowhere (calm, calm, angry is anger alone).
        if rule and ANGRY in found and not built_up(frustration_scores, config):
            rule = None
        # Anger right after the assistant failed to understand the customer built up
        # too ("يا اخي الخميس!! ليش ما تفهم" after "قلت لك الخميس الجاي" was not understood)
        if rule is None and ANGRY in found and context.misunderstood_before:
            rule = "angry_after_misunderstanding"
        if rule:
            recent = ", ".join(f"{s:.2f}" for s in list(frustration_scores)[-config.window :])
            words = message.reading.exasperation if message.reading is not None else None
            recent += f"; «{words}»" if words else ""
            recent += f"; {repeated_request} asked again" if rule == "asked_again" else ""
            found[RISING] = Evidence(RISING, rule, recent, {"running": running_frustration(frustration_scores, config.decay)})
    threat_words = message.reading.threat if message.reading is not None else None
    if THREAT not in found and threat_words:
        found[THREAT] = Evidence(THREAT, "threat_words", f"«{threat_words}»", _score(message))
    asks = message.reading.person_request if message.reading is not None else None
    if not short and sure and message.intent in config.request_intents:
        found[REQUEST] = Evidence(REQUEST, "request_intent", f"{message.intent} ({message.intent_confidence:.2f})", _score(message))
    elif asks:
        found[REQUEST] = Evidence(REQUEST, "person_request_words", f"«{asks}»", _score(message))
    if fallbacks_in_a_row >= config.fallbacks_in_a_row:
        found[MISUNDERSTOOD] = Evidence(MISUNDERSTOOD, "fallbacks_in_a_row", f"{fallbacks_in_a_row} in a row")
    # venting the assistant cannot place ("هذا لا يفيدني اطلاقا" after "the period you
    # gave has passed", "ضيعت يومي كله انتظر" after "nobody came") is patience running
    # out: the message not understood and the one before it both annoyed, the latest
    # as much as the running estimate must reach ("عم جرب عالواي فاي", 0.32, is not)
    venting = list(frustration_scores)[-2:]
    if (
        fallbacks_in_a_row and RISING not in found and not short and len(venting) == 2
        and min(venting) >= config.sustained_score and venting[-1] >= config.min_running
    ):
        found[RISING] = Evidence(RISING, "misunderstood_while_annoyed", ", ".join(f"{v:.2f}" for v in venting))
    reasons = tuple(r for r in REASON_ORDER if r in found and r in config.priorities)
    if not reasons:
        return Decision()
    level = min(config.priorities[r] for r in reasons)
    service = outage[0] if outage is not None and ESSENTIAL_OUTAGE in reasons else None
    return Decision(reasons, config.priority_names.get(level, str(level)), service, tuple(found[r] for r in reasons))


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
