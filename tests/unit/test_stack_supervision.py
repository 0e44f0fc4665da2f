"""A service of the stack that dies takes the others down with it, and says who it was.

Real processes: the stack's own Redis, the fake WhatsApp Graph API, the handoff
service and the action server (no Rasa: it takes a minute to load).
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Iterator

import pytest

from scripts import redis_server
from scripts.stack import ServiceDied, Stack


@pytest.fixture
def light_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """A Stack whose Redis and fake WhatsApp take free ports (never a developer's)."""
    monkeypatch.delenv("WHATSAPP_ACCESS_TOKEN", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("REDIS_PORT", str(redis_server.free_port()))
    monkeypatch.setenv("FAKE_WHATSAPP_PORT", str(redis_server.free_port()))
    stack = Stack(data_dir=tmp_path / "redis", log_dir=tmp_path / "logs", handoff_port=redis_server.free_port(),
                  action_port=redis_server.free_port(), rasa_port=redis_server.free_port())
    yield stack
    stack.stop()


def test_a_service_that_dies_stops_the_rest_and_is_named(light_stack: Stack) -> None:
    light_stack.start_redis()
    light_stack.start_fake_whatsapp()
    started = list(light_stack.processes)
    assert [service.name for service in light_stack.services] == ["redis", "fake-whatsapp"]
    assert light_stack.supervise(poll_seconds=0.1, timeout=1) is None  # all well: it keeps watching

    fake = light_stack.services[1].proc
    fake.send_signal(signal.SIGKILL)
    died = light_stack.supervise(poll_seconds=0.1, timeout=30)

    assert isinstance(died, ServiceDied)
    assert died.service == "fake-whatsapp" and died.returncode == -signal.SIGKILL
    assert str(died).startswith("fake-whatsapp stopped: killed by SIGKILL")
    # Redis did not outlive it, and nothing is left to stop
    assert all(proc.poll() is not None for proc in started)
    assert light_stack.processes == [] and light_stack.services == []


def test_a_service_that_fails_to_start_stops_what_started_before_it(light_stack: Stack) -> None:
    # the action server refuses to run without its token (exit code 2)
    light_stack.action_token = ""
    with pytest.raises(ServiceDied) as caught:
        light_stack.start()
    died = caught.value
    assert died.service == "actions" and died.returncode == 2
    # the message carries the service's own last words, from its log
    assert "ACTION_SERVER_TOKEN is not set" in str(died) and "exit code 2" in str(died)
    assert light_stack.processes == []


def test_a_process_added_from_outside_is_supervised_too(light_stack: Stack, tmp_path: Path) -> None:
    """bench/e2e.py appends its own Redis to ``processes``: its death counts as well."""
    light_stack.processes.append(redis_server.start(redis_server.free_port(), tmp_path / "extra"))
    light_stack.start_fake_whatsapp()
    light_stack.processes[0].terminate()
    died = light_stack.supervise(poll_seconds=0.1, timeout=30)
    assert died is not None and died.service.startswith("process ") and light_stack.processes == []
