"""Hostile input on the handoff service's JSON endpoints: deep JSON, non-ASCII secrets, bidi controls.

Each test sends the attack over real HTTP and asserts a clean 4xx and an
unchanged (or cleaned) store, never a 500.
"""

from __future__ import annotations

import json

import pytest
import requests
from handoff_helpers import SERVICE_TOKEN, Console, add_account, internal, ticket_payload

from bot.untrusted import INVISIBLE, json_depth_exceeds, safe_equal, strip_invisible_mapped
from handoff.payloads import PayloadError, parse_json_object

DEEP = ("[" * 20000 + "]" * 20000).encode()
# Right-to-left override, zero-width space, isolates, LRM/RLM, BOM, Arabic letter mark
HIDDEN = "\u202e\u200b\u2066\u2069\u200e\u200f\ufeff\u061c\u202a\u202c"
ARABIC = "الكهرباء مقطوعة، رقم الحساب ١٢٣٤٥ — شكراً!"


def sneaky(text: str) -> str:
    """``text`` with a bidi or zero-width control after every word."""
    return "".join(word + HIDDEN[i % len(HIDDEN)] + " " for i, word in enumerate(text.split(" "))).rstrip()


def assert_clean_400(response: requests.Response, code: str = "json_too_deep") -> None:
    assert response.status_code == 400, (response.status_code, response.text[:200])
    body = response.json()
    assert body["error"] == code and body["message"]


# ------------------------------------------------------------------- JSON depth
def test_depth_scanner_ignores_brackets_inside_strings():
    assert json_depth_exceeds("[" * 33 + "]" * 33, 32)
    assert not json_depth_exceeds("[" * 32 + "]" * 32, 32)
    assert not json_depth_exceeds(json.dumps({"text": "[" * 5000 + '\\"{' * 100}), 32)
    assert json_depth_exceeds('{"a": "\\"", "b": ' + "[" * 40, 32)  # an escaped quote does not end the string
    with pytest.raises(PayloadError) as deep:
        parse_json_object(DEEP)
    assert deep.value.status == 400 and deep.value.code == "json_too_deep"
    assert parse_json_object(json.dumps({"a": [[{"b": [1]}]]}).encode()) == {"a": [[{"b": [1]}]]}


def test_deep_json_gets_a_clean_400_on_every_json_endpoint(service):
    add_account(service, "amal")
    console = Console(service, "amal")
    ticket_id = internal(service, "POST", "/api/internal/tickets", json=ticket_payload("deep-1")).json()["ticket_id"]
    assert console.post(f"/api/tickets/{ticket_id}/claim").status_code == 200
    json_headers = {"Content-Type": "application/json"}
    assert_clean_400(requests.post(f"{service.url}/api/login", data=DEEP, headers=json_headers, timeout=30))
    assert_clean_400(internal(service, "POST", "/api/internal/tickets", data=DEEP, headers=json_headers))
    assert_clean_400(internal(service, "POST", f"/api/internal/tickets/{ticket_id}/rating", data=DEEP, headers=json_headers))
    for action in ("messages", "notes", "transfer"):
        assert_clean_400(console.http.post(
            f"{service.url}/api/tickets/{ticket_id}/{action}", data=DEEP, headers={**json_headers, "X-CSRF-Token": console.csrf}, timeout=30
        ))
    # a deep value inside an otherwise ordinary ticket too
    nested = json.dumps(ticket_payload("deep-2", slots={"x": json.loads("[" * 40 + "]" * 40)})).encode()
    assert_clean_400(internal(service, "POST", "/api/internal/tickets", data=nested, headers=json_headers))
    assert requests.get(f"{service.url}/health", timeout=10).status_code == 200


# --------------------------------------------------------------- header secrets
def test_safe_equal_never_raises():
    assert safe_equal("تجربة", "secret") is False
    assert safe_equal("s\udce9cret", "secret") is False  # a header decoded with surrogateescape
    assert safe_equal(None, "secret") is False and safe_equal("", "") is False
    assert safe_equal("secret", "secret") is True


@pytest.mark.parametrize("value", ["Bearer تجربة".encode(), b"Bearer \xe9\xe9\xe9", "Bearer ééé".encode(), b"\xff"])
def test_non_ascii_service_token_gets_401_not_500(service, value):
    response = requests.post(f"{service.url}/api/internal/tickets", json=ticket_payload("hdr-1"), headers={"Authorization": value}, timeout=10)
    assert response.status_code == 401 and response.json()["error"] == "bad_service_token"
    conversation = requests.get(f"{service.url}/api/internal/conversations/hdr-1", headers={"Authorization": value}, timeout=10)
    assert conversation.status_code == 401
    # nothing was created
    assert internal(service, "GET", "/api/internal/conversations/hdr-1").status_code == 404
    assert SERVICE_TOKEN.isascii()


def test_non_ascii_csrf_token_gets_403_not_500(service):
    add_account(service, "amal")
    console = Console(service, "amal")
    ticket_id = internal(service, "POST", "/api/internal/tickets", json=ticket_payload("hdr-2")).json()["ticket_id"]
    for forged in ("ééé".encode(), "رمز".encode(), b"\xff\xfe"):
        response = console.http.post(f"{service.url}/api/tickets/{ticket_id}/claim", headers={"X-CSRF-Token": forged}, timeout=10)
        assert response.status_code == 403 and response.json()["error"] == "csrf"
    assert console.get(f"/api/tickets/{ticket_id}").json()["ticket"]["state"] == "callback"


# --------------------------------------------------------------- bidi controls
def test_strip_keeps_arabic_and_moves_offsets():
    text = "رقم\u200b ٠٥٥\u202e١٢٣"
    visible, moved = strip_invisible_mapped(text)
    assert visible == "رقم ٠٥٥١٢٣"
    start = text.index("٠")
    assert visible[moved(start):moved(len(text))] == "٠٥٥١٢٣"
    assert strip_invisible_mapped(ARABIC)[0] == ARABIC  # ordinary Arabic (and its punctuation) untouched


def test_bidi_controls_never_reach_the_agent_console(service):
    add_account(service, "amal")
    console = Console(service, "amal")
    evidence = [{"reason": "angry", "rule": "angry_model", "detail": sneaky("غاضب جداً"), "message": sneaky(ARABIC), "scores": {}}]
    payload = ticket_payload(
        "bidi-1",
        transcript=[{"ts": 1.0, "role": "customer", "text": sneaky(ARABIC)}, {"ts": 2.0, "role": "customer", "text": "\u200b\u200f"}],
        slots={"district": sneaky("حي النرجس"), "account_number": "12\u202e345"},
        entities=[{"entity": "district", "value": sneaky("حي النرجس")}],
        evidence=evidence,
        summary_ar=sneaky("انقطاع كهرباء"),
        customer_display=sneaky("سارة"),
    )
    created = internal(service, "POST", "/api/internal/tickets", json=payload)
    assert created.status_code == 201, created.text
    ticket_id = created.json()["ticket_id"]
    assert console.post(f"/api/tickets/{ticket_id}/claim").status_code == 200
    assert console.post(f"/api/tickets/{ticket_id}/notes", {"text": sneaky("العميل أرسل رقم ٠٥٥١٢٣")}).status_code == 201
    rating = internal(service, "POST", f"/api/internal/tickets/{ticket_id}/rating", json={"rating": 2, "comment": sneaky("خدمة بطيئة")})
    assert rating.status_code == 200
    detail = console.get(f"/api/tickets/{ticket_id}").json()
    shown = json.dumps(detail, ensure_ascii=False)
    assert not INVISIBLE.search(shown)
    ticket = detail["ticket"]
    # the words stay, in the order they were typed
    assert [line["text"] for line in ticket["transcript"] if line["role"] == "customer"] == [ARABIC]  # the all-invisible line is gone
    assert ticket["slots"] == {"district": "حي النرجس", "account_number": "12345"}
    assert ticket["evidence"][0]["message"] == ARABIC and ticket["summary_ar"] == "انقطاع كهرباء"
    notes = [event["text"] for event in detail["events"] if event["type"] == "note"]
    assert notes == ["العميل أرسل رقم ٠٥٥١٢٣"]
    queue = json.dumps(console.get("/api/queue").json(), ensure_ascii=False)
    assert not INVISIBLE.search(queue)
