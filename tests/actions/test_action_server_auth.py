"""The action server answers only Rasa: loopback, and a shared secret on every call.

Attack: anyone who reaches the action server posts a forged tracker to /webhook and
has an action run (a ticket opened, a customer's data read) without Rasa.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Iterator

import pytest
import requests

from scripts import redis_server
from scripts.stack import ROOT
from tests.polling import stop_process

TOKEN = "action-secret-for-tests"


def forged_call(action: str = "action_greet_customer") -> dict:
    return {
        "next_action": action,
        "sender_id": "attacker",
        "version": "3.6.21",
        "domain": {},
        "tracker": {"sender_id": "attacker", "slots": {}, "latest_message": {"text": "hi", "intent": {}, "entities": []}, "events": []},
    }


@pytest.fixture(scope="module")
def action_server() -> Iterator[str]:
    port = redis_server.free_port()
    env = {**os.environ, "ACTION_SERVER_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.action_server", "--actions", "actions", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, "action server exited"
            try:
                if requests.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "action server did not start"
            time.sleep(0.3)
        yield url
    finally:
        stop_process(proc)


def test_forged_tracker_without_the_token_is_refused(action_server):
    response = requests.post(f"{action_server}/webhook", json=forged_call(), timeout=30)
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}


@pytest.mark.parametrize("token", ["wrong", TOKEN[:-1], TOKEN + "x", "", "ﻻ" + TOKEN])
def test_forged_tracker_with_a_wrong_token_is_refused(action_server, token):
    response = requests.post(f"{action_server}/webhook", params={"token": token}, json=forged_call(), timeout=30)
    assert response.status_code == 401


def test_the_token_in_a_header_is_not_enough(action_server):
    response = requests.post(f"{action_server}/webhook", headers={"Authorization": f"Bearer {TOKEN}"}, json=forged_call(), timeout=30)
    assert response.status_code == 401


def test_listing_the_actions_needs_the_token_too(action_server):
    assert requests.get(f"{action_server}/actions", timeout=30).status_code == 401
    assert requests.get(f"{action_server}/actions", params={"token": TOKEN}, timeout=30).status_code == 200


def test_with_the_token_the_call_reaches_the_actions(action_server):
    # an unknown action: past the check, rasa_sdk itself answers 404
    response = requests.post(f"{action_server}/webhook", params={"token": TOKEN}, json=forged_call("action_no_such_thing"), timeout=30)
    assert response.status_code == 404


def test_health_stays_open_for_the_supervisor(action_server):
    assert requests.get(f"{action_server}/health", timeout=10).status_code == 200


def test_it_refuses_to_start_without_a_token():
    env = {key: value for key, value in os.environ.items() if key != "ACTION_SERVER_TOKEN"}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, "-m", "scripts.action_server", "--port", "1"], cwd=ROOT, env=env, capture_output=True, timeout=60)
    assert result.returncode == 2
    assert b"ACTION_SERVER_TOKEN" in result.stderr
