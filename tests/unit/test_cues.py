"""Reading messages for escalation: short replies, outage expressions, requests for a person."""

from pathlib import Path

import pytest

from bot.nlu import cues

# Replies customers give to "anything else?" or to a form question, in every
# dialect, Arabizi and English: none of them may escalate on model scores alone.
SHORT_REPLIES = [
    "لا", "لأ", "لاء", "لا لا", "ايوه", "ايه", "اي", "اه", "نعم", "ما في", "ما عندي", "لا ما في شي", "مفيش",
    "ماكاين والو", "لا شكرا", "لا شكراً جزيلاً", "لا خلاص", "لا بس كذا", "لا بس هيك", "لا كده تمام", "تمام", "اوكي",
    "ماشي", "واخا", "صافي", "شكرا", "مشكور", "يسلمو", "الله يعطيك العافية", "الخميس", "يوم الخميس الصبح",
    "بكرة", "بعد بكرا", "15/3", "١٥/٣", "٤٤٧١٢٠٣", "4471203", "الساعة ١٠", "السلام عليكم", "صباح الخير",
    "no", "no thanks", "nope", "la", "la shukran", "ok", "okay thanks", "yes please", "thank you so much",
    "merci", "tamam", "wakha", "bokra", "thursday", "شكرا 🙏", "👍", "الحمد لله",
]

NOT_SHORT = [
    "الكهربا مقطوعة", "ما في كهربا", "ابي اكلم موظف", "والله زهقت منكم", "😡😡😡", "؟؟؟",
    "no internet since morning", "كم فاتورتي", "لا، النت فاصل من امبارح",
]


@pytest.mark.parametrize("text", SHORT_REPLIES)
def test_short_replies_are_recognised(text):
    assert cues.read(text).short_reply


@pytest.mark.parametrize("text", NOT_SHORT)
def test_messages_with_content_are_not_short_replies(text):
    assert not cues.read(text).short_reply


@pytest.mark.parametrize(
    "text, service",
    [
        ("الكهربا مقطوعة عندنا من الصبح", "electricity"),
        ("ما في كهربا", "electricity"),
        ("ما في عندنا كهربا من امبارح", "electricity"),
        ("النت عندي فاصل", "internet"),
        ("الموية ماكو", "water"),
        ("انقطعت الكهرباء عن الحي كله", "electricity"),
        ("الضو مقطوع", "electricity"),
        ("el net m2to3 men embare7", "internet"),
        ("no internet since morning", "internet"),
        ("الكهرباء رجعت بس انقطعت مرة ثانية", "electricity"),  # the latest words decide
        ("البيت ظلام 😩", "electricity"),  # darkness is what a power cut looks like
        ("لو سمحت الكهربا مقطوعة", "electricity"),  # "لو سمحت" is please, not if
        ("الكهربا مقطوعة، اذا ممكن ترسلوا فني", "electricity"),
        ("عندما وصلت البيت وجدت الكهرباء مقطوعة", "electricity"),  # "when" of another clause
        ("الكهربا مقطوعة من امس", "electricity"),  # since yesterday: still going on
        ("امس انقطعت الكهربا ساعتين واليوم كمان مقطوعة", "electricity"),
        # "not working" is no "working again"
        ("كل البيت صار عتمة وما في ولا جهاز شغال، حتى البراد وقف", "electricity"),
        ("الكهربا ما رجعت لحد الحين", "electricity"),
        # "working" about the customer's job, or about another service
        ("الراوتر كل لمباته حمرا ومفيش نت خالص وانا شغال من البيت ومحتاجه ضروري", "internet"),
        ("ana sha8al mn el bet w el net ma2tou3", "internet"),
        ("ما في كهربا بس النت شغال", "electricity"),
        ("الكهربا رجعت بس النت لسه مقطوع", "internet"),
        # Iraqi ك for ق; Maghrebi "cut" and spelling of internet
        ("الكهرباء مكطوعة عدنا", "electricity"),
        ("الانترنات مقصوصة تماما", "internet"),
        # the router names the internet it brings (for the outage reading only)
        ("the router has no lights and nothing works", "internet"),
        ("الراوتر طافي من الصبح", "internet"),
    ],
)
def test_outage_expressions_next_to_a_service_word(text, service):
    reading = cues.read(text)
    assert reading.outage_service == service and reading.outage_cue
    assert reading.blocked_by is None


@pytest.mark.parametrize(
    "text, blocked",
    [
        ("الكهرباء رجعت الحمد لله", "restored"),
        ("اجت الكهربا الحمدلله، كانت مقطوعة شي نص ساعة", "past"),
        ("هل في قطع مبرمج بكرة للكهرباء؟", "planned"),
        ("رح تنقطع الكهربا بكرا؟", "planned"),
        ("انقطعت الكهرباء الشهر الماضي وابي تعويض", "past"),
        # yesterday's cut with how long it lasted is over
        ("امس انقطعت الكهربا عندنا بالنسيم ساعتين", "past"),
        ("البارح طفا علينا الضو شي ساعتين", "past"),
        # "if": a question about what would happen
        ("سؤال بس: لو النور قطع عندي بالليل اكلم مين؟", "hypothetical"),
        ("ايش اسوي اذا انقطعت الكهربا", "hypothetical"),
        ("what do i do if the water is cut", "hypothetical"),
        ("fi en2ita3 mabrmaj lal kahraba bukra bel malqa?", "planned"),
        # no service named: what rules an outage out still counts
        ("w iza n2at3et fje2a shu lazem a3mel?", "hypothetical"),
        ("بس شغال مو فاصل", "restored"),
        ("النت رجع شغال", "restored"),
    ],
)
def test_restored_planned_and_past_outages_are_no_outage_report(text, blocked):
    assert cues.read(text).blocked_by == blocked


@pytest.mark.parametrize(
    "text",
    ["ابي اعرف فاتورة الكهرباء", "ما عندي فاتورة الكهربا", "راح ادفع فاتورة الكهربا", "No, my water bill is wrong", "النت بطيء شوي"],
)
def test_a_service_word_without_an_outage_expression_is_no_outage(text):
    assert cues.read(text).outage_cue is None


@pytest.mark.parametrize(
    "text",
    [
        "بدي احكي مع حدا من الموظفين", "عايز اكلم حد", "بغيت نهضر مع شي واحد", "حولني لموظف", "ابي موظف",
        "أريد التحدث مع أحد الموظفين", "I want to talk to a human", "agent please", "bghit nhder m3a chi wa7ed", "لا مش عايز كده، وصلني بموظف لو سمحت",
        "mesh 3am efham shi, fik t7awelne 3a 7ada 7a2i2i?",
    ],
)
def test_requests_for_a_person_in_every_dialect(text):
    assert cues.read(text).person_request


@pytest.mark.parametrize(
    "text", ["بدي حدا يجي يصلح العداد", "ابي فني يجي بكرة", "محد رد علي امس", "طلبت من اسبوعين ولا احد كلمني", "ما حدا حكى معي من امبارح",
             "رسلت طلب نقل الخدمه من اسبوعين ولا احد كلمني", "ما بدي موظف، بس قلي كم الفاتورة"],
)
def test_someone_to_come_is_not_a_request_to_talk_to_a_person(text):
    assert cues.read(text).person_request is None


def test_every_lexicon_entry_is_a_string(tmp_path: Path):
    text = cues.CUES_PATH.read_text(encoding="utf-8")
    assert cues.load_cues(cues.CUES_PATH).lists["short_reply"]
    # a bare `no` is a YAML boolean: the loader refuses it instead of losing the word
    broken = tmp_path / "cues.yml"
    broken.write_text(text.replace('  - "no"\n', "  - no\n", 1), encoding="utf-8")
    with pytest.raises(ValueError, match="not strings"):
        cues.load_cues(broken)


@pytest.mark.parametrize(
    "text",
    ["بشتكي عليكم عند هيئة تنظيم الكهرباء", "والله لأكتب عنكم في تويتر", "رح غير الشركة", "I will switch provider",
     "ghadi nbeddel la société", "سأرفع قضية في المحكمة", "والله لأنشرها بتويتر واسوي منشن لكم ولوزارة التجارة",
     "بفضحكم في السوشيال"],
)
def test_threats_of_outside_action_are_read(text):
    assert cues.read(text).threat


@pytest.mark.parametrize("text", ["كيف الغي الاشتراك", "عندي قضية مع الفاتورة", "press the button", "ابغى اشتكي على الفني"])
def test_cancelling_or_complaining_is_no_threat(text):
    assert cues.read(text).threat is None


@pytest.mark.parametrize(
    "text",
    [
        "زهقت من الموضوع ده", "هاي تالت مرة بحكي معكم", "للمرة الثالثة أتصل بكم", "هذه المرة الثالثة التي أتصل فيها",
        "mafish fayda", "how long do I have to wait", "كل مرة نفس المشكلة", "I'm fed up with this",
        "يا اخي اليوم اليوم، ليش ما تفهم؟", "انت ما عم تفهم علي",
    ],
)
def test_exasperation_in_every_dialect_with_or_without_the_article(text):
    assert cues.read(text).exasperation


@pytest.mark.parametrize(
    "text",
    ["ابي اعرف كم فاتورتي", "دفعت مرتين بالغلط، ابي استرجاع واحدة", "لسه ما وصلتني فاتورة الشهر", "النت بطيء من الصبح، وش اسوي؟", "المرة الجاية بدفع بالتطبيق", "ما فهمت عليك، ممكن توضح؟"],
)
def test_calm_problem_reports_are_no_exasperation(text):
    assert cues.read(text).exasperation is None


@pytest.mark.parametrize("text", ["مقطوع من الصبح", "وصلت البيت لقيت كل شي طافي", "رجعت من الدوام وما في شي يشتغل", "وانا شغال من البيت، مقطوع من الصبح"])
def test_without_a_service_only_unambiguous_words_rule_an_outage_out(text):
    """"وصلت" and "رجعت" alone are the customer arriving; a working word about the
    customer or before a later outage word rules nothing out."""
    assert cues.read(text).blocked_by is None


@pytest.mark.parametrize("text", ["صحيت خويا", "نور فايبر 100", "sa7it khoya"])
def test_thanks_and_a_plan_name_are_short_replies(text):
    assert cues.read(text).short_reply


def test_the_router_is_read_for_outages_but_is_no_service_entity():
    assert cues.read("الراوتر طافي").services == ()
    assert cues.read("الراوتر فيه لمبة حمرا").outage_cue is None
