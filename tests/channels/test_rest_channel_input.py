"""REST channel input: deep JSON and invisible controls are refused or removed before Rasa sees them."""

from __future__ import annotations

import json

import pytest

from bot.channels.rest import parse_request
from bot.channels.validation import InputError, clean_text
from bot.settings import Settings

SETTINGS = Settings(max_message_chars=2000, max_body_bytes=64 * 1024)


@pytest.mark.parametrize("body", [
    b"[" * 20000 + b"]" * 20000,
    json.dumps({"sender": "u1", "message": "hi", "metadata": {"x": json.loads("[" * 40 + "]" * 40)}}).encode(),
], ids=["20000_deep", "deep_metadata"])
def test_deep_json_is_a_clean_400(body: bytes) -> None:
    with pytest.raises(InputError) as refused:
        parse_request(body, SETTINGS)
    assert refused.value.status == 400 and refused.value.code == "json_too_deep"
    assert refused.value.response().status == 400


def test_brackets_inside_the_message_are_just_text() -> None:
    body = json.dumps({"sender": "u1", "message": "[" * 100 + " {{{"}).encode()
    assert parse_request(body, SETTINGS)[1] == "[" * 100 + " {{{"


def test_invisible_controls_are_removed_and_arabic_kept() -> None:
    body = json.dumps({"sender": "u1", "message": "رقم\u200b الحساب\u202e ١٢٣٤٥\u2066!\u2069\ufeff"}).encode()
    assert parse_request(body, SETTINGS)[1] == "رقم الحساب ١٢٣٤٥!"
    with pytest.raises(InputError) as empty:
        clean_text("\u200b\u200f\u061c", 100)
    assert empty.value.code == "empty_message"
