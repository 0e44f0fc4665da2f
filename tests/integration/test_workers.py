"""Two Rasa workers behind HAProxy (``make run WORKERS=2``), under supervisord as make run runs them.

Real processes throughout: Redis, the action server, the handoff service, two Rasa
servers on loopback and HAProxy on the public port, started by supervisord
(``Stack.start_supervised``). One conversation's messages are spread over both workers
and its tracker stays whole; the web chat's WebSocket and Rasa's token-protected API
work through the proxy; a model the workbench loads reaches both workers; a worker that
dies is routed around, then restarted by supervisord.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import time
import uuid
from pathlib import Path
from typing import Dict, Iterator

import pytest
import redis
import requests
from network import outward_address
from websockets.client import connect as websocket_connect

from bot import model_sync
from scripts import haproxy, redis_server
from scripts.stack import Stack
from scripts.supervision import answers
from workbench.settings import WorkbenchSettings
from workbench.training import TrainingJob, TrainingManager

TIMEOUT = 60


@pytest.fixture(scope="module")
def workers_stack(trained_model: Path, module_redis, artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(
        model=trained_model, redis_url=module_redis.url, workers=2,
        rasa_port=redis_server.free_port(), action_port=redis_server.free_port(), handoff_port=redis_server.free_port(),
        log_dir=artifacts / "stack-logs-workers", run_dir=tmp_path_factory.mktemp("run"),
    )
    try:
        running.start_supervised(["redis", "fake-whatsapp", "handoff", "actions", "rasa"])
        yield running
    finally:
        running.stop()


def _served(stack: Stack) -> Dict[str, int]:
    """Requests each worker has taken so far (HAProxy's stats socket)."""
    stats = haproxy.server_stats(haproxy.stats_socket_of(stack.run_dir / f"haproxy-{stack.rasa_port}.cfg"))
    return {name: int(row["stot"]) for name, row in stats.items()}


def test_the_workers_listen_on_loopback_behind_the_proxy(workers_stack: Stack) -> None:
    assert workers_stack.supervisor is not None
    assert [program.name for program in workers_stack.supervisor.programs][-3:] == ["rasa-1", "rasa-2", "haproxy"]
    assert len(set(workers_stack.worker_ports)) == 2 and workers_stack.rasa_port not in workers_stack.worker_ports
    for port in workers_stack.worker_ports:
        status = requests.get(workers_stack._api_url(port, "/status"), timeout=TIMEOUT)
        assert status.status_code == 200 and status.json()["model_file"]
    # Rasa's API through the proxy: the token is still required
    assert requests.get(workers_stack.api_url("/status"), timeout=TIMEOUT).status_code == 200
    assert requests.get(f"{workers_stack.rasa_url}/status", timeout=TIMEOUT).status_code == 401
    assert requests.get(f"{workers_stack.rasa_url}/", timeout=TIMEOUT).text.startswith("Hello from Rasa")


def test_one_conversation_over_both_workers_stays_whole(workers_stack: Stack) -> None:
    sender = f"workers-{uuid.uuid4().hex[:8]}"
    texts = ["مرحبا", "شكرا", "السلام عليكم", "شكرا جزيلا"]
    before = _served(workers_stack)
    for text in texts:
        reply = requests.post(f"{workers_stack.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=TIMEOUT)
        assert reply.status_code == 200 and reply.json(), f"no reply to {text!r}"
    after = _served(workers_stack)
    assert all(after[name] > before[name] for name in after), (before, after)
    tracker = requests.get(workers_stack.api_url(f"/conversations/{sender}/tracker"), timeout=TIMEOUT).json()
    assert [event["text"] for event in tracker["events"] if event["event"] == "user"] == texts


def _webchat_turn(stack: Stack, host: str, text: str) -> tuple:
    """Open the web chat socket through the proxy at ``host``; (session id, first bot reply)."""

    async def talk() -> tuple:
        origin = {"Origin": f"http://127.0.0.1:{stack.rasa_port}"}
        async with websocket_connect(f"ws://{host}:{stack.rasa_port}/webhooks/webchat/socket", extra_headers=origin) as ws:
            await ws.send(json.dumps({"type": "hello", "token": None}))
            session = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            assert session["type"] == "session", session
            await ws.send(json.dumps({"type": "message", "text": text}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                if frame["type"] == "message" and frame["role"] == "bot":
                    return session["session_id"], frame["text"]

    return asyncio.run(talk())


def test_the_web_chat_socket_works_through_the_proxy(workers_stack: Stack) -> None:
    session_id, reply = _webchat_turn(workers_stack, "127.0.0.1", "مرحبا")
    assert session_id.startswith("web-") and reply


def test_the_workers_see_the_customers_address_not_the_proxys(workers_stack: Stack, module_redis) -> None:
    """Per-address limits count customers: the worker reads X-Forwarded-For from the proxy."""
    address = outward_address()
    if address is None:
        pytest.skip("no non-loopback address on this machine")
    session_id, _reply = _webchat_turn(workers_stack, address, "مرحبا")
    client = redis.Redis.from_url(module_redis.url, decode_responses=True)
    try:
        stored = json.loads(client.get(f"webchat:session:{session_id}") or "{}")
    finally:
        client.close()
    # the worker's own peer is the proxy on 127.0.0.1
    assert stored["ip"] == address


def test_a_model_the_workbench_loads_reaches_both_workers(workers_stack: Stack, trained_model: Path, module_redis,
                                                          tmp_path: Path) -> None:
    """The workbench's load (PUT /model through the proxy reaches one worker, then it is
    published in Redis) ends with both workers serving the new model file."""
    second = tmp_path / f"second-{trained_model.name}"
    shutil.copy(trained_model, second)
    settings = WorkbenchSettings(
        redis_url=module_redis.url, rasa_url=workers_stack.rasa_url, rasa_token=workers_stack.rasa_token,
        models_dir=tmp_path / "models", work_dir=tmp_path / "work",
    )
    training = TrainingManager(settings)
    training.jobs["second"] = TrainingJob(id="second", who="trainer1", state="ready", model=str(second))
    loaded = asyncio.run(training.load("second", by="trainer1"))
    assert loaded["model"] == str(settings.models_dir / second.name)

    def served() -> Dict[int, str]:
        return {port: requests.get(workers_stack._api_url(port, "/status"), timeout=TIMEOUT).json()["model_file"]
                for port in workers_stack.worker_ports}

    deadline = time.monotonic() + 180  # the other worker loads it after the first (2 cores)
    while set(served().values()) != {second.name}:
        assert time.monotonic() < deadline, served()
        time.sleep(0.5)
    client = redis.Redis.from_url(module_redis.url, decode_responses=True)
    try:
        current = json.loads(client.get(model_sync.KEY) or "{}")
    finally:
        client.close()
    assert current["model_file"] == loaded["model"] and current["by"] == "trainer1"
    # both still answer, on the new model
    reply = requests.post(f"{workers_stack.rasa_url}/webhooks/rest/webhook",
                          json={"sender": f"model-{uuid.uuid4().hex[:6]}", "message": "مرحبا"}, timeout=TIMEOUT)
    assert reply.status_code == 200 and reply.json()


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_dead_worker_is_routed_around_then_restarted(workers_stack: Stack) -> None:
    supervisor = workers_stack.supervisor
    assert supervisor is not None
    before = supervisor.pids()
    os.kill(before["rasa-1"], signal.SIGKILL)
    # a process this big takes a moment to die, and until it is gone its listening socket
    # still completes handshakes (a request then gets a 502, as a request in flight does
    # when a worker crashes); once it is gone (reaped by supervisord) no request may fail
    deadline = time.monotonic() + 30
    while pid_exists(before["rasa-1"]):
        assert time.monotonic() < deadline, "the killed worker did not go away"
        time.sleep(0.05)
    # the proxy sends the next requests to the worker that is left; a client sends a
    # 5xx again, as webhook senders do (the other worker may still be busy with what the
    # earlier tests of this module asked of it), and gets through within seconds
    for text in ("مرحبا", "شكرا"):
        body = {"sender": f"after-{uuid.uuid4().hex[:6]}", "message": text, "message_id": uuid.uuid4().hex}
        deadline = time.monotonic() + 30
        while True:
            reply = requests.post(f"{workers_stack.rasa_url}/webhooks/rest/webhook", json=body, timeout=TIMEOUT)
            if reply.status_code < 500 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert reply.status_code == 200 and reply.json(), (reply.status_code, reply.text[:300])
    # supervisord starts it again: a new process, which loads its model and answers
    status = workers_stack._api_url(workers_stack.worker_ports[0], "/status")
    deadline = time.monotonic() + 300  # a model loads in a minute or two on 2 busy cores
    while not (supervisor.pids()["rasa-1"] not in (0, before["rasa-1"]) and answers(status)):
        assert time.monotonic() < deadline, supervisor.info()
        time.sleep(1)
    # nothing else was restarted, and nothing gave up
    after = supervisor.pids()
    assert {name: pid for name, pid in after.items() if name != "rasa-1"} == {name: pid for name, pid in before.items() if name != "rasa-1"}
    assert supervisor.first_failed() is None
