"""EscalationPolicy after a colleague hands the conversation back to the bot."""

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, ConversationPaused, ConversationResumed, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.policies import EscalationPolicy

DOMAIN = Domain.load(["bot/domain"])
ANGRY = {"frustration": {"level": "angry", "score": 0.95}, "urgency": {"service": "none", "score": 0.01}}
CALM = {"frustration": {"level": "calm", "score": 0.05}, "urgency": {"service": "none", "score": 0.01}}


@pytest.fixture
def policy(tmp_path):
    return EscalationPolicy.create(
        EscalationPolicy.get_default_config(), LocalModelStorage(tmp_path), Resource("escalation"), ExecutionContext(GraphSchema({}), "test")
    )


def said(tracker, intent, signals=None, text="..."):
    tracker.update(ActionExecuted("action_listen"))
    parse = {"intent": {"name": intent}, "entities": [], "signals": signals or CALM}
    tracker.update(UserUttered(text, {"name": intent, "confidence": 0.9}, parse_data=parse))


def handed_over_and_back(intent):
    """Rising frustration, a handoff, angry words to the colleague while paused, then the return."""
    tracker = DialogueStateTracker("u1", DOMAIN.slots)
    for score in (0.2, 0.45, 0.7):
        said(tracker, "complaint", {"frustration": {"level": "annoyed", "score": score}, "urgency": CALM["urgency"]})
    tracker.update(ActionExecuted("action_handoff"))
    tracker.update(ConversationPaused())
    said(tracker, "complaint", ANGRY)  # to the colleague: logged, nothing predicted
    tracker.update(ConversationResumed())
    said(tracker, intent, {})
    return tracker


def best(prediction):
    index = max(range(len(prediction.probabilities)), key=prediction.probabilities.__getitem__)
    return DOMAIN.action_names_or_texts[index] if prediction.probabilities[index] > 0 else None


@pytest.mark.parametrize("intent", ["EXTERNAL_handoff_returned", "EXTERNAL_handoff_resolved"])
def test_the_return_itself_never_hands_off_again(policy, intent):
    prediction = policy.predict_action_probabilities(handed_over_and_back(intent), DOMAIN)
    assert best(prediction) is None
    assert ("frustration_scores", []) in [(e.key, e.value) for e in prediction.events]  # judged afresh


def test_after_the_return_only_new_messages_count(policy):
    tracker = handed_over_and_back("EXTERNAL_handoff_returned")
    tracker.update(ActionExecuted("action_handoff_returned"))
    said(tracker, "opening_hours", {"frustration": {"level": "annoyed", "score": 0.75}, "urgency": CALM["urgency"]})
    prediction = policy.predict_action_probabilities(tracker, DOMAIN)
    assert best(prediction) is None
    slots = {e.key: e.value for e in prediction.events}
    assert slots["frustration_scores"] == [0.75]  # not the angry words to the colleague


def test_an_unhappy_rating_is_feedback_not_a_handoff(policy):
    tracker = handed_over_and_back("EXTERNAL_handoff_resolved")
    tracker.update(ActionExecuted("action_handoff_resolved"))
    tracker.update(ActionExecuted("rating_form"))
    tracker.update(ActiveLoop("rating_form"))
    said(tracker, "nlu_fallback", ANGRY, text="1")
    tracker.update(ActionExecuted("rating_form"))
    said(tracker, "complaint", ANGRY, text="الموظف ما حل شي!!")
    assert best(policy.predict_action_probabilities(tracker, DOMAIN)) is None


def test_after_the_return_a_new_request_for_a_person_still_counts(policy):
    tracker = handed_over_and_back("EXTERNAL_handoff_returned")
    tracker.update(ActionExecuted("action_handoff_returned"))
    said(tracker, "request_human")
    assert best(policy.predict_action_probabilities(tracker, DOMAIN)) == "action_handoff"
