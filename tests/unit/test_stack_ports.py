"""A port the stack needs that another (stale) process holds stops the start, and the
message names that process; nothing is started and nothing is reused."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest
import requests

from scripts import ports, redis_server
from scripts.stack import ROOT, PortBusy, Stack
from scripts.supervision import wait_http


@pytest.fixture
def stale_server(tmp_path: Path) -> Iterator[tuple]:
    """A real HTTP server of another process on a free port, as an earlier run would leave."""
    port = redis_server.free_port()
    (tmp_path / "status").write_text("stale")
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/status", 20, proc)
        yield port, proc
    finally:
        proc.kill()
        proc.wait()


def test_the_holder_of_a_port_is_found_by_pid_and_command(stale_server: tuple) -> None:
    port, proc = stale_server
    assert ports.in_use(port)
    found = ports.holders(port)
    assert len(found) == 1 and found[0].startswith(f"pid {proc.pid}: ") and "http.server" in found[0]
    assert not ports.in_use(redis_server.free_port())


def test_a_held_action_server_port_stops_the_start_with_the_holder(stale_server: tuple) -> None:
    port, proc = stale_server
    stack = Stack(action_port=port, rasa_port=redis_server.free_port())
    with pytest.raises(PortBusy) as caught:
        stack.reserve_ports(["actions", "rasa"])
    message = str(caught.value)
    assert f"port {port} (actions)" in message and f"pid {proc.pid}" in message and "http.server" in message
    assert stack.processes == []
    # start_actions checks too: the stale server never answers the new stack's health check
    with pytest.raises(PortBusy):
        stack.start_actions(timeout=5)
    assert stack.processes == []


def test_make_run_pins_every_port_while_tests_may_move_the_unpinned(stale_server: tuple) -> None:
    port, proc = stale_server
    with pytest.raises(PortBusy, match=f"pid {proc.pid}"):
        Stack(handoff_port=port, fixed_ports=True).reserve_ports(["handoff"])
    moved = Stack(handoff_port=port)
    moved.reserve_ports(["handoff"])
    assert moved.handoff_port != port and not ports.in_use(moved.handoff_port)
    # the public Rasa port never moves: every client was told it
    with pytest.raises(PortBusy, match=r"\(rasa\)"):
        Stack(rasa_port=port).reserve_ports(["rasa"])


def test_a_held_worker_port_moves_and_two_services_never_share_one(stale_server: tuple) -> None:
    port, _proc = stale_server
    stack = Stack(rasa_port=redis_server.free_port(), workers=2, worker_ports=[port, redis_server.free_port()])
    stack.reserve_ports(["rasa"])
    assert port not in stack.worker_ports and len(set(stack.worker_ports)) == 2
    clash = Stack(rasa_port=redis_server.free_port(), fixed_ports=True)
    clash.action_port = clash.rasa_port
    with pytest.raises(ValueError, match="set for both"):
        clash.reserve_ports(["rasa", "actions"])


def test_make_run_refuses_to_start_and_names_the_process_holding_the_port(stale_server: tuple, tmp_path: Path) -> None:
    """``python -m scripts.stack run`` as make runs it: Redis's port held -> exit 1, no child left."""
    port, proc = stale_server
    # the real main(), with its secrets file in tmp_path instead of the checkout's .env.local
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from scripts import stack
        stack.SECRETS_FILE = Path({str(tmp_path / ".env.local")!r})
        sys.exit(stack.main(["run", "--workers", "2"]))
        """
    )
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "REDIS_PASSWORD")}
    env.update(REDIS_PORT=str(port), PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert f"port {port} (redis) is already in use by pid {proc.pid}" in result.stderr
    assert "http.server" in result.stderr and "REDIS_PORT" in result.stderr
    assert "Traceback" not in result.stderr
    # the stale server is untouched and still the only one there
    assert proc.poll() is None and requests.get(f"http://127.0.0.1:{port}/status", timeout=5).text == "stale"
    assert ports.holders(port) == [f"pid {proc.pid}: {ports._command_line(proc.pid)}"]
