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
        # ... and the tap the water; water that does not come down; fallen internet
        ("الحنفية مبتنزلش ولا نقطة", "water"),
        ("el mayy ma 3am tinzal mn mbere7", "water"),
        ("الكونكسيون طاحت كاملة ما فماش", "internet"),
        ("ما كاين لا ضو لا والو والثلاجة بدات كتسخن", "electricity"),
        # "when will it be back" is no "it is back"; Tunisian "ما فماش"
        ("الماء مقصوص عندنا من الصباح ما فماش حتى قطرة نحب نعرف وقتاش باش يرجع الماء", "water"),
        ("الكهربا مقطوعة، متى ترجع؟", "electricity"),
        ("ما فماش ماء", "water"),
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
        ("what should I do if the power goes off during it?", "hypothetical"),
        ("كانت قاطعة ساعة بس", "past"),
        ("بس شغال مو فاصل", "restored"),
        ("النت رجع شغال", "restored"),
        # the neighbours' outage, ours works as usual ("we" + a feminine form, "normally")
        ("جيراننا الكهربا عندهم طافيه بس احنا شغاله عادي، فيه شي بالحي؟", "restored"),
        # a restart the customer tried reports nothing by itself
        ("جربت طفي وشغل الراوتر", "restart"),
        ("طفيت الراوتر وشغلته", "restart"),
        ("tfit el router w sha8alto", "restart"),
        ("طيب رح جرب طفي الراوتر وشغلو", "restart"),
        ("عملت ريستارت للراوتر", "restart"),
        # water that comes, discoloured
        ("منذ صباح اليوم يخرج الماء من الصنبور بلون بني", "quality"),
        ("الماء لم ينقطع لكن لونه غير طبيعي", "quality"),
        ("المويه ريحتها مو طبيعية", "quality"),
        # somewhere not the customer's home: at a friend's, at work, "not my issue"
        ("انا دلوقتي عند صاحبي والكهربا قاطعة عندهم بس مش ده موضوعي", "elsewhere"),
        ("احنا بالدوام الكهربا طافية من ساعة", "elsewhere"),
        ("the power is out at work today", "elsewhere"),
        ("انا الحين بالدوام والكهرباء طافية عندنا بالمكتب", "elsewhere"),  # "عندنا" is the office
        # the planned cut itself, now: no overrun without "still" or a passed "until"
        ("وصلتني رسالة بأن هناك أعمال صيانة مجدولة اليوم، والكهرباء مفصولة الآن بسببها", "planned"),
    ],
)
def test_restored_planned_and_past_outages_are_no_outage_report(text, blocked):
    assert cues.read(text).blocked_by == blocked


@pytest.mark.parametrize(
    "text, service",
    [
        # a restart after the cut, or the cut after the restart, is still the cut
        ("النت قاطع وطفيت وشغلت الراوتر", "internet"),
        ("طفيت وشغلت الراوتر ولسه مفيش نت", "internet"),
        ("جربت طفي وشغل الراوتر وما في نت", "internet"),
        # the service named before "off" is what went off: no restart
        ("الكهربا طافية وشغلت المولد", "electricity"),
        # "I work from home" is about the customer
        ("الراوتر كل لمباته حمرا ومفيش نت خالص وانا شغال من البيت", "internet"),
        # discoloured words next to an outage do not hide it
        ("المويه مقطوعة وامس كانت لونها بني", "water"),
        # elsewhere and at home too, or at work while the home is cut
        ("الكهربا مقطوعة عند الجيران وعندنا كمان", "electricity"),
        ("انا في الشغل والكهربا مقطوعة في البيت", "electricity"),
        # Arabizi without the hamza digit, a doubled vowel, Gulf 8 for ق
        ("el kahraba at3a", "electricity"),
        ("el mayy ma2too3 3indna", "water"),
        ("el net ma8too3", "internet"),
        # maintenance that should have ended and the cut goes on now
        ("قالولنا في صيانة بالصفا لحد الساعة وحدة الضهر، وهلق الساعة ستة والكهربا مقطوعة", "electricity"),
        ("قالولنا كاين صيانة تاع الما حتى لوحدة، ودرك الستة ومازال ماكانش الما", "water"),
    ],
)
def test_outages_next_to_a_restart_or_a_working_customer_stay_outages(text, service):
    reading = cues.read(text)
    assert (reading.outage_service, reading.blocked_by) == (service, None)


@pytest.mark.parametrize(
    "text",
    ["ما تنزل الفاتورة قبل الشهر؟", "طاح عليا التطبيق", "ابي اعرف فاتورة الكهرباء", "ما عندي فاتورة الكهربا", "راح ادفع فاتورة الكهربا", "No, my water bill is wrong", "النت بطيء شوي"],
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


@pytest.mark.parametrize("text", ["كيف الغي الاشتراك", "عندي قضية مع الفاتورة", "press the button", "ابغى اشتكي على الفني",
                                  # weighing up offers before subscribing
                                  "أقارن بين عرضكم وعرض شركة أخرى قبل أن أشترك"])
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


@pytest.mark.parametrize(
    "text, words",
    [
        ("وش ذا الرقم؟ انتم حراميه", "انتم حراميه"),
        ("بوت غبي ما يفهم شي", "بوت غبي"),
        ("خدمة زبالة", "خدمه زباله"),
        ("you idiots fix it", "you idiots"),
        ("يا نصابين", "نصابين"),
    ],
)
def test_insults_addressed_to_the_company_or_the_assistant_are_read(text, words):
    assert cues.read(text).insult == words


@pytest.mark.parametrize("text", ["حرامية سرقوا الكيبل من الشارع", "انا غبي نسيت ادفع", "الفاتورة فيها غلط", "the meter is useless after the storm"])
def test_insults_about_someone_else_or_oneself_are_not_insults_to_the_company(text):
    assert cues.read(text).insult is None


@pytest.mark.parametrize(
    "text, medical",
    [
        ("w abooy 3ndo jihaz ghaseel kilawi bel bait w y7taaj may!!", "ghaseel kilawi"),
        ("امي على جهاز الاكسجين والكهربا مقطوعة", "الاكسجين"),
        ("my mother is on oxygen at home", "oxygen"),
        ("الكهربا مقطوعة والجو حار", None),
    ],
)
def test_someone_whose_health_depends_on_the_supply_is_read(text, medical):
    assert cues.read(text).medical == medical


@pytest.mark.parametrize(
    "text, planned",
    [
        ("Got a text about planned maintenance in Al Malqa", "planned maintenance"),
        ("So it'll be off tomorrow from 9 to 1?", "ll be off"),
        ("هل في صيانة مبرمجة للكهرباء بكرة؟", "صيانه مبرمجه"),
        ("الفني جاي يعمل صيانة للعداد", None),  # a visit, not a cut
    ],
)
def test_a_planned_cut_needs_a_service_a_phrase_or_several_words(text, planned):
    assert cues.read(text).planned_cut == planned



@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        ("فيه ريحة حريق طالعه من عداد الكهربا", "danger", "ريحه حريق"),
        ("سلك الكهربا واقع بالشارع", "danger", "سلك كهربا واقع"),  # read article-blind
        ("ما في دخان بس العداد يصفر", "danger", None),
        ("اذا شفت سلك واقع شو اعمل", "danger", None),
        ("WHAT IS WRONG WITH YOU PEOPLE", "shouting", "WHAT IS WRONG WITH YOU PEOPLE"),
        ("I NEED WIFI", "shouting", None),
        ("حسنا سأنتظر يومين، شكرا", "accepting", "سانتظر"),
        ("شكرا بس مش هستنى اكتر", "accepting", None),
        ("ابي احد يكلمني ضروري", "person_request", "يكلمني … احد"),
        ("لم يكلمني احد حتى الان", "person_request", None),
        ("محد يكلمني ولا يرد", "person_request", None),
        ("ثالث يوم واحنا قاعدين بالظلام", "outage_cue", "بالظلام"),
    ],
)
def test_danger_shouting_agreeing_to_wait_someone_to_talk_to_me_and_sitting_in_the_dark(text, field, expected):
    assert getattr(cues.read(text), field) == expected


@pytest.mark.parametrize(
    ("text", "danger"),
    [
        ("ابني مسك باب الغساله واتكهرب", "اتكهرب"),
        ("شريط الكهربا تبع الجيران نازل وعم يلمس درابزين البلكون", "شريط … نازل"),
        ("كاين سلك ديال الضو طايح فالزنقة قدام الدار", "سلك … طايح"),
        ("صرا كورسيركي فالكونتور و يخرج منو الدخان", "كورسيركي"),
        ("there's a cable hanging very low from the pole", "cable … hanging"),
        ("الماء يتسرب من السقف وينزل على عداد الكهرباء", "يتسرب … عداد كهرباء"),
        ("عداد المية بيسرب من تحت", None),  # a water meter leaking is plumbing
        ("my internet cable is down", None),
        ("ما في لا دخان ولا ريحة حريق", None),
    ],
)
def test_shocks_fallen_wires_and_water_on_electrics_are_dangers(text, danger):
    assert cues.read(text).danger == danger


@pytest.mark.parametrize(
    ("text", "works"),
    [
        ("بس ما في لا دخان ولا ريحة حريق ولا شي والكهربا شغالة عادي", "شغاله"),
        ("النت شغال بس بطيء", "شغال"),
        ("الكهربا مش شغالة", None),
        ("انا شغال من البيت والنت فاصل", None),
    ],
)
def test_a_service_that_works_and_a_negation_that_belongs_to_another_clause(text, works):
    assert cues.read(text).works == works


@pytest.mark.parametrize(
    ("text", "cue", "service", "blocked"),
    [
        # the cue is the landline's or the street's, and the internet / power works
        ("التلفون الارضي ما فيه حراره من امس بس النت شغال تمام", None, None, "restored"),
        ("عمود الانارة قدام بيتنا طافي، الكهربا عندنا داخل البيت شغالة عادي بس الشارع ظلمة", "طافي", "electricity", "restored"),
        ("الكهربا مقطوعة بالشارع كله", "مقطوعه", "electricity", None),
        # "no problem" is no absence
        ("يعني النت ما فيه مشكله، بس الهاتف", None, None, None),
        # over a cable the line is up: the wifi is the home's
        ("النت شغال كويس لما بوصل اللابتوب بالكابل، بس الواي فاي مش شغال", "مش شغال", "internet", "wifi_only"),
        ("النت مش شغال لا بالكابل ولا بالواي فاي", "مش شغال", "internet", None),
        # half the house, "in them", suspended, Tunisian "cut"
        ("نص البيت ماكو بيه كهرباء", "ماكو", "electricity", None),
        ("غرفتين والمطبخ ما فيهن كهربا", "ما فيهن", "electricity", None),
        ("and now the internet is suspended", "suspended", "internet", None),
        ("ياخي الماء توا تقص", "تقص", "water", None),
    ],
)
def test_other_things_that_go_off_no_problem_wifi_only_and_partial_outages(text, cue, service, blocked):
    reading = cues.read(text)
    assert (reading.outage_cue, reading.outage_service, reading.blocked_by) == (cue, service, blocked)


@pytest.mark.parametrize(
    ("text", "danger"),
    [
        ("جاري بيشرب سجاير على السلم جنب العداد والدخان كله بيدخل الشقه", None),  # a cigarette's smoke
        ("فيه دخان طالع من العداد", "دخان"),
        ("الحقووني فيه نار في علبة الكهربا هالحين", "نار … علبه كهربا"),
        ("الفاتورة نار والعداد يعد بسرعة", None),  # a steep bill
        ("طاح واحد الكابل ديال الضو فالزنقة", "كابل … طاح"),  # the verb first
        ("الا طاح شي كابل ديال الضو فالزنقة شنو خاصني ندير؟", None),  # Moroccan "if"
    ],
)
def test_cigarette_smoke_fire_in_the_box_and_a_fallen_cable_told_verb_first(text, danger):
    assert cues.read(text).danger == danger


def test_a_street_light_that_is_off_is_not_the_customers_supply_and_asking_for_an_account_is_no_threat():
    assert cues.read("عمود إنارة الشارع أمام منزلي مطفأ منذ يومين").blocked_by == "not_a_service"
    assert cues.read("wesh 7sabkom 3la twitter? abi atab3 el 3roodh").threat is None
    assert cues.read("هنفضحكم على تويتر").threat == "تويتر"


@pytest.mark.parametrize(("text", "threat"), [("w instagram?", None), ("وعلى تويتر؟", None), ("هنفضحكم على تويتر", "تويتر"), ("ليش ما تردون؟ بكتب عنكم بتويتر", "بتويتر")])
def test_a_platform_named_in_a_question_asks_where_the_company_is(text, threat):
    assert cues.read(text).threat == threat


@pytest.mark.parametrize(
    ("text", "danger"),
    [
        # a smell word, then a burning word a few words on
        ("في ريحة شي عم يحترق طالعة من البريز بغرفة النوم", "ريحه … يحترق"),
        ("ri7et shi 3am ya7ri2 mn el priz", "ri7et … ya7ri2"),
        # a burning word and an electric fitting, no smell word
        ("البريز عم يحترق", "يحترق … بريز"),
        # a shock told as Egyptians and Moroccans tell it
        ("الحنفية في المطبخ بتكهرب مراتي لسه مسكتها وخدت كهربا", "بتكهرب"),
        ("ضربني الضو ملي قست الثلاجة", "ضربني ضو"),
        # water dripping onto the Maghrebi meter of the electricity
        ("كاين الما راهو يقطر على الكونتور تاع الضو من السقف", "يقطر … كونتور تاع ضو"),
        # cooking and fireworks explain a burning smell or smoke ...
        ("كنت عم اطبخ وانحرقت الطبخة والبيت كلو ريحة شياط 😂 بدي اعرف قديش الفاتورة", None),
        ("كيطلقو les feux d'artifice فالزنقة غير الدخان والحس", None),
        ("الاكل احترق", None),
        ("ريحة حريق في الشقه كلها 😂 الملوخيه اتحرقت مني. المهم، فرع الروضه بيفتح الساعه كام؟", None),
        ("في صوت فرقعه وشرار برا في الشارع بس دي صواريخ فرح الجيران 🎆 مش مشكله", None),
        ("كنشويو فالسطح وكاين شوية دخان، ماشي مشكل 😄", None),
        ("فيه شرار من الفيش ومش مشكله", "شرار"),  # a fitting named: no explanation holds
        ("lamast el 7anafeye w mas2atni kahraba shway, hayda tabi3e?", "mas2atni kahraba"),
        # ... unless an electric fitting is named too
        ("ريحة شياط من الفيش وانا بطبخ", "ريحه شياط"),
        ("ما في ريحة حريق الحمد لله", None),
    ],
)
def test_burning_smells_told_loosely_shocks_and_what_explains_a_smell(text, danger):
    assert cues.read(text).danger == danger


@pytest.mark.parametrize(
    ("text", "appliance"),
    [
        ("السخان عندي في الحمام بايظ والمية بتنزل ساقعة بس", "السخان"),
        ("الغسالة ما تشتغل", "الغساله"),
        ("الكهربا مقطوعة من الصبح", None),
    ],
)
def test_household_appliances_are_read(text, appliance):
    assert cues.read(text).appliance == appliance


@pytest.mark.parametrize(
    ("text", "blocked"),
    [
        ("السخان حقي خربان والماي يطلع بارد، تصلحونه انتم؟", "appliance"),
        # a cut word besides the appliance's: the supply went
        ("الكهربا مقطوعة والثلاجة واقفة", None),
        ("الماي خربان", None),  # no appliance named
    ],
)
def test_an_appliance_that_broke_blocks_an_outage_told_only_in_broken_words(text, blocked):
    assert cues.read(text).blocked_by == blocked


@pytest.mark.parametrize(("text", "asks"), [("متى ترجع الكهربا", True), ("رقم الهيئة؟", True), ("الكهربا مقطوعة", False)])
def test_a_message_that_asks_something(text, asks):
    assert cues.read(text).asks is asks


@pytest.mark.parametrize(
    ("text", "contact", "threat"),
    [
        ("مرحبا، انا طالبه وعندي مشروع بالمدرسه عن الكهربا، شو هو موقع هيئة تنظيم الكهرباء؟", "هيئه تنظيم الكهرباء", None),
        ("شو رقم الهيئة عشان اشتكي عليكم؟", None, "الهيئه"),  # complaining
        ("What's the regulator's website? I want to file a complaint", None, "regulator"),
        ("بدي رقم المحامي تبعكم؟", None, "المحامي"),  # a lawyer is no authority to contact
        ("رح اشتكي للهيئة", None, "للهيئه"),
    ],
)
def test_asking_calmly_for_an_authoritys_contact_is_no_threat(text, contact, threat):
    reading = cues.read(text)
    assert (reading.authority_contact, reading.threat) == (contact, threat)
