"""Pure parts of the handoff service: waiting arithmetic, masking, payloads, canned replies, passwords."""

from __future__ import annotations

import os
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from handoff.auth import hash_password, verify_password
from handoff.canned import CannedReplies
from handoff.payloads import PayloadError, mask_customer, parse_json_object, validate_rating, validate_ticket
from handoff.settings import QueueConfig
from handoff.waiting import callback_eta, estimated_wait_seconds, position_message

RIYADH = ZoneInfo("Asia/Riyadh")
CONFIG = QueueConfig(average_handle_minutes=6, duty_start_hour=8, duty_end_hour=22, callback_eta_minutes=120)


def test_estimated_wait_shares_the_queue_among_agents_on_duty():
    assert estimated_wait_seconds(3, 1, CONFIG) == 3 * 6 * 60
    assert estimated_wait_seconds(3, 3, CONFIG) == 6 * 60
    assert estimated_wait_seconds(2, 0, CONFIG) == 2 * 6 * 60  # nobody online: as if one


def test_callback_time_when_nobody_can_answer():
    noon = datetime(2026, 11, 22, 12, 0, tzinfo=RIYADH)
    assert callback_eta(noon, 2, CONFIG) is None
    assert callback_eta(noon, 0, CONFIG) == datetime(2026, 11, 22, 14, 0, tzinfo=RIYADH)
    late = datetime(2026, 11, 22, 23, 30, tzinfo=RIYADH)
    assert callback_eta(late, 3, CONFIG) == datetime(2026, 11, 23, 10, 0, tzinfo=RIYADH)
    early = datetime(2026, 11, 22, 6, 0, tzinfo=RIYADH)
    assert callback_eta(early, 0, CONFIG) == datetime(2026, 11, 22, 10, 0, tzinfo=RIYADH)
    assert "10:00" in position_message(4, 0, callback_eta(early, 0, CONFIG))
    assert "ترتيبك 2" in position_message(2, 700, None) and "12 دقيقة" in position_message(2, 700, None)


def test_customers_are_masked():
    # one rule with the action server's customer_display (bot.masking)
    assert mask_customer("whatsapp:+966512341234") == "+966••••••234"
    assert mask_customer("web-3f9a") == "session web-3f…"


def test_payload_errors_are_specific():
    with pytest.raises(PayloadError) as broken:
        parse_json_object(b'{"a": ')
    assert broken.value.code == "invalid_json"
    with pytest.raises(PayloadError) as huge:
        parse_json_object(b"{}" + b" " * 600_000)
    assert huge.value.status == 413
    with pytest.raises(PayloadError):
        validate_ticket({"conversation_id": "a b c", "priority": 1})
    ticket = validate_ticket({"conversation_id": "c1", "priority": 2, "transcript": [{"role": "hacker", "text": "x"}, {"role": "bot", "text": " "}]})
    assert ticket["evidence"] == []
    evidence = validate_ticket({"conversation_id": "c1", "evidence": [
        {"reason": "angry", "rule": "angry_model\x07", "detail": 5, "scores": {"frustration": 0.9, "bad": "x", "flag": True}, "message": "x" * 5000},
    ]})["evidence"]
    assert evidence[0]["rule"] == "angry_model" and evidence[0]["detail"] is None
    assert evidence[0]["scores"] == {"frustration": 0.9} and len(evidence[0]["message"]) == 2000
    assert ticket["transcript"] == [{"ts": None, "role": "system", "text": "x"}]
    assert ticket["customer_display"] == "session c1"
    assert validate_rating({"rating": 5, "comment": "  ممتاز \x00"}) == {"rating": 5, "comment": "ممتاز"}
    for bad in (True, 0, 6, 4.5):
        with pytest.raises(PayloadError):
            validate_rating({"rating": bad})


def test_canned_replies_reload_when_edited_and_survive_a_broken_edit(tmp_path):
    path = tmp_path / "canned.yml"
    path.write_text("replies:\n  - {id: hi, title: ترحيب, text: أهلاً بك}\n", encoding="utf-8")
    canned = CannedReplies(path)
    assert [r["text"] for r in canned.all()] == ["أهلاً بك"]
    path.write_text("replies:\n  - {id: hi, title: ترحيب, text: مرحباً}\n  - {id: bye, text: مع السلامة}\n", encoding="utf-8")
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert [r["text"] for r in canned.all()] == ["مرحباً", "مع السلامة"]
    path.write_text("replies: [ {text: ", encoding="utf-8")
    os.utime(path, (time.time() + 10, time.time() + 10))
    assert [r["text"] for r in canned.all()] == ["مرحباً", "مع السلامة"] and canned.error


def test_shipped_canned_replies_are_arabic():
    from handoff.settings import PACKAGE_DIR

    replies = CannedReplies(PACKAGE_DIR / "canned_replies.yml").all()
    assert len(replies) >= 5 and all(any("\u0600" <= ch <= "\u06ff" for ch in r["text"]) for r in replies)


def test_passwords_are_salted_and_checked():
    first, second = hash_password("s3cret-pass"), hash_password("s3cret-pass")
    assert first != second and "s3cret" not in first
    assert verify_password("s3cret-pass", first) and not verify_password("s3cret-pasS", first)
    assert not verify_password("x", "garbage")
