"""The inbox reads real Rasa trackers from Redis, flags and filters them, and masks personal data."""

from __future__ import annotations

import asyncio
import datetime

import pytest

from workbench.inbox import InboxFilter, is_correction
from workbench.service import Workbench


def inbox(settings, **query):
    async def run():
        bench = Workbench(settings)
        try:
            return await bench.inbox(InboxFilter.from_query(query))
        finally:
            await bench.close()

    return asyncio.run(run())


def test_all_messages_with_signals_channel_and_date(settings, conversations):
    items = {item.text: item for item in inbox(settings)}
    assert len(items) == 6
    handoff = items["النت فاصل من يومين وانا زعلاااان جوالي 0000000000"]
    assert handoff.intent == "report_outage" and handoff.confidence == pytest.approx(0.88)
    assert handoff.frustration == "angry" and handoff.dialect == "gulf" and handoff.channel == "whatsapp"
    assert handoff.date == datetime.datetime.fromtimestamp(conversations["conv-handoff"], tz=datetime.timezone.utc).date().isoformat()
    # entity offsets still point at the (masked) phone number
    entity = handoff.entities[0]
    assert handoff.text[entity["start"]:entity["end"]] == entity["value"] == "0000000000"


@pytest.mark.parametrize("flag, expected", [
    ("low_confidence", {"ابغى اعرف وش صار على طلبي", "عايز اغير الباقة بتاعتي لو سمحت"}),
    ("fallback", {"عايز اغير الباقة بتاعتي لو سمحت"}),
    ("handed_off", {"النت فاصل من يومين وانا زعلاااان جوالي 0000000000"}),
    ("contradicted", {"بدي ادفع الفاتورة"}),
])
def test_each_filter_keeps_exactly_its_messages(settings, conversations, flag, expected):
    assert {item.text for item in inbox(settings, flags=flag)} == expected


def test_the_message_that_caused_a_handoff_carries_the_evidence_for_trainers(settings, conversations):
    items = inbox(settings, flags="escalated")
    assert [i.conversation_id for i in items] == ["conv-handoff"]
    evidence = items[0].handoff_evidence
    assert [(e["reason"], e["rule"]) for e in evidence] == [("essential_outage", "service_with_outage_words"), ("angry", "angry_model")]
    assert evidence[0]["scores"] == {"urgency": 0.97, "frustration": 0.9}
    assert "0551234567" not in str(evidence)  # the customer's words stay out of it


def test_dialect_and_date_filters(settings, conversations):
    assert {i.conversation_id for i in inbox(settings, dialect="egyptian")} == {"conv-fallback"}
    today = datetime.datetime.now(datetime.timezone.utc).date()
    recent = inbox(settings, date_from=(today - datetime.timedelta(days=2)).isoformat())
    assert "conv-fallback" not in {i.conversation_id for i in recent} and len(recent) == 5
    old = inbox(settings, date_to=(today - datetime.timedelta(days=5)).isoformat())
    assert [i.conversation_id for i in old] == ["conv-fallback"]


def test_bad_filters_are_refused_clearly():
    with pytest.raises(ValueError, match="unknown filter"):
        InboxFilter.from_query({"flags": "everything"})
    with pytest.raises(ValueError):
        InboxFilter.from_query({"date_from": "yesterday"})


def test_a_broken_tracker_in_redis_does_not_break_the_inbox(settings, conversations, redis_url):
    import redis

    redis.Redis.from_url(redis_url).set("tracker:tracker:broken", b"{not json")
    assert len(inbox(settings)) == 6


@pytest.mark.parametrize("text", ["لا مش هيك", "مو هذا قصدي", "ما فهمتني", "no that's not what I meant", "غلط غلط"])
def test_corrections_are_recognised(text):
    assert is_correction(text)


@pytest.mark.parametrize("text", ["لا شكرا", "تمام", "ابغى اغلط؟"])
def test_ordinary_replies_are_not_corrections(text):
    assert not is_correction(text)


def test_invisible_controls_are_removed_before_the_trainer_reads_and_masking_runs():
    from bot.untrusted import INVISIBLE
    from workbench.inbox import items_from_dialogue

    # a right-to-left override reorders what is shown; a zero-width space inside the
    # phone number would hide it from masking
    text = "اشحن\u202e رقمي 05512\u200b34567 \u202cبسرعة"
    start = text.index("0")
    end = text.index(" ", start)
    dialogue = {"events": [{
        "event": "user", "text": text, "timestamp": 1_700_000_000.0, "input_channel": "whatsapp",
        "parse_data": {"intent": {"name": "recharge", "confidence": 0.9},
                       "entities": [{"entity": "phone_number", "start": start, "end": end, "value": text[start:end]}]},
    }]}
    item = items_from_dialogue("conv-bidi", dialogue)[0]
    assert not INVISIBLE.search(item.text)
    # read in typed order, the whole number masked: the zero-width space did not hide it
    assert item.text == "اشحن رقمي 0000000000 بسرعة"
    entity = item.entities[0]
    assert item.text[entity["start"]:entity["end"]] == entity["value"] and len(entity["value"]) == 10
