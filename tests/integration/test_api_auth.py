"""Rasa's HTTP API and the action server refuse callers without their secrets (real stack).

Attacks: read any customer's tracker, inject events, replace or unload the model
through Rasa's API on :5005; run actions with a forged tracker on the action server.
"""

import socket
import uuid
from pathlib import Path

import pytest
import requests
from network import outward_address

from tests.integration.test_rest_webhook import send

TIMEOUT = 60


def rasa(stack, path):
    return f"http://127.0.0.1:{stack.rasa_port}{path}"


def test_tracker_without_the_token_is_refused(stack):
    sender = f"auth-{uuid.uuid4().hex[:6]}"
    send(stack, "السلام عليكم", sender)  # the public channel still works without a token
    assert requests.get(rasa(stack, f"/conversations/{sender}/tracker"), timeout=TIMEOUT).status_code == 401
    assert requests.get(rasa(stack, f"/conversations/{sender}/tracker"), params={"token": "guess"}, timeout=TIMEOUT).status_code == 401
    # a Bearer header is read as a JWT, and no JWT secret is configured
    bearer = requests.get(rasa(stack, f"/conversations/{sender}/tracker"), headers={"Authorization": f"Bearer {stack.rasa_token}"}, timeout=TIMEOUT)
    assert bearer.status_code == 401
    allowed = requests.get(stack.api_url(f"/conversations/{sender}/tracker"), timeout=TIMEOUT)
    assert allowed.status_code == 200
    assert any(e.get("event") == "user" for e in allowed.json()["events"])


def test_model_cannot_be_unloaded_or_replaced_without_the_token(stack):
    assert requests.delete(rasa(stack, "/model"), timeout=TIMEOUT).status_code == 401
    assert requests.put(rasa(stack, "/model"), json={"model_file": "/tmp/evil.tar.gz"}, timeout=TIMEOUT).status_code == 401
    # still loaded and answering (not unloaded with the token: other tests need the model)
    status = requests.get(stack.api_url("/status"), timeout=TIMEOUT)
    assert status.status_code == 200 and status.json()["model_file"]


def test_events_cannot_be_injected_without_the_token(stack):
    sender = f"inject-{uuid.uuid4().hex[:6]}"
    response = requests.post(rasa(stack, f"/conversations/{sender}/tracker/events"), json=[{"event": "pause"}], timeout=TIMEOUT)
    assert response.status_code == 401
    assert requests.post(rasa(stack, "/model/parse"), json={"text": "مرحبا"}, timeout=TIMEOUT).status_code == 401
    assert requests.get(rasa(stack, "/status"), timeout=TIMEOUT).status_code == 401


def test_the_tokens_are_not_on_any_command_line(stack):
    for proc in stack.processes:
        cmdline = Path(f"/proc/{proc.pid}/cmdline")
        if cmdline.exists():
            text = cmdline.read_bytes().decode("utf-8", "replace")
            assert stack.rasa_token not in text and stack.action_token not in text and stack.service_token not in text


def test_action_server_refuses_a_forged_tracker(stack):
    forged = {"next_action": "action_greet_customer", "sender_id": "x", "version": "3.6.21", "domain": {},
              "tracker": {"sender_id": "x", "slots": {}, "latest_message": {}, "events": []}}
    url = f"http://127.0.0.1:{stack.action_port}/webhook"
    assert requests.post(url, json=forged, timeout=TIMEOUT).status_code == 401
    assert requests.post(url, params={"token": "guess"}, json=forged, timeout=TIMEOUT).status_code == 401


def test_action_server_listens_on_loopback_only(stack):
    address = outward_address()
    if address is None:
        pytest.skip("no non-loopback address on this machine")
    with socket.socket() as sock:
        sock.settimeout(3)
        assert sock.connect_ex((address, stack.action_port)) != 0
