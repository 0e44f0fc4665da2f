"""EscalationPolicy predicts the handoff and keeps the running frustration."""

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.policies import EscalationPolicy

DOMAIN = Domain.load(["bot/domain"])


@pytest.fixture
def policy(tmp_path):
    storage = LocalModelStorage(tmp_path)
    return EscalationPolicy.create(
        EscalationPolicy.get_default_config(), storage, Resource("escalation"), ExecutionContext(GraphSchema({}), "test")
    )


def tracker_with(*messages):
    tracker = DialogueStateTracker("u1", DOMAIN.slots)
    tracker.update(ActionExecuted("action_listen"))
    for intent, frustration, service in messages:
        signals = {
            "frustration": {"level": frustration[0], "score": frustration[1]},
            "urgency": {"service": service[0], "score": service[1]},
        }
        tracker.update(
            UserUttered("...", {"name": intent, "confidence": 0.9}, parse_data={"intent": {"name": intent}, "entities": [], "signals": signals})
        )
        if (intent, frustration, service) != messages[-1]:
            tracker.update(ActionExecuted("action_answer_faq"))
            tracker.update(ActionExecuted("action_listen"))
    return tracker


def predicted(prediction):
    best = max(range(len(prediction.probabilities)), key=prediction.probabilities.__getitem__)
    return DOMAIN.action_names_or_texts[best] if prediction.probabilities[best] > 0 else None


CALM, NONE = ("calm", 0.05), ("none", 0.02)


def test_angry_internet_outage_hands_off_with_both_reasons(policy):
    tracker = tracker_with(("report_outage", ("angry", 0.93), ("internet", 0.97)))
    prediction = policy.predict_action_probabilities(tracker, DOMAIN)
    assert predicted(prediction) == "action_handoff"
    assert prediction.policy_priority > 6  # above RulePolicy
    assert SlotSet("escalation_reasons", ["essential_outage", "angry"]) in prediction.optional_events
    assert SlotSet("escalation_priority", "urgent") in prediction.optional_events


def test_calm_question_is_left_to_the_other_policies_but_frustration_is_tracked(policy):
    tracker = tracker_with(("opening_hours", CALM, NONE))
    prediction = policy.predict_action_probabilities(tracker, DOMAIN)
    assert predicted(prediction) is None
    assert SlotSet("conversation_frustration", 0.05) in prediction.events
    assert SlotSet("frustration_scores", [0.05]) in prediction.events


def test_three_increasingly_annoyed_messages_escalate(policy):
    tracker = tracker_with(
        ("bill_inquiry", ("calm", 0.2), NONE),
        ("complaint", ("annoyed", 0.45), NONE),
        ("complaint", ("annoyed", 0.7), NONE),
    )
    prediction = policy.predict_action_probabilities(tracker, DOMAIN)
    assert predicted(prediction) == "action_handoff"
    assert SlotSet("escalation_reasons", ["rising_frustration"]) in prediction.optional_events


def test_after_the_handoff_it_waits_for_the_customer(policy):
    tracker = tracker_with(("request_human", CALM, NONE))
    tracker.update(ActionExecuted("action_handoff"))
    assert predicted(policy.predict_action_probabilities(tracker, DOMAIN)) == "action_listen"


def test_only_right_after_a_customer_message(policy):
    tracker = tracker_with(("opening_hours", CALM, NONE))
    tracker.update(ActionExecuted("action_answer_faq"))
    assert predicted(policy.predict_action_probabilities(tracker, DOMAIN)) is None


def test_explicit_request_for_a_person(policy):
    tracker = tracker_with(("request_human", CALM, NONE))
    prediction = policy.predict_action_probabilities(tracker, DOMAIN)
    assert predicted(prediction) == "action_handoff"
    assert SlotSet("escalation_priority", "normal") in prediction.optional_events


def said_tracker(*messages):
    """A conversation of (text, intent, frustration, urgency) customer messages."""
    tracker = DialogueStateTracker("u2", DOMAIN.slots)
    tracker.update(ActionExecuted("action_listen"))
    for i, (text, intent, frustration, service) in enumerate(messages):
        signals = {"frustration": {"level": frustration[0], "score": frustration[1]}, "urgency": {"service": service[0], "score": service[1]}}
        parse = {"text": text, "intent": {"name": intent, "confidence": 0.95}, "entities": [], "signals": signals}
        tracker.update(UserUttered(text, parse["intent"], parse_data=parse))
        if i < len(messages) - 1:
            tracker.update(ActionExecuted("utter_you_are_welcome"))
            tracker.update(ActionExecuted("action_listen"))
    return tracker


def test_the_closing_no_is_left_to_the_dialogue_however_the_models_read_it(policy):
    tracker = said_tracker(
        ("كم فاتورتي", "bill_inquiry", CALM, NONE),
        ("شكرا", "thank", CALM, NONE),
        ("لا", "deny", ("angry", 0.9), ("internet", 0.95)),
    )
    prediction = policy.predict_action_probabilities(tracker, DOMAIN)
    assert predicted(prediction) is None
    # short replies say nothing about the mood: only the first message is scored
    assert SlotSet("frustration_scores", [0.05]) in prediction.events


def test_the_handoff_records_its_evidence_for_agents_and_trainers(policy):
    tracker = said_tracker(("الكهربا مقطوعة عندنا من الصبح", "report_outage", CALM, ("electricity", 0.97)))
    prediction = policy.predict_action_probabilities(tracker, DOMAIN)
    assert predicted(prediction) == "action_handoff"
    evidence = next(e.value for e in prediction.optional_events if isinstance(e, SlotSet) and e.key == "escalation_evidence")
    assert evidence[0]["reason"] == "essential_outage"
    assert evidence[0]["rule"] == "service_with_outage_words"
    assert evidence[0]["message"] == "الكهربا مقطوعة عندنا من الصبح"


def test_after_a_fallback_it_waits_for_the_customer(policy):
    # Rasa's core fallback (no policy sure) runs action_fallback too; without this
    # it would predict itself again until the circuit breaker trips
    tracker = tracker_with(("affirm", CALM, NONE))
    tracker.update(ActionExecuted("action_fallback"))
    assert predicted(policy.predict_action_probabilities(tracker, DOMAIN)) == "action_listen"


def test_a_windowed_session_continues_the_estimate_of_the_whole_session(policy):
    """The tracker store loads a long session as a snapshot and its latest turns
    (bot/tracker_window.py): the estimate goes on from the snapshot's slots, to the
    same slots as on the whole session."""
    from rasa.shared.core.events import SessionStarted

    from bot.tracker_window import replay, slide_window

    tracker = DialogueStateTracker("u1", DOMAIN.slots)
    for event in (ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")):
        tracker.update(event)
    for i, score in enumerate((0.3, 0.1, 0.25, 0.4, 0.35, 0.2, 0.15, 0.3)):
        signals = {"frustration": {"level": "annoyed", "score": score}, "urgency": {"service": None, "score": 0.0}}
        tracker.update(UserUttered(f"رسالة {i}", {"name": "complaint", "confidence": 0.9},
                                   parse_data={"intent": {"name": "complaint"}, "entities": [], "signals": signals}))
        for event in policy.predict_action_probabilities(tracker, DOMAIN).events:
            tracker.update(event)  # as Rasa applies a policy's events
        tracker.update(ActionExecuted("action_answer_faq"))
        tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("شكرا على المساعدة", {"name": "complaint", "confidence": 0.9},
                               parse_data={"intent": {"name": "complaint"}, "entities": [], "signals": {"frustration": {"score": 0.05}}}))
    events = list(tracker.events)
    window = slide_window("u1", DOMAIN.slots, [], events, keep_turns=3)
    assert window is not None and window.start > 10
    windowed = replay("u1", DOMAIN.slots, [*window.snapshot, *events[window.start :]])
    expected = policy.predict_action_probabilities(replay("u1", DOMAIN.slots, events), DOMAIN).events
    got = policy.predict_action_probabilities(windowed, DOMAIN).events
    assert [(e.key, e.value) for e in got] == [(e.key, e.value) for e in expected]
    assert len(expected[0].value) == 9  # scores of messages the window no longer holds


def test_politely_worded_exasperation_builds_up_to_a_person_however_calm_the_tone(policy):
    exasperated = said_tracker(
        ("دفعت الفاتورة ولسه مش ظاهرة", "payment_not_reflected", ("calm", 0.12), NONE),
        ("عملت كل حاجة ومفيش فايدة", "complaint", ("calm", 0.15), NONE),
        ("دي تالت مرة اسأل", "complaint", ("calm", 0.1), NONE),
        ("زهقت والله، لحد امتى؟", "complaint", ("calm", 0.2), NONE),
    )
    prediction = policy.predict_action_probabilities(exasperated, DOMAIN)
    assert predicted(prediction) == "action_handoff"
    assert SlotSet("escalation_reasons", ["rising_frustration"]) in prediction.optional_events
    # the model's low scores count as annoyed (escalation.yml exasperation_score)
    assert SlotSet("frustration_scores", [0.12, 0.5, 0.5, 0.5]) in prediction.events
    plain = said_tracker(
        ("دفعت الفاتورة ولسه مش ظاهرة", "payment_not_reflected", ("calm", 0.12), NONE),
        ("طيب امتى هتظهر؟", "payment_not_reflected", ("calm", 0.15), NONE),
        ("تمام، هستنى لبكرة", "inform", ("calm", 0.1), NONE),
        ("وممكن ادفع الشهر الجاي من التطبيق؟", "payment_methods", ("calm", 0.2), NONE),
    )
    assert predicted(policy.predict_action_probabilities(plain, DOMAIN)) is None


def _with_text(tracker, text, intent="nlu_fallback", unintelligible=False):
    """The customer's next message, after the assistant's answer to the one before."""
    tracker.update(ActionExecuted("action_answer_faq"))
    tracker.update(ActionExecuted("action_listen"))
    parse = {"intent": {"name": intent, "confidence": 0.63}, "entities": [], "text": text,
             "signals": {"frustration": {"level": "calm", "score": 0.05}, "urgency": {"service": "none", "score": 0.02}}}
    if unintelligible:
        parse["unintelligible"] = True
    tracker.update(UserUttered(text, parse["intent"], parse_data=parse))
    return tracker


def _answered_about(policy, tracker, topic):
    """The follow-up is answered about ``topic``, and then the customer speaks."""
    prediction = policy.predict_action_probabilities(tracker, DOMAIN)
    assert predicted(prediction) == "action_answer_faq"
    assert SlotSet("faq_topic", topic) in prediction.optional_events
    for event in prediction.optional_events:
        tracker.update(event)
    tracker.update(ActionExecuted("action_answer_faq"))
    assert predicted(policy.predict_action_probabilities(tracker, DOMAIN)) == "action_listen"


def test_a_question_read_as_thanks_by_a_nose_is_a_follow_up_but_thanks_are_thanks(policy):
    _answered_about(policy, _with_text(tracker_with(("refund_request", CALM, NONE)), "طيب بس متى يرجع؟ ما فهمت", intent="thank"), "refund_request")
    thanks = _with_text(tracker_with(("refund_request", CALM, NONE)), "شكرا جزيلا", intent="thank")
    assert predicted(policy.predict_action_probabilities(thanks, DOMAIN)) != "action_answer_faq"


def test_a_question_about_the_answer_just_given_is_answered_about_its_topic(policy):
    _answered_about(policy, _with_text(tracker_with(("contact_channels", CALM, NONE)), "و الـ email؟"), "contact_channels")


def test_follow_ups_in_a_row_are_no_misunderstanding_and_keep_their_topic(policy):
    tracker = _with_text(tracker_with(("refund_request", CALM, NONE)), "بقالي اسبوع ونص، هو ده طبيعي؟")
    tracker.update(SlotSet("faq_topic", "refund_request"))
    tracker = _with_text(tracker, "يعني ممكن تاخد كام يوم كمان؟")
    prediction = policy.predict_action_probabilities(tracker, DOMAIN)
    assert predicted(prediction) == "action_answer_faq"
    assert SlotSet("faq_topic", "refund_request") in prediction.optional_events


def test_what_is_no_question_or_no_language_stays_a_misunderstanding(policy):
    for text, unintelligible in (("الكرسي الازرق طار فوق السطوح", False), ("🐸🌵🎈؟", True)):
        tracker = _with_text(tracker_with(("contact_channels", CALM, NONE)), text, unintelligible=unintelligible)
        assert predicted(policy.predict_action_probabilities(tracker, DOMAIN)) is None


def test_a_question_after_a_complaint_is_not_answered_with_the_complaint_again(policy):
    tracker = _with_text(tracker_with(("complaint", CALM, NONE)), "واش كاين شي واحد كيفهم هنا؟")
    assert predicted(policy.predict_action_probabilities(tracker, DOMAIN)) is None


def test_a_follow_up_is_its_topic_asked_again_and_venting_after_it_is_rising_frustration(policy):
    tracker = _with_text(tracker_with(("refund_request", CALM, NONE)), "طيب بس متى يرجع؟")
    tracker.update(SlotSet("faq_topic", "refund_request"))
    tracker = _with_text(tracker, "خلاص", intent="nlu_fallback")
    tracker.update(ActionExecuted("action_fallback"))
    tracker.update(ActionExecuted("action_listen"))
    vent = {"intent": {"name": "complaint", "confidence": 0.93}, "entities": [], "text": "يا اخي صار لي ساعه ومحد فاهمني",
            "signals": {"frustration": {"level": "annoyed", "score": 0.48}, "urgency": {"service": "none", "score": 0.01}}}
    tracker.update(UserUttered(vent["text"], vent["intent"], parse_data=vent))
    prediction = policy.predict_action_probabilities(tracker, DOMAIN)
    assert predicted(prediction) == "action_handoff"
    assert SlotSet("escalation_reasons", ["rising_frustration"]) in prediction.optional_events


def test_a_question_about_planned_works_the_classifier_could_not_place_gets_the_works(policy):
    tracker = _with_text(tracker_with(("greet", CALM, NONE)), "هو في صيانة للكهربا بكرة في النرجس؟", intent="inform")
    assert predicted(policy.predict_action_probabilities(tracker, DOMAIN)) == "action_planned_work"
    tracker.update(ActionExecuted("action_planned_work"))
    assert predicted(policy.predict_action_probabilities(tracker, DOMAIN)) == "action_listen"
    # a technician's maintenance visit is no planned cut
    visit = _with_text(tracker_with(("greet", CALM, NONE)), "ابي احجز موعد صيانة للعداد", intent="nlu_fallback")
    assert predicted(policy.predict_action_probabilities(visit, DOMAIN)) is None


def test_an_outage_report_its_words_rule_out_does_not_open_the_outage_form(policy):
    """"بس شغال مو فاصل" (it works, it is not cut) after a slow-internet answer: no
    outage form, no handoff, an answer saying so."""
    tracker = _with_text(tracker_with(("slow_internet", CALM, NONE)), "بس شغال مو فاصل", intent="report_outage")
    assert predicted(policy.predict_action_probabilities(tracker, DOMAIN)) == "action_planned_work"
    # an outage the words support still goes to a person
    outage = _with_text(tracker_with(("greet", CALM, NONE)), "مفيش نت خالص وانا شغال من البيت", intent="report_outage")
    assert predicted(policy.predict_action_probabilities(outage, DOMAIN)) == "action_handoff"


@pytest.mark.parametrize(
    "text, intent",
    [
        ("جربت طفي وشغل الراوتر", "report_outage"),
        ("جربت طفي وشغل الراوتر", "inform"),
        ("منذ صباح اليوم يخرج الماء من الصنبور بلون بني", "report_outage"),
        ("الماء لم ينقطع لكن لونه غير طبيعي", "nlu_fallback"),
        # a cut at a friend's or at work, "if it cuts" the classifier could not place
        ("احنا بالدوام الكهربا طافية من ساعة", "report_outage"),
        ("انا عند صاحبي والكهربا قاطعة عندهم بس مش ده موضوعي", "inform"),
        ("اذا طاحت الكوران واش لازم ندير؟", "nlu_fallback"),
    ],
)
def test_a_restart_or_discoloured_water_is_answered_whatever_outage_like_intent_it_got(policy, text, intent):
    tracker = _with_text(tracker_with(("slow_internet", CALM, NONE)), text, intent=intent)
    assert predicted(policy.predict_action_probabilities(tracker, DOMAIN)) == "action_planned_work"


def test_words_that_rule_an_outage_out_do_not_answer_another_intent(policy):
    """"if it cuts" under the move intent is a question about moving, not about outages"""
    tracker = _with_text(tracker_with(("greet", CALM, NONE)), "لو انقطعت الكهربا بعد ما انقل وش اسوي", intent="move_service")
    assert predicted(policy.predict_action_probabilities(tracker, DOMAIN)) != "action_planned_work"


def test_outage_words_after_a_message_naming_the_internet_go_to_a_person(policy):
    """"النت بيفصل كل يوم الساعة ٨", then "وهو فاصل دلوقتي حالا ومش راجع" (it is cut
    right now): the second names no service, the first did."""
    tracker = _with_text(tracker_with(("greet", CALM, NONE)), "النت بيفصل كل يوم الساعة ٨", intent="slow_internet")
    assert predicted(policy.predict_action_probabilities(tracker, DOMAIN)) != "action_handoff"
    tracker = _with_text(tracker, "وهو فاصل دلوقتي حالا ومش راجع")
    assert predicted(policy.predict_action_probabilities(tracker, DOMAIN)) == "action_handoff"
    # with no service named before, the same words are not enough
    alone = _with_text(tracker_with(("greet", CALM, NONE)), "وهو فاصل دلوقتي حالا ومش راجع")
    assert predicted(policy.predict_action_probabilities(alone, DOMAIN)) != "action_handoff"


def test_a_bare_answer_with_nothing_in_it_after_a_misunderstanding_reaches_a_person(policy):
    """"سكبيلتابت" (not understood), then "ؤرلاىةو ٧٧ ككك" read as inform 0.94 with no
    entity: two messages in a row the assistant could do nothing with."""
    def after_a_fallback(text, entities):
        tracker = tracker_with(("nlu_fallback", CALM, NONE))
        tracker.update(ActionExecuted("action_fallback"))
        tracker.update(ActionExecuted("action_listen"))
        parse = {"intent": {"name": "inform", "confidence": 0.94}, "entities": entities, "text": text,
                 "signals": {"frustration": {"level": "calm", "score": 0.05}, "urgency": {"service": "none", "score": 0.02}}}
        tracker.update(UserUttered(text, parse["intent"], entities, parse_data=parse))
        return tracker

    assert predicted(policy.predict_action_probabilities(after_a_fallback("ؤرلاىةو ٧٧ ككك", []), DOMAIN)) == "action_handoff"
    # an answer carrying what it answers is understood
    named = after_a_fallback("الكهرباء", [{"entity": "service_type", "value": "electricity", "start": 0, "end": 8}])
    assert predicted(policy.predict_action_probabilities(named, DOMAIN)) != "action_handoff"


def _appointment_completed(opening_intent, answers):
    """The appointment form opened by ``opening_intent``, answered with ``answers``
    ((text, intent) pairs), completed by its last run."""
    tracker = DialogueStateTracker("u1", DOMAIN.slots)
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("ابي فني", {"name": opening_intent, "confidence": 0.99}, parse_data={"intent": {"name": opening_intent}, "entities": []}))
    tracker.update(ActionExecuted("appointment_form"))
    tracker.update(ActiveLoop("appointment_form"))
    for text, intent in answers:
        tracker.update(SlotSet("requested_slot", "date"))
        tracker.update(ActionExecuted("action_listen"))
        tracker.update(UserUttered(text, {"name": intent, "confidence": 0.9}, parse_data={"intent": {"name": intent}, "entities": []}))
        tracker.update(ActionExecuted("appointment_form"))
    tracker.update(SlotSet("requested_slot", None))
    tracker.update(ActiveLoop(None))
    return tracker


@pytest.mark.parametrize(
    "opening_intent, submit",
    [("book_appointment", "action_book_appointment"), ("reschedule_appointment", "action_reschedule_appointment")],
)
def test_the_appointment_form_is_submitted_as_the_intent_that_opened_it(policy, opening_intent, submit):
    """Wrong codes lengthen the form past what stories remember, and the date's message
    may read as the other appointment intent ("يوم ١٥/٣ إن أمكن" as reschedule): the visit
    is still booked (it got action_fallback)."""
    answers = [("4471203", "inform"), ("191980", "inform"), ("192838", "inform"), ("202228", "inform"), ("يوم ١٥/٣ إن أمكن", "reschedule_appointment")]
    tracker = _appointment_completed(opening_intent, answers)
    assert predicted(policy.predict_action_probabilities(tracker, DOMAIN)) == submit
    # then "anything else?" and the customer's turn, as the stories go on
    tracker.update(ActionExecuted(submit))
    assert predicted(policy.predict_action_probabilities(tracker, DOMAIN)) == "utter_anything_else"
    tracker.update(ActionExecuted("utter_anything_else"))
    assert predicted(policy.predict_action_probabilities(tracker, DOMAIN)) == "action_listen"
    # while the form still asks, it is the form's turn, not a submission
    asking = _appointment_completed(opening_intent, answers[:1])
    asking.update(SlotSet("requested_slot", "date"))
    asking.update(ActiveLoop("appointment_form"))
    assert predicted(policy.predict_action_probabilities(asking, DOMAIN)) != submit


def _day_after_booking(text, intent, booked=True):
    """A visit booked (and "anything else?"), then the customer names another day."""
    tracker = _appointment_completed("book_appointment", [("4471203", "inform"), ("الثلاثاء", "inform")])
    if booked:
        tracker.update(ActionExecuted("action_book_appointment"))
        tracker.update(ActionExecuted("utter_anything_else"))
    tracker.update(ActionExecuted("action_listen"))
    entities = [{"entity": "date", "value": "Thursday", "start": 16, "end": 24}]
    parse = {"intent": {"name": intent, "confidence": 0.63}, "entities": entities, "text": text,
             "signals": {"frustration": {"level": "calm", "score": 0.05}, "urgency": {"service": "none", "score": 0.02}}}
    tracker.update(UserUttered(text, parse["intent"], entities, parse_data=parse))
    return tracker


def test_another_day_right_after_a_booking_moves_the_visit(policy):
    """"ay sorry again, Thursday na lang po" (nlu_fallback) right after the booking's
    answer: the form runs again and submits a reschedule, not "I did not understand"."""
    tracker = _day_after_booking("ay sorry again, Thursday na lang po", "nlu_fallback")
    assert predicted(policy.predict_action_probabilities(tracker, DOMAIN)) == "appointment_form"
    tracker.update(ActionExecuted("appointment_form"))
    tracker.update(ActiveLoop("appointment_form"))
    tracker.update(ActiveLoop(None))
    assert predicted(policy.predict_action_probabilities(tracker, DOMAIN)) == "action_reschedule_appointment"
    # a day with no visit booked before is left to the stories and the fallback
    assert predicted(policy.predict_action_probabilities(_day_after_booking("Thursday na lang po", "nlu_fallback", booked=False), DOMAIN)) != "appointment_form"


def _account_after(topic):
    tracker = tracker_with((topic, CALM, NONE))
    tracker.update(ActionExecuted("action_answer_faq"))
    tracker.update(ActionExecuted("action_listen"))
    entities = [{"entity": "account_number", "value": "48203917", "start": 0, "end": 8}]
    parse = {"intent": {"name": "inform", "confidence": 0.99}, "entities": entities, "text": "٤٨٢٠٣٩١٧",
             "signals": {"frustration": {"level": "calm", "score": 0.0}, "urgency": {"service": "none", "score": 0.01}}}
    tracker.update(UserUttered("٤٨٢٠٣٩١٧", parse["intent"], entities, parse_data=parse))
    return tracker


def test_an_account_number_after_the_payment_answer_is_looked_up(policy):
    """"I paid and it does not show", the answer, then the account number alone: the
    bill form verifies the customer and says which bills are paid."""
    assert predicted(policy.predict_action_probabilities(_account_after("payment_not_reflected"), DOMAIN)) == "bill_form"
    # after the opening hours an account number asks nothing of the kind
    assert predicted(policy.predict_action_probabilities(_account_after("opening_hours"), DOMAIN)) is None


def test_a_message_after_a_ruled_out_outage_report_is_no_answer_to_the_outage_form(policy):
    tracker = _with_text(tracker_with(("slow_internet", CALM, NONE)), "بس شغال مو فاصل", intent="report_outage")
    tracker.update(ActionExecuted("action_planned_work"))
    tracker.update(ActionExecuted("action_listen"))
    plan = {"intent": {"name": "nlu_fallback", "confidence": 0.63}, "entities": [{"entity": "service_type", "value": "internet"}],
            "text": "عندي نور فايبر ٣٠٠", "signals": {"frustration": {"level": "calm", "score": 0.0}, "urgency": {"service": "none", "score": 0.2}}}
    tracker.update(UserUttered(plan["text"], plan["intent"], plan["entities"], parse_data=plan))
    assert predicted(policy.predict_action_probabilities(tracker, DOMAIN)) != "action_handoff"


def test_a_calm_question_for_an_authoritys_website_is_answered_not_handed_over(policy):
    question = _with_text(tracker_with(("greet", CALM, NONE)), "شو هو موقع هيئة تنظيم الكهرباء؟ عندي مشروع بالمدرسه", intent="escalation_threat")
    assert predicted(policy.predict_action_probabilities(question, DOMAIN)) == "action_answer_faq"
    threat = _with_text(tracker_with(("greet", CALM, NONE)), "رح اشتكي عليكم للهيئة", intent="escalation_threat")
    assert predicted(policy.predict_action_probabilities(threat, DOMAIN)) == "action_handoff"
