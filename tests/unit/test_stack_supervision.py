"""``make run`` under supervisord: a killed service is restarted, one that cannot start
stops the run and is named, a busy port stops it before anything starts, and SIGTERM
leaves nothing running.

Real processes: :func:`scripts.stack.serve` (what ``make run`` runs) in a process of its
own, on a light configuration: the stack's own Redis, the fake WhatsApp Graph API, the
handoff service and the action server (no Rasa: it takes a minute to load), each on a
free port. Every process of a run carries a marker in its environment, so that "nothing
left" means no process at all, not just the ones whose pid we knew (Redis, which writes
its process title over its environment, is seen by its port).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

import pytest
import requests

from scripts import ports, redis_server
from scripts.stack import ROOT
from scripts.supervision import rpc_client, wait_http

SERVICES = ["redis", "fake-whatsapp", "handoff", "actions"]
MARKER = "NOOR_SUPERVISION_TEST_RUN"
# secrets the run is given: none of them may be written into supervisord's configuration
SECRETS = {name: f"{name.lower()}-{uuid.uuid4().hex}" for name in
           ("REDIS_PASSWORD", "RASA_TOKEN", "ACTION_SERVER_TOKEN", "HANDOFF_SERVICE_TOKEN", "WEBCHAT_SECRET")}

# make run's serve() on the light configuration; READY + the addresses once all answer
DRIVER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from scripts.stack import Stack, serve

    options = json.loads(sys.argv[1])
    run = Path(options["run"])
    stack = Stack(data_dir=run / "redis", log_dir=run / "logs", run_dir=run, fixed_ports=True,
                  handoff_port=options["handoff"], action_port=options["actions"], rasa_port=options["rasa"])
    if options["action_token"] is not None:
        stack.action_token = options["action_token"]


    def announce(stack):
        print("READY " + json.dumps({"socket": str(stack.supervisor.socket), "config": str(stack.supervisor.config),
                                     "health": {p.name: p.health for p in stack.supervisor.programs}}), flush=True)


    sys.exit(serve(stack, options["services"], announce))
    """
)


class LightRun:
    """One ``serve`` run in a process of its own; its output in files of ``folder``."""

    def __init__(self, folder: Path, env: Dict[str, str], ports_: Dict[str, int], action_token: Optional[str]) -> None:
        self.folder, self.ports, self.marker = folder, ports_, env[MARKER]
        self.stdout, self.stderr = folder / "stdout.txt", folder / "stderr.txt"
        options = {"run": str(folder), "services": SERVICES, "action_token": action_token,
                   **{name: ports_[name] for name in ("handoff", "actions", "rasa")}}
        with open(self.stdout, "wb") as out, open(self.stderr, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-c", DRIVER, json.dumps(options)], cwd=ROOT, env=env, stdout=out, stderr=err)
        self.ready: Optional[dict] = None

    def output(self) -> str:
        return self.stdout.read_text(encoding="utf-8") + self.stderr.read_text(encoding="utf-8")

    def wait_ready(self, timeout: float = 180) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.stdout.read_text(encoding="utf-8").splitlines():
                if line.startswith("READY "):
                    self.ready = json.loads(line[len("READY "):])
                    return self.ready
            assert self.proc.poll() is None, self.output()
            time.sleep(0.3)
        raise AssertionError(f"not ready after {timeout:.0f}s:\n{self.output()}")

    def wait_exit(self, timeout: float = 180) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running after {timeout:.0f}s:\n{self.output()}") from None

    def info(self) -> Dict[str, dict]:
        assert self.ready is not None
        return {entry["name"]: entry for entry in rpc_client(Path(self.ready["socket"])).supervisor.getAllProcessInfo()}

    def left(self) -> List[str]:
        """``pid: command line`` of every process of this run still alive (the run itself included)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if f"{MARKER}={self.marker}".encode() in environ.split(b"\0"):
                found.append(f"{entry.name}: {ports._command_line(int(entry.name))}")
        return found


@pytest.fixture
def light_run(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., LightRun]]:
    """Start ``serve`` runs on free ports; whatever is left of them is stopped afterwards."""
    runs: List[LightRun] = []
    # a short folder: supervisord's Unix socket lies in it (108 bytes at most)
    folder = Path(tempfile.mkdtemp(prefix="noor-sv-"))

    def start(action_token: Optional[str] = None, **env_changes: str) -> LightRun:
        env = {key: value for key, value in os.environ.items()
               if key not in ("REDIS_URL", "WHATSAPP_ACCESS_TOKEN", "PYTEST_CURRENT_TEST")}
        ports_ = {name: redis_server.free_port() for name in ("redis", "fake-whatsapp", "handoff", "actions", "rasa")}
        env.update(SECRETS, PYTHONPATH=str(ROOT), REDIS_PORT=str(ports_["redis"]), FAKE_WHATSAPP_PORT=str(ports_["fake-whatsapp"]))
        env[MARKER] = uuid.uuid4().hex
        env.update(env_changes)
        run_folder = folder / f"run{len(runs)}"
        run_folder.mkdir()
        runs.append(LightRun(run_folder, env, ports_, action_token))
        return runs[-1]

    try:
        yield start
    finally:
        for run in runs:
            if run.proc.poll() is None:
                run.proc.send_signal(signal.SIGTERM)
                run.proc.wait(timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def _nothing_left(run: LightRun) -> None:
    assert run.left() == []
    assert [name for name, port in run.ports.items() if name != "rasa" and ports.in_use(port)] == []


def test_a_killed_service_is_restarted_and_the_others_keep_running(light_run: Callable[..., LightRun]) -> None:
    run = light_run()
    ready = run.wait_ready()
    before = run.info()
    assert sorted(before) == sorted(SERVICES) and {entry["statename"] for entry in before.values()} == {"RUNNING"}
    # the configuration: 0600, a 0700 Unix socket and no TCP port, and no secret in it
    config = Path(ready["config"])
    text = config.read_text(encoding="utf-8")
    assert stat.S_IMODE(config.stat().st_mode) == 0o600 and stat.S_IMODE(Path(ready["socket"]).stat().st_mode) == 0o700
    assert "[unix_http_server]" in text and "inet_http_server" not in text and "autorestart=true" in text
    assert [secret for secret in SECRETS.values() if secret in text] == []

    victim = before["handoff"]["pid"]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 90
    while True:
        now = run.info()["handoff"]
        if now["pid"] not in (0, victim) and now["statename"] == "RUNNING":
            break
        assert time.monotonic() < deadline, now
        time.sleep(0.3)
    wait_http(ready["health"]["handoff"], 60)
    assert requests.get(ready["health"]["handoff"], timeout=10).status_code == 200
    # the others were left alone, and the run goes on
    after = run.info()
    assert {name: after[name]["pid"] for name in SERVICES if name != "handoff"} == {
        name: before[name]["pid"] for name in SERVICES if name != "handoff"}
    assert run.proc.poll() is None
    assert (run.folder / "logs" / "handoff.log").exists()


def test_a_service_that_cannot_start_stops_the_run_and_is_named(light_run: Callable[..., LightRun]) -> None:
    # the action server refuses to run without its token (exit code 2), at every try
    run = light_run(action_token="")
    assert run.wait_exit() == 1
    stderr = run.stderr.read_text(encoding="utf-8")
    assert "make run stopped: actions stopped: exit code 2" in stderr, run.output()
    # its own last words, from its log
    assert "ACTION_SERVER_TOKEN is not set" in stderr and "Traceback" not in stderr
    # the services started before it were up, and are gone now, with supervisord
    assert "redis" in run.stdout.read_text(encoding="utf-8")
    _nothing_left(run)


def test_a_busy_port_stops_the_run_before_anything_starts(light_run: Callable[..., LightRun], tmp_path: Path) -> None:
    port = redis_server.free_port()
    stale = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/", 20, stale)
        run = light_run(FAKE_WHATSAPP_PORT=str(port))
        assert run.wait_exit() == 1
        stderr = run.stderr.read_text(encoding="utf-8")
        assert f"port {port} (fake-whatsapp) is already in use by pid {stale.pid}" in stderr and "http.server" in stderr
        # nothing was started: no supervisord, not even its configuration
        assert not (run.folder / "supervisord.conf").exists() and run.left() == []
        assert stale.poll() is None
    finally:
        stale.kill()
        stale.wait()


def test_sigterm_stops_supervisord_and_every_service(light_run: Callable[..., LightRun]) -> None:
    run = light_run()
    run.wait_ready()
    pids = [entry["pid"] for entry in run.info().values()]
    # the run, supervisord and the services; Redis writes its process title over its
    # environment, so the marker misses it: its pid and its port show it is gone
    assert len(run.left()) == 2 + len(SERVICES) - 1 and all(pids)
    run.proc.send_signal(signal.SIGTERM)
    assert run.wait_exit() == 0
    _nothing_left(run)
    assert all(not Path(f"/proc/{pid}").exists() for pid in pids)
