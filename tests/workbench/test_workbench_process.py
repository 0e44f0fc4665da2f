"""The workbench is its own process: the console imports neither Rasa nor TensorFlow, trainers
sign in with the console's accounts, and conversations come through Rasa's HTTP API."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace

import pytest

from tests.workbench.conftest import save_tracker, user_event
from workbench.inbox import InboxFilter
from workbench.service import Workbench, WorkbenchError
from workbench.settings import ROOT, WorkbenchSettings


def test_the_agent_console_imports_neither_rasa_nor_tensorflow():
    code = (
        "import sys, handoff.app, handoff.__main__\n"
        "handoff.app.create_app()\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'rasa', 'tensorflow', 'workbench', 'sklearn'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_console_no_longer_serves_the_workbench():
    from handoff.app import create_app

    paths = {resource.canonical for resource in create_app().router.resources()}
    assert not {p for p in paths if p.startswith(("/trainer", "/api/trainer"))}
    assert {"/api/login", "/api/logout", "/api/me"} <= paths  # sign-in routes from handoff.auth


def test_the_workbench_listens_on_loopback_port_5090_unless_told():
    defaults = WorkbenchSettings.from_env({})
    assert (defaults.host, defaults.port) == ("127.0.0.1", 5090)
    told = WorkbenchSettings.from_env({"TRAINER_HOST": "0.0.0.0", "TRAINER_PORT": "6001", "REDIS_URL": "redis://r:1/2"})
    assert (told.host, told.port) == ("0.0.0.0", 6001)
    assert told.redis_url == told.signin.redis_url == "redis://r:1/2", "accounts live in the same Redis"


def _inbox(settings: WorkbenchSettings) -> list:
    async def run():
        bench = Workbench(settings)
        try:
            return await bench.inbox(InboxFilter())
        finally:
            await bench.close()

    return asyncio.run(run())


def test_conversations_come_from_rasa_and_the_index_is_not_rescanned_on_every_request(settings, conversations, rasa_api, redis_url):
    import redis

    slow = replace(settings, discovery_seconds=3600)

    async def scenario():
        bench = Workbench(slow)
        scans = []
        discover = bench.store.discover

        async def counted():
            scans.append(1)
            return await discover()

        bench.store.discover = counted  # type: ignore[method-assign]
        try:
            first = await bench.inbox(InboxFilter())
            # a new conversation is not seen before the next discovery: no SCAN per request
            await asyncio.to_thread(save_tracker, redis_url, "conv-new", [user_event("مرحبا", "greet", 0.2)])
            second = await bench.inbox(InboxFilter())
            return first, second, len(scans)
        finally:
            await bench.close()

    first, second, scans = asyncio.run(scenario())
    assert len(first) == 6 and len(second) == 6 and scans == 1
    assert set(rasa_api.requested) == set(conversations), "every tracker was read through Rasa's API"
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        assert set(client.zrange("trainer:conversations", 0, -1)) == set(conversations)
        # scored by the latest event Rasa reported (the handoff action, after the message)
        assert conversations["conv-handoff"] <= client.zscore("trainer:conversations", "conv-handoff") <= time.time()
    finally:
        client.close()


def test_an_expired_conversation_leaves_the_index_and_rasa_is_not_asked_to_create_it(settings, conversations, rasa_api, redis_url):
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)

    async def scenario():
        bench = Workbench(settings)
        try:
            assert len(await bench.inbox(InboxFilter())) == 6
            client.delete("tracker:tracker:conv-fallback")  # record_exp ran out
            rasa_api.requested.clear()
            return {i.conversation_id for i in await bench.inbox(InboxFilter())}
        finally:
            await bench.close()

    try:
        assert asyncio.run(scenario()) == {"conv-lowconf", "conv-contradicted", "conv-handoff"}
        assert "conv-fallback" not in rasa_api.requested
        # Rasa creates and saves a tracker for an unknown id: it must not come back
        assert not client.exists("tracker:tracker:conv-fallback")
        assert "conv-fallback" not in client.zrange("trainer:conversations", 0, -1)
    finally:
        client.close()


def test_a_conversation_of_several_sessions_is_found_once_with_every_session(settings, rasa_api, redis_url):
    """The tracker store keeps sessions in keys of their own (bot/tracker_store.py):
    discovery finds the conversation once by its hash, and Rasa's API returns the
    archived sessions too, so the inbox shows messages of both."""
    import redis
    from rasa.shared.core.events import ActionExecuted, SessionStarted

    now = time.time()
    session = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
    save_tracker(redis_url, "conv-sessions", [
        *session, user_event("ابي اغير الباقة", "change_plan", 0.4, timestamp=now - 7200), ActionExecuted("action_answer_faq"),
    ])
    save_tracker(redis_url, "conv-sessions", [
        *session, user_event("وين اقرب فرع", "branch_locations", 0.45, timestamp=now - 10), ActionExecuted("action_answer_faq"),
    ])
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        assert client.keys("tracker:archive:conv-sessions:*"), "the first session was archived"
        items = _inbox(settings)
        assert [i.text for i in items if i.conversation_id == "conv-sessions"] == ["وين اقرب فرع", "ابي اغير الباقة"]
        assert client.zrange("trainer:conversations", 0, -1) == ["conv-sessions"]
    finally:
        client.close()


def test_a_wrong_token_or_no_rasa_server_is_a_clear_error(settings, conversations):
    for broken in (replace(settings, rasa_token="wrong"),
                   replace(settings, rasa_url="http://127.0.0.1:9")):
        with pytest.raises(WorkbenchError) as refused:
            _inbox(broken)
        assert refused.value.code == "rasa_unavailable" and refused.value.status == 502


def test_a_console_session_is_a_workbench_session(service, redis_url, conversations):
    """One account, one session: signed in at the console, the trainer is signed in at the workbench."""
    from tests.handoff.handoff_helpers import PASSWORD, make_settings, start_service

    settings = make_settings(redis_url)
    _, stop = start_service(settings)
    try:
        from tests.workbench.conftest import _add_account

        _add_account(redis_url, "trainer9", PASSWORD, "trainer")
        login = urllib.request.Request(f"http://127.0.0.1:{settings.port}/api/login", method="POST",
                                       data=json.dumps({"username": "trainer9", "password": PASSWORD}).encode(),
                                       headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(login, timeout=30) as response:
            cookie = response.headers["Set-Cookie"].split(";")[0]
        inbox = urllib.request.Request(service + "/api/trainer/inbox", headers={"Cookie": cookie})
        with urllib.request.urlopen(inbox, timeout=30) as response:
            assert response.status == 200 and len(json.loads(response.read())["items"]) == 6
    finally:
        stop()


def test_make_run_gives_the_workbench_its_port_and_the_demo_page_links_to_it(monkeypatch):
    from scripts.stack import Stack

    monkeypatch.delenv("RASA_URL", raising=False)
    env = Stack(workbench_port=5191, rasa_port=5105).env()
    assert (env["TRAINER_PORT"], env["TRAINER_URL"], env["RASA_URL"]) == ("5191", "http://localhost:5191", "http://127.0.0.1:5105")
    assert "TRAINER_HOST" not in env or env["TRAINER_HOST"] == "127.0.0.1"  # loopback unless the operator says so


def test_the_demo_page_links_to_the_workbench_process(redis_url):
    from tests.handoff.handoff_helpers import make_settings, start_service

    settings = make_settings(redis_url, trainer_public_url="http://localhost:5191")
    _, stop = start_service(settings)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.port}/", timeout=30) as response:
            page = response.read().decode("utf-8")
        with pytest.raises(urllib.error.HTTPError) as gone:
            urllib.request.urlopen(f"http://127.0.0.1:{settings.port}/trainer", timeout=30)
    finally:
        stop()
    assert 'href="http://localhost:5191/trainer"' in page and "{{" not in page
    assert gone.value.code == 404
