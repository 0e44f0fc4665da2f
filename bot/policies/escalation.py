"""EscalationPolicy: hands the conversation to a person when escalation.yml says so.

Right after each customer message it

* updates the conversation-level frustration (slots ``frustration_scores`` and
  ``conversation_frustration``), whichever policy wins the turn;
* when a reason applies (explicit request, angry message, rising frustration,
  essential-service outage, threat, repeated misunderstanding) predicts
  ``action_handoff`` with certainty and a priority above the rules, and records the
  reasons and the priority (slots ``escalation_reasons``, ``escalation_priority``).

A question about planned works the classifier could not place is answered with the
works the organisation knows of (``action_planned_work``). A message the classifier
could not place that asks about the answer just given
("و الـ email؟" after the contact channels, ``bot/followups.py``) is answered about
that topic (``action_answer_faq`` with the slot ``faq_topic``) and is no misunderstanding.

It overrules an active form on purpose: an angry customer or one without power is
not asked for a meter number first.

When a colleague hands the conversation back (the relay triggers
``EXTERNAL_handoff_returned`` / ``EXTERNAL_handoff_resolved``), the judgement starts
afresh from the customer's next message: the frustration that led to the first
handoff, and whatever the customer wrote to the colleague, does not send them
straight back. Nor does the rating form: "1" and an unhappy comment are feedback
for the ticket, not a new request for a person.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot import escalation, followups
from bot.nlu import cues

HANDOFF_ACTION = "action_handoff"
# After these the customer speaks next, whatever the other policies think: a
# handoff waits for the colleague, and the fallback (also Rasa's core fallback
# when no policy is sure) has just asked the customer to rephrase. Without this
# the core fallback predicts itself again until the circuit breaker trips.
LISTEN_AFTER = (HANDOFF_ACTION, "action_fallback", followups.PLANNED_WORK_ACTION)
# Intents under which a question about planned works hides when the classifier has no
# reading of its own ("هو في صيانة للكهربا بكرة في النرجس؟" was `inform`).
PLANNED_WORK_INTENTS = (followups.FALLBACK_INTENT, "inform", "out_of_scope")
# Answers after which an account number alone asks the assistant to look the account
# up (the bill form verifies the customer, then says which bills are paid).
ACCOUNT_LOOKUP_TOPICS = ("payment_not_reflected", "refund_request")
# What rules an outage out and has its own answer whichever outage-like intent the
# message got (actions.actions.NOT_NOW_REPLIES): a restart, discoloured water, a cut
# somewhere not the customer's home, "if it cuts, what do I do?" (the classifier often
# has no intent for that one: "اذا طاحت الكوران واش لازم ندير؟"), the internet that works
# over a cable while the wifi does not, a street light or the app that went off.
ANSWERED_BLOCKERS = ("restart", "quality", "elsewhere", "hypothetical", "wifi_only", "not_a_service", "appliance")
ACCOUNT_LOOKUP_FORM = "bill_form"
# How many per-message scores the slot keeps (enough for the trend window).
KEPT_SCORES = 10
# Intents the system triggers (the relay's "back from a person"), not the customer.
SYSTEM_INTENT_PREFIX = "EXTERNAL_"
# Forms whose answers are feedback, never a reason for a handoff.
QUIET_LOOPS = ("rating_form",)


def _is_short_reply(event: UserUttered) -> bool:
    return cues.read(event.text or "").short_reply


def _context(tracker: DialogueStateTracker, user_events: List[UserUttered], intents: List[Optional[str]]) -> escalation.Context:
    """What the assistant was doing when the latest message came (``intents``: the
    session's messages as understood, short replies as None)."""
    bot_asked = next((e.text for e in reversed(tracker.events) if isinstance(e, BotUttered) and e.text), None)
    earlier = [e.intent_name for e in user_events[:-1]]
    return escalation.Context(
        active_loop=tracker.active_loop_name,
        requested_slot=tracker.get_slot("requested_slot"),
        # a report its own words ruled out ("بس شغال مو فاصل") reported nothing
        outage_reported=bool(earlier) and earlier[-1] == "report_outage" and not _ruled_out(user_events[-2]),
        bot_asked=bot_asked,
        misunderstood_before=followups.FALLBACK_INTENT in intents[-3:-1],
        service_before=_service_before(user_events[:-1]),
    )


def _service_before(earlier: List[UserUttered]) -> Optional[str]:
    """The essential service the latest of the customer's recent earlier messages
    naming one named (its outage reading's service first: the router counts there)."""
    for event in reversed(earlier[-escalation.SERVICE_MEMORY :]):
        reading = cues.read(event.text or "")
        if reading.outage_service or reading.services:
            return reading.outage_service or reading.services[-1]
    return None


# One form books and reschedules a technician's visit; the intent that opened it says
# which. Stories cannot tell once wrong codes or questions lengthened the form past the
# memoization's history ("يوم ١٥/٣ إن أمكن" read as reschedule_appointment at the end of a
# booking got action_fallback: the visit was never booked).
APPOINTMENT_FORM = "appointment_form"
APPOINTMENT_SUBMIT = {"book_appointment": "action_book_appointment", "reschedule_appointment": "action_reschedule_appointment"}
ANYTHING_ELSE = "utter_anything_else"


def _appointment_submit(tracker: DialogueStateTracker) -> Optional[str]:
    """The action that submits the appointment form it just completed, chosen by the
    intent of the customer's message that opened the form, or None."""
    if tracker.latest_action_name != APPOINTMENT_FORM or tracker.active_loop_name is not None or tracker.get_slot("requested_slot"):
        return None
    events = list(tracker.events)
    opened = next((i for i in range(len(events) - 1, -1, -1) if isinstance(events[i], ActiveLoop) and events[i].name == APPOINTMENT_FORM), None)
    if opened is None:
        return None
    opener = next((e for e in reversed(events[:opened]) if isinstance(e, UserUttered)), None)
    if opener is None:
        return None
    if opener.intent_name not in APPOINTMENT_SUBMIT and any(
        isinstance(e, ActionExecuted) and e.action_name in APPOINTMENT_SUBMIT.values() for e in events[:opened]
    ):
        return APPOINTMENT_SUBMIT["reschedule_appointment"]  # another day for the visit booked before
    return APPOINTMENT_SUBMIT.get(opener.intent_name or "")


def _after_appointment_submit(tracker: DialogueStateTracker) -> Optional[str]:
    """What follows a submission, as the stories have it: "anything else?", then listen."""
    latest = tracker.latest_action_name
    if latest in APPOINTMENT_SUBMIT.values():
        return ANYTHING_ELSE
    if latest != ANYTHING_ELSE:
        return None  # the common case: no walk through the events
    actions = (e.action_name for e in reversed(tracker.events) if isinstance(e, ActionExecuted))
    next(actions, None)  # "anything else?" itself
    return ACTION_LISTEN_NAME if next(actions, None) in APPOINTMENT_SUBMIT.values() else None


# "ay sorry again, Thursday na lang po" right after a booking or a change: another day for
# that visit, whatever intent the classifier gave a day with a few words around it.
ANOTHER_DAY_INTENTS = (followups.FALLBACK_INTENT, "inform", "deny", "affirm")
ANOTHER_DAY_TURNS = 2  # the booking's answer came within this many customer messages


def _another_day(tracker: DialogueStateTracker) -> bool:
    """Whether the latest message names a day for the visit just booked or moved."""
    latest = tracker.latest_message
    if latest is None or tracker.active_loop_name is not None or latest.intent_name not in ANOTHER_DAY_INTENTS:
        return False
    if not any(e.get("entity") == "date" for e in latest.entities or []):
        return False
    return _submitted_within(tracker, ANOTHER_DAY_TURNS)


def _submitted_within(tracker: DialogueStateTracker, turns: int) -> bool:
    """An appointment was booked or moved since the customer's ``turns``-th message back."""
    seen = 0
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            seen += 1
            if seen > turns:
                return False
        elif isinstance(event, ActionExecuted) and event.action_name in APPOINTMENT_SUBMIT.values():
            return True
    return False


def _ruled_out(event: UserUttered) -> bool:
    return bool(cues.read(event.text or "").blocked_by)


def _user_events_this_session(tracker: DialogueStateTracker) -> Tuple[List[UserUttered], bool]:
    """The customer's messages since the session started or a colleague handed
    the conversation back, whichever came last; and whether that start is older than
    the tracker's first event (the tracker store loads a window of a long session)."""
    events: List[UserUttered] = []
    for event in reversed(tracker.events):
        if getattr(event, "type_name", None) == "session_started":
            return list(reversed(events)), False
        if isinstance(event, UserUttered):
            if (event.intent_name or "").startswith(SYSTEM_INTENT_PREFIX):
                return list(reversed(events)), False
            events.append(event)
    return list(reversed(events)), True


def _answered_topic(tracker: DialogueStateTracker) -> Optional[str]:
    """The FAQ topic the assistant answered the customer's previous message with (its
    intent, or the topic of a follow-up), or None when that message got no FAQ answer."""
    events = list(tracker.events)
    users = [i for i, e in enumerate(events) if isinstance(e, UserUttered)]
    if len(users) < 2:
        return None
    previous, latest = users[-2], users[-1]
    between = events[previous + 1 : latest]
    if not any(isinstance(e, ActionExecuted) and e.action_name == followups.FAQ_ACTION for e in between):
        return None
    intent = events[previous].intent_name
    if followups.may_follow_up(intent):
        intent = next((e.value for e in between if isinstance(e, SlotSet) and e.key == followups.FAQ_TOPIC_SLOT and e.value), None)
    return None if intent in followups.TOPICS_NOT_FOLLOWED else intent


def _session_steps(tracker: DialogueStateTracker) -> Tuple[List[followups.Step], List[followups.Step]]:
    """The customer's intents and the assistant's actions since the session started
    or a colleague handed the conversation back (as :func:`_user_events_this_session`),
    in one pass: as written, and with each follow-up question answered in context
    counted as its topic (the ``faq_topic`` set after it) instead of its fallback."""
    written: List[followups.Step] = []
    topics: List[followups.Step] = []
    topic: Optional[str] = None
    for event in reversed(tracker.events):
        if getattr(event, "type_name", None) == "session_started":
            break
        if isinstance(event, SlotSet) and event.key == followups.FAQ_TOPIC_SLOT and event.value:
            topic = str(event.value)
        elif isinstance(event, UserUttered):
            if (event.intent_name or "").startswith(SYSTEM_INTENT_PREFIX):
                break
            written.append(("user", followups.step_intent(event.intent_name, event.entities, event.text)))
            followed_up = followups.may_follow_up(event.intent_name) and topic
            topics.append(("user", topic if followed_up else event.intent_name))
            topic = None
        elif isinstance(event, ActionExecuted):
            written.append(("action", event.action_name))
            topics.append(("action", event.action_name))
    return written[::-1], topics[::-1]


def _carried_estimate(tracker: DialogueStateTracker) -> Tuple[List[float], Optional[float]]:
    """The kept scores and running estimate where a windowed tracker begins: the
    values its snapshot (``bot/tracker_window.py``) set before the first message."""
    scores: List[float] = []
    running: Optional[float] = None
    for event in tracker.events:
        if isinstance(event, UserUttered):
            break
        if isinstance(event, SlotSet) and event.key == "frustration_scores" and isinstance(event.value, list):
            scores = [float(s) for s in event.value]
        elif isinstance(event, SlotSet) and event.key == "conversation_frustration" and isinstance(event.value, (int, float)):
            running = float(event.value)
    # without a score there is no estimate yet (the slot says 0.0): the first score starts it
    return scores, running if scores else None


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class EscalationPolicy(Policy):
    """Predicts ``action_handoff`` when a configured escalation reason applies."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        # above RulePolicy (6): a handoff must win over rules and forms
        return {"priority": 7, "config_path": str(escalation.DEFAULT_PATH)}

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Optional[Any] = None,
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer)
        self.escalation = escalation.load_config(Path(self.config["config_path"]))

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        # Nothing to learn: the decision is configuration. Persist so that loading
        # the model finds this component's resource.
        with self._model_storage.write_to(self._resource):
            pass
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        submit = _appointment_submit(tracker) or _after_appointment_submit(tracker)
        if submit is not None and submit in domain.action_names_or_texts:
            probabilities[domain.index_for_action(submit)] = 1.0
            return self._prediction(probabilities)
        latest = tracker.latest_message
        answered_follow_up = (
            tracker.latest_action_name == followups.FAQ_ACTION
            and latest is not None
            and followups.may_follow_up(latest.intent_name)
        )
        if tracker.latest_action_name in LISTEN_AFTER or answered_follow_up:
            probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
            return self._prediction(probabilities)
        if tracker.latest_action_name != ACTION_LISTEN_NAME or latest is None or not latest.intent:
            return self._prediction(probabilities)

        user_events, started_earlier = _user_events_this_session(tracker)
        short = [_is_short_reply(e) for e in user_events]
        # Short replies ("لا", "شكرا", a number) say nothing about the mood: they
        # neither raise nor lower the running estimate.
        new_scores = [
            escalation.felt_frustration({**(e.parse_data or {}), "text": e.text}, self.escalation)
            for e, is_short in zip(user_events, short, strict=True)
            if not is_short
        ]
        # A long session is loaded as a window: the estimate goes on from where the
        # window begins instead of starting afresh (the same figures as the whole
        # session, up to the slots' rounding to 4 decimals)
        carried, carried_running = _carried_estimate(tracker) if started_earlier else ([], None)
        scores = carried + new_scores
        running = escalation.running_frustration(new_scores, self.escalation.decay, start=carried_running)
        tracking = [
            SlotSet("frustration_scores", [round(s, 4) for s in scores[-KEPT_SCORES:]]),
            SlotSet("conversation_frustration", running),
        ]
        if (latest.intent_name or "").startswith(SYSTEM_INTENT_PREFIX) or tracker.active_loop_name in QUIET_LOOPS:
            return self._prediction(probabilities, events=tracking)
        message = escalation.MessageView.from_parse_data(latest.parse_data or {})
        # A short reply the classifier could not place ("اوكي") is no misunderstanding,
        # nor is a question about the answer just given ("و الـ email؟", bot/followups.py).
        as_written, as_topics = _session_steps(tracker)
        understood = followups.understood_intents(as_written)
        topic = None
        # a question read as thanks or a greeting by a nose ("طيب بس متى يرجع؟ ما فهمت" was
        # thank 0.63) is no thanks: follows_up() refuses a bare "شكرا" or "هلا"
        if followups.may_follow_up(latest.intent_name) and not (latest.parse_data or {}).get("unintelligible"):
            topic = _answered_topic(tracker) if followups.follows_up(latest.text or "") else None
            if topic:
                understood[-1] = followups.FOLLOW_UP
        another_day = topic is None and _another_day(tracker)
        if another_day:
            understood[-1] = "reschedule_appointment"
        intents = [None if is_short else intent for intent, is_short in zip(understood, short, strict=True)]
        fallbacks = escalation.consecutive_fallbacks(list(reversed(intents)))
        context = _context(tracker, user_events, intents)
        # a follow-up asks about its topic again; while asking it, it is no reason
        repeated = None if topic else escalation.asked_again(as_topics, self.escalation)
        decision = escalation.decide(message, scores, fallbacks, self.escalation, context, repeated)
        asks_planned = message.reading is not None and message.reading.planned_cut and tracker.active_loop_name is None
        # an outage report the words rule out ("بس شغال مو فاصل", "w iza n2at3et…",
        # "fi en2ita3 mabrmaj…") is answered for what it is, not with the outage form;
        # so are a restart the customer tried and water that comes discoloured
        # ("جربت طفي وشغل الراوتر", discoloured water) whatever outage-like intent it got
        blocked = message.reading.blocked_by if message.reading is not None else None
        not_now = bool(blocked) and tracker.active_loop_name is None and (
            latest.intent_name == "report_outage" or blocked in ANSWERED_BLOCKERS and latest.intent_name in escalation.OUTAGE_LIKE_INTENTS
        )
        if not decision.handoff and not topic and (asks_planned and latest.intent_name in PLANNED_WORK_INTENTS or not_now):
            probabilities[domain.index_for_action(followups.PLANNED_WORK_ACTION)] = 1.0
            return self._prediction(probabilities, events=tracking)
        if not decision.handoff and another_day:
            probabilities[domain.index_for_action(APPOINTMENT_FORM)] = 1.0
            return self._prediction(probabilities, events=tracking)
        # "I paid and it does not show", then the account number alone: look it up
        gives_account = any(e.get("entity") == "account_number" for e in latest.entities or [])
        if not decision.handoff and gives_account and tracker.active_loop_name is None and _answered_topic(tracker) in ACCOUNT_LOOKUP_TOPICS:
            probabilities[domain.index_for_action(ACCOUNT_LOOKUP_FORM)] = 1.0
            return self._prediction(probabilities, events=tracking)
        # a calm question for an authority's number or website ("شو هو موقع هيئة تنظيم
        # الكهرباء؟ عندي مشروع بالمدرسه") read as a threat: answered, not handed to a
        # person by the dialogue rule on the threat intent
        asks_authority = message.reading is not None and message.reading.authority_contact is not None
        if not decision.handoff and asks_authority and latest.intent_name in self.escalation.threat_intents:
            probabilities[domain.index_for_action(followups.FAQ_ACTION)] = 1.0
            return self._prediction(probabilities, events=tracking)
        if not decision.handoff and topic:
            probabilities[domain.index_for_action(followups.FAQ_ACTION)] = 1.0
            return PolicyPrediction(
                probabilities, self.__class__.__name__, self.priority, events=tracking,
                optional_events=[SlotSet(followups.FAQ_TOPIC_SLOT, topic)], diagnostic_data={"follow_up": topic},
            )
        if not decision.handoff:
            return self._prediction(probabilities, events=tracking)

        probabilities[domain.index_for_action(HANDOFF_ACTION)] = 1.0
        return PolicyPrediction(
            probabilities,
            self.__class__.__name__,
            self.priority,
            events=tracking,
            optional_events=[
                SlotSet("escalation_reasons", list(decision.reasons)),
                SlotSet("escalation_priority", decision.priority),
                SlotSet("escalation_evidence", [
                    {**e.as_dict(), "message": latest.text, "bot_asked": context.bot_asked} for e in decision.evidence
                ]),
            ],
            # Competes with (and beats) the rules' loop predictions while a form is
            # active; see the module docstring.
            is_no_user_prediction=True,
            diagnostic_data={
                "reasons": list(decision.reasons), "running_frustration": running,
                "evidence": [e.as_dict() for e in decision.evidence],
            },
        )

    def _metadata(self) -> Dict[str, Any]:
        return {"priority": self.priority}

    @classmethod
    def _metadata_filename(cls) -> str:
        return "escalation_policy.json"
