"""The JSON API over real HTTP: sign-in, roles, CSRF, bad input, HTML in customer text."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest


class Client:
    """A tiny cookie-keeping HTTP client for one signed-in user."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookie = ""
        self.csrf = ""

    def call(self, method: str, path: str, body=None, raw: bytes | None = None, csrf: bool = True):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.cookie:
            request.add_header("Cookie", self.cookie)
        if csrf and self.csrf:
            request.add_header("X-CSRF-Token", self.csrf)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, headers, payload = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, headers, payload = error.code, error.headers, error.read()
        if headers.get("Set-Cookie"):
            self.cookie = headers["Set-Cookie"].split(";")[0]
        try:
            return status, json.loads(payload)
        except ValueError:
            return status, payload

    def sign_in(self, username: str, password: str) -> None:
        status, me = self.call("POST", "/api/login", {"username": username, "password": password})
        assert status == 200, me
        self.csrf = me["csrf"]


@pytest.fixture
def trainer(service, add_account):
    add_account("trainer1", "train-pass-123", "trainer")
    client = Client(service)
    client.sign_in("trainer1", "train-pass-123")
    return client


def test_signed_out_and_agents_are_refused(service, add_account):
    status, body = Client(service).call("GET", "/api/trainer/inbox")
    assert status == 401 and body["error"] == "not_signed_in"
    add_account("agent1", "agent-pass-123", "agent")
    agent = Client(service)
    agent.sign_in("agent1", "agent-pass-123")
    status, body = agent.call("GET", "/api/trainer/inbox")
    assert status == 403 and body["error"] == "forbidden_role"


def test_posts_without_the_csrf_token_are_refused(trainer, conversations):
    status, body = trainer.call("POST", "/api/trainer/examples", {"text": "مرحبا يا نور", "intent": "greet", "dialect": "msa"}, csrf=False)
    assert status == 403 and body["error"] == "csrf"


@pytest.mark.parametrize("raw, status", [(b"{not json", 400), (b"\xff\xfe", 400), (b"[1, 2]", 400), (b"x", 413)],
                         ids=["broken_json", "not_utf8", "not_an_object", "too_large"])
def test_broken_bodies_get_a_clear_error(trainer, raw, status):
    got, body = trainer.call("POST", "/api/trainer/examples", raw=raw * 200_000 if status == 413 else raw)
    assert got == status and body["error"] and body["message"]


def test_missing_fields_and_bad_filters(trainer):
    status, body = trainer.call("POST", "/api/trainer/examples", {"text": "مرحبا"})
    assert status == 422 and "intent" in body["message"]
    status, body = trainer.call("GET", "/api/trainer/inbox?flags=all")
    assert status == 400 and body["error"] == "bad_filter"
    status, body = trainer.call("POST", "/api/trainer/undo", {"audit_id": "nope"})
    assert status == 404


def test_html_in_customer_text_is_written_as_text_and_a_conflict_is_explained(trainer, nlu_copy):
    text = "<img src=x onerror=alert(1)> متى يفتح الفرع يوم الجمعة؟ & شكرا"
    status, body = trainer.call("POST", "/api/trainer/examples", {"text": text, "intent": "opening_hours", "dialect": "msa", "source": "manual"})
    assert status == 201, body
    assert text in (nlu_copy / "info.yml").read_text(encoding="utf-8")
    status, body = trainer.call("POST", "/api/trainer/examples", {"text": text, "intent": "complaint", "dialect": "msa"})
    assert status == 409 and body["error"] == "conflict"
    assert body["details"] == {"intent": "opening_hours", "file": "info.yml", "text": text}
    status, history = trainer.call("GET", "/api/trainer/history")
    assert [e["action"] for e in history["entries"]] == ["add_example"] and history["entries"][0]["who"] == "trainer1"


def test_inbox_masks_personal_data_over_http(trainer, conversations):
    status, body = trainer.call("GET", "/api/trainer/inbox?flags=handed_off")
    assert status == 200 and len(body["items"]) == 1
    assert "0551234567" not in json.dumps(body, ensure_ascii=False)


def test_the_inbox_shows_trainers_an_opaque_reference_not_the_whatsapp_number(service, add_account, redis_url, trainer):
    from tests.workbench.conftest import save_tracker, user_event

    save_tracker(redis_url, "966551234567", [user_event("ابي اكلم موظف", "request_human", 0.3, channel="whatsapp")])
    status, body = trainer.call("GET", "/api/trainer/inbox")
    assert status == 200
    text = json.dumps(body, ensure_ascii=False)
    assert "551234567" not in text and "conversation_id" not in text
    item = next(i for i in body["items"] if i["text"] == "ابي اكلم موظف")
    assert item["customer_display"] == "+966••••••567"
    # the opaque id still works for the trainer's actions
    status, dismissed = trainer.call("POST", "/api/trainer/dismiss", {"item_id": item["id"]})
    assert status == 200, dismissed
    status, history = trainer.call("GET", "/api/trainer/history")
    assert "551234567" not in json.dumps(history, ensure_ascii=False)
    # supervisors may see the raw id
    add_account("sup1", "super-pass-123", "supervisor")
    supervisor = Client(service)
    supervisor.sign_in("sup1", "super-pass-123")
    save_tracker(redis_url, "966500000001", [user_event("وين الموظف", "request_human", 0.3, channel="whatsapp")])
    status, body = supervisor.call("GET", "/api/trainer/inbox")
    assert status == 200 and "966500000001" in {i.get("conversation_id") for i in body["items"]}
