"""Escalation decision, running frustration and the EscalationPolicy."""

from pathlib import Path

import pytest
import yaml

from bot import escalation
from bot.escalation import (
    Context,
    Decision,
    MessageView,
    asked_again,
    decide,
    is_rising,
    load_config,
    outage_evidence,
    running_frustration,
)
from bot.nlu import cues
from tests.unit.test_cues import SHORT_REPLIES

CONFIG = escalation.load_config()


def view(intent="opening_hours", level="calm", score=0.0, service="none", urgency=0.0, entities=()):
    return MessageView(intent, level, score, service, urgency, tuple(entities))


def test_calm_question_is_not_escalated():
    assert decide(view(), [0.0], 0, CONFIG) == Decision()


@pytest.mark.parametrize(
    "message, scores, fallbacks, reasons, priority",
    [
        (view("request_human"), [0.1], 0, ("explicit_request",), "normal"),
        (view("complaint", "angry", 0.9), [0.9], 0, ("angry",), "urgent"),
        (view("complaint", "annoyed", 0.85), [0.85], 0, ("angry",), "urgent"),  # score above angry_score
        (view("report_outage", "calm", 0.1, "electricity", 0.9), [0.1], 0, ("essential_outage",), "urgent"),
        (view("report_outage", entities=["water"]), [0.0], 0, ("essential_outage",), "urgent"),  # NLU alone
        (view("escalation_threat", "annoyed", 0.5), [0.5], 0, ("escalation_threat",), "high"),
        (view("nlu_fallback"), [0.0, 0.0], 2, ("repeated_misunderstanding",), "normal"),
        (view("complaint", "annoyed", 0.6), [0.2, 0.4, 0.6], 0, ("rising_frustration",), "high"),
        (
            view("report_outage", "angry", 0.95, "internet", 0.97),
            [0.95],
            0,
            ("essential_outage", "angry"),
            "urgent",
        ),
    ],
)
def test_each_reason_and_its_priority(message, scores, fallbacks, reasons, priority):
    decision = decide(message, scores, fallbacks, CONFIG)
    assert decision.reasons == reasons
    assert decision.priority == priority
    assert decision.handoff


def test_one_misunderstanding_is_not_enough():
    assert not decide(view("nlu_fallback"), [0.0], 1, CONFIG).handoff


def test_slow_internet_is_not_an_essential_outage():
    message = view("slow_internet", "annoyed", 0.5, "none", 0.1, ["internet"])
    assert decide(message, [0.5], 0, CONFIG).reasons == ()


def test_running_frustration_is_an_exponential_average():
    assert running_frustration([], 0.5) == 0.0
    assert running_frustration([0.8], 0.5) == 0.8
    assert running_frustration([0.2, 0.4, 0.6], 0.5) == pytest.approx(0.45)


def test_three_increasingly_annoyed_messages_rise_but_flat_or_falling_do_not():
    assert is_rising([0.2, 0.4, 0.6], CONFIG)
    assert not is_rising([0.5, 0.5, 0.5], CONFIG)
    assert not is_rising([0.6, 0.4, 0.2], CONFIG)
    assert not is_rising([0.4, 0.6], CONFIG)  # too few messages
    assert not is_rising([0.0, 0.1, 0.2], CONFIG)  # rising but still calm


def test_thresholds_and_priorities_are_read_from_the_yaml(tmp_path: Path):
    data = yaml.safe_load(escalation.DEFAULT_PATH.read_text(encoding="utf-8"))
    data["thresholds"]["angry_score"] = 0.5
    data["essential_services"] = ["electricity"]
    del data["priorities"]["explicit_request"]
    path = tmp_path / "escalation.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    config = escalation.load_config(path)
    assert decide(view("complaint", "annoyed", 0.55), [0.55], 0, config).reasons == ("angry",)
    assert not decide(view("report_outage", service="water", urgency=0.9), [0.0], 0, config).handoff
    assert not decide(view("request_human"), [0.0], 0, config).handoff  # reason switched off


def test_unknown_reason_in_yaml_is_refused(tmp_path: Path):
    path = tmp_path / "escalation.yml"
    path.write_text("priorities: {grumpy: 1}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="grumpy"):
        escalation.load_config(path)


def test_message_view_reads_rasa_parse_data():
    parse = {
        "intent": {"name": "report_outage"},
        "entities": [{"entity": "service_type", "value": "internet"}, {"entity": "district", "value": "النرجس"}],
        "signals": {"frustration": {"level": "angry", "score": 0.9}, "urgency": {"service": "internet", "score": 0.8}},
    }
    message = MessageView.from_parse_data(parse)
    assert (message.intent, message.frustration_level, message.urgency_service) == ("report_outage", "angry", "internet")
    assert message.entity_services == ("internet",)
    assert MessageView.from_parse_data({}).frustration_score == 0.0


def test_consecutive_fallbacks_counts_from_the_newest():
    assert escalation.consecutive_fallbacks(["nlu_fallback", "nlu_fallback", "greet"]) == 2
    assert escalation.consecutive_fallbacks(["greet", "nlu_fallback"]) == 0


# ---------------------------------------------------------------- evidence and context


def said(text, intent="inform", level="calm", score=0.0, service="none", urgency=0.0, entities=(), confidence=0.9):
    """A message with its words, as the policy builds it from the parse data."""
    return MessageView(intent, level, score, service, urgency, tuple(entities), cues.read(text), confidence)


@pytest.mark.parametrize("text", SHORT_REPLIES)
def test_no_short_reply_escalates_on_model_scores_however_high(text):
    # the worst case the models produced for "لا": an outage reading and an angry one
    for intent in ("deny", "affirm", "inform", "report_outage", "complaint"):
        message = said(text, intent, "angry", 0.97, "internet", 0.99)
        assert decide(message, [0.9, 0.95, 0.97], 0, CONFIG).reasons == (), (text, intent)


def test_the_closing_no_after_anything_else_is_no_handoff():
    context = Context(bot_asked="العفو، هذا واجبنا. هل هناك شيء آخر أساعدك فيه؟")
    assert not decide(said("لا", "deny", "calm", 0.26, "internet", 0.81), [0.0, 0.26], 0, CONFIG, context).handoff


@pytest.mark.parametrize(
    "message, rule",
    [
        (said("الكهربا مقطوعة عندنا", "report_outage", entities=["electricity"]), "service_with_outage_words"),
        (said("عندي مشكلة بالكهرباء من امس", "report_outage", entities=["electricity"]), "outage_intent"),
        (said("وضعنا صعب جدا مع الموية", "complaint", service="water", urgency=0.95, entities=["water"]), "model_score_with_service"),
    ],
)
def test_an_essential_outage_needs_an_outage_reading_and_says_which(message, rule):
    decision = decide(message, [0.1], 0, CONFIG)
    assert decision.reasons == ("essential_outage",) and decision.priority == "urgent"
    assert decision.evidence[0].rule == rule and decision.evidence[0].reason == "essential_outage"
    assert decision.service in ("electricity", "water")


def test_a_service_named_in_answer_to_the_outage_form_is_an_outage():
    message = said("الكهرباء", "inform", entities=["electricity"])
    assert not decide(message, [0.0], 0, CONFIG).handoff  # alone: just a word
    decision = decide(message, [0.0], 0, CONFIG, Context(active_loop="outage_form", requested_slot="service_type"))
    assert decision.evidence[0].rule == "outage_form_answer" and decision.service == "electricity"


@pytest.mark.parametrize(
    "message",
    [
        said("الكهرباء رجعت الحمد لله", "report_outage", service="electricity", urgency=0.98, entities=["electricity"]),
        said("هل في قطع مبرمج بكرة للكهرباء؟", "report_outage", service="electricity", urgency=0.95, entities=["electricity"]),
        # a model score alone, the intent classifier sure it is something else
        said("احنا هننقل الشهر الجاي، اعمل ايه في الكهربا", "move_service", service="electricity", urgency=0.95, entities=["electricity"]),
        # an unsure outage intent without outage words
        said("رح تنقطع الكهربا ولا النت؟", "report_outage", confidence=0.34, entities=["electricity"]),
        # a high urgency score, no service named
        said("متى تفتحون؟", "opening_hours", service="internet", urgency=0.97, confidence=0.3),
    ],
)
def test_scores_without_an_outage_reading_do_not_open_an_urgent_ticket(message):
    assert "essential_outage" not in decide(message, [0.0], 0, CONFIG).reasons


def test_a_request_for_a_person_in_words_the_classifier_missed():
    decision = decide(said("لا، بدي احكي مع حدا من الموظفين", "deny"), [0.0], 0, CONFIG)
    assert decision.reasons == ("explicit_request",)
    assert decision.evidence[0].rule == "person_request_words"


def test_every_reason_carries_its_evidence_in_order():
    decision = decide(said("الانترنت مقطوع وانتم ولا على بالكم!!", "report_outage", "angry", 0.95, "internet", 0.97, ["internet"]), [0.95], 0, CONFIG)
    assert decision.reasons == ("essential_outage", "angry")
    assert [e.reason for e in decision.evidence] == ["essential_outage", "angry"]
    assert decision.evidence[1].as_dict()["scores"]["frustration"] == 0.95


def test_frustration_that_stays_annoyed_is_a_reason_like_rising_frustration():
    decision = decide(said("صار لي ساعة اعيد نفس الكلام وما فيه فايدة", "complaint", "annoyed", 0.43), [0.45, 0.44, 0.43], 0, CONFIG)
    assert decision.reasons == ("rising_frustration",) and decision.evidence[0].rule == "sustained_scores"
    assert not decide(said("طيب وكم المبلغ", "bill_inquiry", "annoyed", 0.31), [0.1, 0.45, 0.31], 0, CONFIG).handoff


def test_angry_needs_the_score_not_just_the_most_likely_level():
    assert not decide(said("I'm moving house next month, how do I move the service?", "move_service", "angry", 0.76), [0.76], 0, CONFIG).handoff
    assert decide(said("انتم شركة نصابين وخدمتكم زبالة", "complaint", "angry", 0.92), [0.92], 0, CONFIG).reasons == ("angry",)


def test_outage_words_without_a_service_speak_of_the_service_named_before():
    """"النت بيفصل كل يوم" … "وهو فاصل دلوقتي حالا ومش راجع": the internet is off now."""
    before = Context(service_before="internet")
    decision = decide(said("وهو فاصل دلوقتي حالا ومش راجع", "nlu_fallback", confidence=0.63), [0.3], 1, CONFIG, before)
    assert decision.reasons == ("essential_outage",) and decision.evidence[0].rule == "outage_words_service_before"
    assert decision.service == "internet"
    # nothing named before, something else that went down, another confident intent, "not cut"
    assert not decide(said("وهو فاصل دلوقتي حالا", "nlu_fallback", confidence=0.63), [0.3], 1, CONFIG).handoff
    assert not decide(said("التطبيق طاح", "app_login_help", confidence=0.95), [0.1], 0, CONFIG, before).handoff
    assert not decide(said("ليش مقطوعة؟", "bill_inquiry", confidence=0.95), [0.1], 0, CONFIG, before).handoff
    assert not decide(said("بس مو فاصل", "slow_internet", confidence=0.95), [0.1], 0, CONFIG, before).handoff


def test_someone_whose_health_depends_on_the_supply_reaches_a_person():
    """The outage was said in words nobody listed; the dialysis machine that needs water was not."""
    text = "w abooy 3ndo jihaz ghaseel kilawi bel bait w y7taaj may!!"
    decision = decide(said(text, "nlu_fallback", "angry", 0.5, "water", 0.9, ["water"], 0.63), [0.1, 0.5], 1, CONFIG)
    assert decision.reasons[0] == "essential_outage" and decision.evidence[0].rule == "medical_need"
    assert decision.service == "water"
    # unnamed, the service the urgency model is sure of counts
    unnamed = said("w abooy 3ndo jihaz ghaseel kilawi w y7taaj!!", "nlu_fallback", "angry", 0.5, "water", 0.93, [], 0.63)
    assert decide(unnamed, [0.1, 0.5], 1, CONFIG).service == "water"
    # the service named before counts; a question about the bill is no outage; the
    # same person at a friend's place is not at home
    before = Context(service_before="electricity")
    assert decide(said("وامي عندها جهاز اكسجين", "inform", confidence=0.7), [0.1], 0, CONFIG, before).service == "electricity"
    assert not decide(said("امي عندها جهاز اكسجين، كم فاتورة الكهربا؟", "bill_inquiry", entities=["electricity"], confidence=0.95), [0.1], 0, CONFIG).handoff
    assert not decide(said("ابوي عنده جهاز اكسجين وعايز اعرف مواعيد الفرع", "opening_hours", confidence=0.95), [0.1], 0, CONFIG).handoff


def test_a_question_without_outage_words_needs_a_sure_urgency_model():
    discount = said("والدي يستخدم جهاز أكسجين في المنزل، فهل لديكم خصم أو تعرفة مخفضة للمرضى؟", "report_outage", "calm", 0.01, "electricity", 0.54, [], 0.9)
    assert not decide(discount, [0.01], 0, CONFIG).handoff
    # outage words in the question, or a sure model, still reach a person
    assert decide(said("ليش طافي كل شي عندنا؟", "report_outage", "calm", 0.1, "electricity", 0.6, [], 0.9), [0.1], 0, CONFIG).handoff
    assert decide(said("هل تعرفون متى يرجع؟ صار لنا ساعات", "report_outage", "calm", 0.1, "electricity", 0.95, [], 0.9), [0.1], 0, CONFIG).handoff


def test_an_outage_somewhere_not_the_customers_home_is_no_outage_report():
    at_work = said("احنا بالدوام الكهربا طافية من ساعة", "report_outage", "annoyed", 0.38, "electricity", 1.0, ["electricity"], 0.71)
    assert not decide(at_work, [0.38], 0, CONFIG).handoff
    at_home_too = said("الكهربا مقطوعة عند الجيران وعندنا كمان", "report_outage", "calm", 0.1, "electricity", 1.0, ["electricity"])
    assert decide(at_home_too, [0.1], 0, CONFIG).reasons == ("essential_outage",)


def test_an_insult_is_anger_however_calmly_the_model_reads_it():
    decision = decide(said("وش ذا الرقم؟ انتم حراميه", "contact_channels", "calm", 0.08), [0.08], 0, CONFIG)
    assert decision.reasons == ("angry",) and decision.evidence[0].rule == "insult_words"
    # thieves who stole a cable are no insult to the company
    assert not decide(said("حرامية سرقوا الكيبل من الشارع", "complaint", "calm", 0.1), [0.1], 0, CONFIG).handoff


def test_a_threat_in_words_the_classifier_missed():
    decision = decide(said("deja glt lkom 3 merat, ghadi nbeddel la société", "nlu_fallback", "annoyed", 0.3, confidence=0.3), [0.3], 0, CONFIG)
    assert decision.reasons == ("escalation_threat",) and decision.evidence[0].rule == "threat_words"
    operator = said("franchement c'est la 3ème fois، si ça continue نبدل l'opérateur", "deny", "calm", 0.2, confidence=0.97)
    assert decide(operator, [0.2], 0, CONFIG).reasons == ("escalation_threat",)


def test_an_outage_said_as_a_no_speaks_of_the_service_named_before():
    """"el net ba6ee2" … "delwa2ty fesel 5ales msh sha3'al 5ales" (now it is cut, not
    working at all), read as deny (0.99)."""
    before = Context(service_before="internet")
    down = said("delwa2ty fesel 5ales msh sha3'al 5ales 😩", "deny", "calm", 0.24, confidence=0.99)
    assert decide(down, [0.24], 0, CONFIG, before).reasons == ("essential_outage",)
    assert not decide(said("la2 msh fasel", "deny", confidence=0.99), [0.0], 0, CONFIG, before).handoff


def test_they_cut_it_off_is_off_now_and_came_back_is_not():
    unpaid = said("قطعولي الكهربا لانه الفاتورة متأخرة", "bill_inquiry", "calm", 0.04, "none", 0.37, ["electricity"], 0.97)
    assert decide(unpaid, [0.04], 0, CONFIG).reasons == ("essential_outage",)
    back = said("mbere7 n2at3et el kahraba 3anna bas reje3et lyom el sob7", "report_outage", "calm", 0.13, "electricity", 0.69, ["electricity"], 0.99)
    assert not decide(back, [0.13], 0, CONFIG).handoff


def test_anger_that_built_up_is_also_rising_frustration_but_sudden_anger_is_not():
    angry = said("هادي تالت مرة كنعاود نفس الهضرة!!", "complaint", "angry", 0.92)
    built = decide(angry, [0.35, 0.45, 0.92], 0, CONFIG)
    assert built.reasons == ("angry", "rising_frustration")
    assert [e.rule for e in built.evidence] == ["angry_model", "rising_scores"]
    assert decide(angry, [0.05, 0.1, 0.92], 0, CONFIG).reasons == ("angry",)  # calm, calm, angry
    assert decide(angry, [0.92], 0, CONFIG).reasons == ("angry",)  # angry from the first message


# ---------------------------------------------------------------- a request made again
def _steps(*turns):
    steps = []
    for intent, *actions in turns:
        steps.append(("user", intent))
        steps += [("action", a) for a in actions] + [("action", "action_listen")]
    return steps


def test_a_request_made_again_after_its_answer_is_counted():
    config = load_config()
    asked = _steps(("bill_inquiry", "bill_form"), ("inform", "bill_form", "action_bill_summary"), ("nlu_fallback", "action_fallback"),
                   ("bill_inquiry", "bill_form", "action_bill_summary"), ("complaint",))
    assert asked_again(asked, config) == "bill_inquiry"


def test_a_request_told_in_more_words_before_any_answer_is_not_made_again():
    config = load_config()
    # "I can't log in" then "it says my password is wrong": one request
    assert asked_again(_steps(("app_login_help",), ("app_login_help", "action_answer_faq"), ("complaint",)), config) is None
    # the form's questions are no answer: the ticket number given when asked
    assert asked_again(_steps(("request_status", "status_form"), ("request_status", "status_form"), ("thank",)), config) is None


def test_a_request_made_again_with_an_annoyed_tone_is_rising_frustration():
    config = load_config()
    annoyed = MessageView(intent="complaint", frustration_level="annoyed", frustration_score=0.39, reading=cues.read("هذا غير مقبول"))
    decision = decide(annoyed, [0.0, 0.23, 0.37, 0.39], 0, config, repeated_request="bill_inquiry")
    assert decision.reasons == ("rising_frustration",) and decision.evidence[0].rule == "asked_again"
    # calmly asked again ("nobody called me yet, I just wanted to check"): no handoff
    calm = MessageView(intent="request_status", frustration_level="calm", frustration_score=0.15, reading=cues.read("لم يتواصل معي أحد"))
    assert not decide(calm, [0.13, 0.0, 0.5], 0, config, repeated_request="request_status").handoff
    # too early in the conversation to say the answers are not helping
    assert not decide(annoyed, [0.3, 0.39], 0, config, repeated_request="bill_inquiry").handoff
    # still asking the same thing, however it reads: the answer to it comes first
    asking = MessageView(intent="slow_internet", frustration_level="annoyed", frustration_score=0.35, reading=cues.read("ماذا افعل؟"))
    assert not decide(asking, [0.45, 0.09, 0.35], 0, config, repeated_request="slow_internet").handoff


def test_anger_right_after_a_misunderstanding_built_up():
    config = load_config()
    angry = MessageView(intent="nlu_fallback", frustration_level="angry", frustration_score=0.98, reading=cues.read("يا اخي الخميس!! ليش ما تفهم"))
    after = decide(angry, [0.0, 0.01, 0.98], 1, config, Context(misunderstood_before=True))
    assert after.reasons == ("angry", "rising_frustration") and after.evidence[1].rule == "angry_after_misunderstanding"
    # out of the blue it is anger alone
    assert decide(angry, [0.0, 0.01, 0.98], 1, config).reasons == ("angry",)


def test_venting_the_assistant_cannot_place_is_also_rising_frustration():
    config = load_config()
    venting = MessageView(intent="nlu_fallback", frustration_level="annoyed", frustration_score=0.45, reading=cues.read("هذا لا يفيدني اطلاقا"))
    decision = decide(venting, [0.1, 0.46, 0.5], 2, config)
    assert decision.reasons == ("rising_frustration", "repeated_misunderstanding")
    assert decision.evidence[0].rule == "misunderstood_while_annoyed"
    # one message not understood is enough when the one before was annoyed too
    wasted = MessageView(intent="nlu_fallback", frustration_level="annoyed", frustration_score=0.47, reading=cues.read("يعني ضيعت يومي كله انتظر، هذا ما يصير"))
    assert decide(wasted, [0.01, 0.43, 0.47], 1, config).evidence[0].rule == "misunderstood_while_annoyed"
    assert not decide(wasted, [0.01, 0.05, 0.47], 1, config).handoff
    trying = MessageView(intent="nlu_fallback", frustration_level="annoyed", frustration_score=0.32, reading=cues.read("عم جرب عالواي فاي"))
    assert not decide(trying, [0.0, 0.4, 0.32], 1, config).handoff
    # two calm messages it could not place are a misunderstanding only
    calm = MessageView(intent="nlu_fallback", frustration_level="calm", frustration_score=0.05, reading=cues.read("الكرسي الازرق"))
    assert decide(calm, [0.1, 0.05, 0.05], 2, config).reasons == ("repeated_misunderstanding",)


def test_a_plan_name_read_as_an_outage_report_is_no_outage():
    """"عندي نور فايبر ٣٠٠" names the customer's plan; the classifier read it as
    report_outage (0.63) with the internet named, which alone is no evidence."""
    plan = said("عندي نور فايبر ٣٠٠", "report_outage", "calm", 0.0, "none", 0.22, ["internet"], 0.63)
    assert outage_evidence(plan, CONFIG) is None
    outage = said("النت", "report_outage", "calm", 0.0, "internet", 0.9, ["internet"], 0.9)
    assert outage_evidence(outage, CONFIG) is not None


@pytest.mark.parametrize(
    "text",
    [
        "فيه ريحة حريق طالعه من عداد الكهربا اللي عند الباب، ابي احد يكلمني ضروري",
        "سلك الكهربا واقع بالشارع قدام بيتنا والاولاد يلعبوا",
        "the meter is sparking and there's smoke",
        "ça sent le brûlé, il y a de la fumée au compteur",
    ],
)
def test_a_danger_to_people_is_a_safety_hazard_first_and_urgent(text):
    decision = decide(said(text, "complaint", "calm", 0.1), [0.1], 0, CONFIG)
    assert decision.reasons[0] == "safety_hazard" and decision.priority == "urgent"
    assert decision.evidence[0].rule == "danger_words"


@pytest.mark.parametrize("text", ["ما في دخان ولا شي بس العداد يصفر", "اذا شفت سلك واقع شو اعمل؟", "الفاتورة نار هالشهر"])
def test_no_danger_when_denied_supposed_or_only_a_figure_of_speech(text):
    assert "safety_hazard" not in decide(said(text, "complaint", "calm", 0.1), [0.1], 0, CONFIG).reasons


def test_shouting_with_exasperated_words_is_anger_caps_lock_alone_is_not():
    shouted = decide(said("انخصم مني مبلغ الفاتورة مرتين WHAT IS WRONG WITH YOU PEOPLE", "refund_request", "calm", 0.19), [0.19], 0, CONFIG)
    assert shouted.reasons == ("angry",) and shouted.evidence[0].rule == "shouting"
    assert not decide(said("I NEED THE WIFI PASSWORD PLEASE", "app_login_help", "calm", 0.05), [0.05], 0, CONFIG).handoff


@pytest.mark.parametrize("text", ["حسنا سأنتظر يومين، شكرا", "تسلم، رح انتظر يومين", "ok I'll wait 2 days thanks"])
def test_thanks_agreeing_to_wait_is_calm_whatever_the_model_reads_into_the_duration(text):
    message = said(text, "thank", "angry", 0.95)
    assert not decide(message, [0.1, 0.95], 0, CONFIG).handoff
    assert escalation.felt_frustration({"text": text, "intent": {"name": "thank"}, "signals": {"frustration": {"score": 0.95}}}, CONFIG) == 0.0


@pytest.mark.parametrize("text", ["مشكور ياخي كثر الله خيرك، يومين ولا أحد رد", "شكرا، مش هستنى اكتر من كده", "شكرا رح انتظر بس للمرة الثالثة"])
def test_sarcastic_thanks_or_refusing_to_wait_keeps_the_models_anger(text):
    assert decide(said(text, "thank", "angry", 0.95), [0.95], 0, CONFIG).reasons[:1] == ("angry",)


def test_the_urgency_score_alone_is_no_outage_when_the_words_say_the_service_works():
    text = "عداد الكهربا عم يطلع صوت بيب بيب من الصبح بس الكهربا شغالة عادي، شو يعني هالصوت؟"
    message = said(text, "nlu_fallback", "calm", 0.1, "electricity", 0.95, entities=["electricity"], confidence=0.4)
    assert not decide(message, [0.1], 0, CONFIG).handoff
    outage = said("عداد الكهربا عم يطلع صوت والبيت كله", "nlu_fallback", "calm", 0.1, "electricity", 0.95, entities=["electricity"], confidence=0.4)
    assert decide(outage, [0.1], 0, CONFIG).reasons == ("essential_outage",)


def test_a_vague_problem_with_a_service_needs_a_sure_urgency_model():
    vague = said("النت عندي فيه مشكله", "report_outage", "calm", 0.03, "internet", 0.57, entities=["internet"], confidence=0.71)
    assert not decide(vague, [0.03], 0, CONFIG).handoff
    sure = said("النت عندي فيه مشكله", "report_outage", "calm", 0.03, "internet", 0.95, entities=["internet"], confidence=0.71)
    assert decide(sure, [0.03], 0, CONFIG).reasons == ("essential_outage",)


def test_a_medical_need_told_with_the_services_use_is_about_the_bill():
    use = said("امي عندها غسيل كلى بالبيت ومنستهلك مي كتير", "nlu_fallback", "calm", 0.06, "water", 0.82, confidence=0.4)
    assert not decide(use, [0.06], 0, CONFIG).handoff
    need = said("w abooy 3ndo jihaz ghaseel kilawi bel bait w y7taaj may", "nlu_fallback", "angry", 0.5, "water", 0.93, confidence=0.4)
    assert decide(need, [0.5], 0, CONFIG, Context(service_before="water")).reasons[0] == "essential_outage"


@pytest.mark.parametrize(
    "message",
    [
        # a broken water heater: the water runs, cold
        said("السخان عندي في الحمام بايظ والمية بتنزل ساقعة بس", "report_outage", service="water", urgency=0.95, entities=["water"], confidence=1.0),
        # the service works: what broke is something else
        said("لا المية شغالة عادي في كل الحنفيات المشكلة في السخان بس", "report_outage", service="water", urgency=0.94, entities=["water"], confidence=0.71),
    ],
)
def test_an_appliance_that_broke_or_a_service_that_works_is_no_outage(message):
    assert "essential_outage" not in decide(message, [0.0], 0, CONFIG).reasons
    # not even right after an outage report
    assert "essential_outage" not in decide(message, [0.0], 0, CONFIG, Context(outage_reported=True)).reasons


def test_an_appliance_stopped_by_a_cut_told_in_outage_words_is_still_an_outage():
    message = said("يا نهار ابيض قطع تاني دلوقتي والتكييف واقف", "report_outage", service="electricity", urgency=0.9, confidence=0.99)
    assert decide(message, [0.3], 0, CONFIG, Context(service_before="electricity")).reasons[0] == "essential_outage"


def test_a_calm_question_the_classifier_reads_as_a_threat_without_being_sure_is_no_threat():
    question = "هل يمكن تزويدي برقم الجهة المشرفة على قطاع الطاقة؟ احتاجه لبحث جامعي"
    assert not decide(said(question, "escalation_threat", confidence=0.82), [0.0], 0, CONFIG).handoff
    # sure, annoyed, or no question: a threat
    assert decide(said(question, "escalation_threat", confidence=0.95), [0.0], 0, CONFIG).reasons == ("escalation_threat",)
    assert decide(said(question, "escalation_threat", "annoyed", 0.45, confidence=0.82), [0.45], 0, CONFIG).reasons[0] == "escalation_threat"
    assert decide(said("سأشتكي عليكم عند حماية المستهلك", "escalation_threat", confidence=0.82), [0.0], 0, CONFIG).reasons[0] == "escalation_threat"


def test_a_calm_question_for_an_authoritys_website_is_no_threat_however_sure_the_classifier():
    question = "شو هو موقع هيئة تنظيم الكهرباء؟ عندي مشروع بالمدرسه"
    assert not decide(said(question, "escalation_threat", confidence=0.97), [0.0], 0, CONFIG).handoff
    assert decide(said("شو رقم الهيئة عشان اشتكي عليكم؟", "escalation_threat", confidence=0.97), [0.0], 0, CONFIG).reasons == ("escalation_threat",)


def test_a_question_with_no_outage_words_needs_a_sure_outage_intent():
    asked = "جاري بيشرب شيشة كل يوم والدخان داخل عندي، ينفع تقطعوا عنه الكهربا؟"
    assert "essential_outage" not in decide(said(asked, "report_outage", entities=["electricity"], confidence=0.76), [0.0], 0, CONFIG).reasons
    told = "عندي مشكلة بالكهرباء من امس"
    assert decide(said(told, "report_outage", entities=["electricity"], confidence=0.76), [0.0], 0, CONFIG).reasons == ("essential_outage",)
