"""Start the whole assistant: Redis, the handoff service, the action server, Rasa and the trainer workbench.

``make run`` and ``make shell`` use this module, and so do the integration tests,
so the services always start the same way.

Usage:
    python -m scripts.stack run     # every service; Ctrl-C stops what it started
    python -m scripts.stack shell   # Redis + actions, then `rasa shell` in this terminal
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional
from urllib.parse import quote, unquote, urlparse

from scripts import redis_server, secrets_file

ROOT = Path(__file__).resolve().parents[1]
SECRETS_FILE = ROOT / ".env.local"
DEFAULT_RETENTION_DAYS_TRACKERS = 90


def redis_env(url: str) -> Dict[str, str]:
    """Split a redis:// URL into the variables endpoints.yml reads."""
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss"):
        raise ValueError(f"REDIS_URL must start with redis://, got {url!r}")
    return {
        "REDIS_URL": url,
        "REDIS_HOST": parsed.hostname or "localhost",
        "REDIS_PORT": str(parsed.port or 6379),
        "REDIS_DB": (parsed.path or "/0").lstrip("/") or "0",
        "REDIS_PASSWORD": unquote(parsed.password or ""),
    }


def retention_env(environ: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """``TRACKER_RECORD_EXP_SECONDS`` for endpoints.yml (Rasa's ``record_exp``).

    From ``RETENTION_DAYS_TRACKERS`` (default 90) unless set directly. Rasa cannot
    be told "never" through the environment, so the value must be positive: a
    conversation expires that many days after its last message.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    if env.get("TRACKER_RECORD_EXP_SECONDS", "").strip():
        return {"TRACKER_RECORD_EXP_SECONDS": env["TRACKER_RECORD_EXP_SECONDS"].strip()}
    raw = env.get("RETENTION_DAYS_TRACKERS", "").strip() or str(DEFAULT_RETENTION_DAYS_TRACKERS)
    try:
        days = float(raw)
    except ValueError as error:
        raise ValueError(f"environment variable RETENTION_DAYS_TRACKERS must be a number, got {raw!r}") from error
    if days <= 0:
        raise ValueError(f"RETENTION_DAYS_TRACKERS must be positive, got {raw!r}")
    return {"TRACKER_RECORD_EXP_SECONDS": str(max(1, int(days * 86400)))}


def wait_http(url: str, timeout: float, proc: Optional[subprocess.Popen] = None) -> None:
    """Wait until ``url`` answers 200, failing early if ``proc`` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


@dataclass
class Stack:
    """The assistant's processes, started in order and stopped in reverse.

    Attributes:
        model: a model file or folder of models for the Rasa server.
        redis_url: use this Redis; when None a local one is started in data_dir.
        rasa_port / action_port / handoff_port / workbench_port: HTTP ports of the servers
            (the workbench, ``python -m workbench``, is started by ``make run`` only).
        data_dir: where a local Redis keeps its append-only file.
        log_dir: each service's output goes to <service>.log here (None: inherit).
    """

    model: Path = ROOT / "models"
    redis_url: Optional[str] = None
    rasa_port: int = 5005
    action_port: int = 5055
    handoff_port: int = 5080
    workbench_port: int = 5090
    data_dir: Path = ROOT / "data" / "redis"
    log_dir: Optional[Path] = None
    processes: List[subprocess.Popen] = field(default_factory=list)
    # shared secret of service-to-service calls; one per run unless the environment sets it
    service_token: str = field(default_factory=lambda: os.environ.get("HANDOFF_SERVICE_TOKEN") or secrets.token_urlsafe(32))
    # Rasa's HTTP API token (`?token=`) and the secret Rasa sends the action server;
    # likewise from the environment (make run: .env.local) or one per run
    rasa_token: str = field(default_factory=lambda: os.environ.get("RASA_TOKEN") or secrets.token_urlsafe(32))
    action_token: str = field(default_factory=lambda: os.environ.get("ACTION_SERVER_TOKEN") or secrets.token_urlsafe(32))
    # `requirepass` of the Redis this stack starts itself (make run: from .env.local)
    redis_password: str = field(default_factory=lambda: os.environ.get("REDIS_PASSWORD") or secrets.token_urlsafe(32))
    # port of the local fake WhatsApp Graph API (start_fake_whatsapp); None: not started
    fake_whatsapp_port: Optional[int] = None
    # the fake's bearer token and webhook secrets, one set per run
    fake_whatsapp_secrets: Dict[str, str] = field(
        default_factory=lambda: {
            "WHATSAPP_ACCESS_TOKEN": secrets.token_urlsafe(24),
            "WHATSAPP_APP_SECRET": secrets.token_urlsafe(24),
            "WHATSAPP_VERIFY_TOKEN": secrets.token_urlsafe(24),
        }
    )

    @property
    def fake_whatsapp_url(self) -> Optional[str]:
        """Base URL of the fake Graph API (``/_requests`` lists what it was sent)."""
        return f"http://127.0.0.1:{self.fake_whatsapp_port}" if self.fake_whatsapp_port else None

    @property
    def python(self) -> str:
        return sys.executable

    def env(self) -> Dict[str, str]:
        env = dict(os.environ)
        env.update(redis_env(self.redis_url or "redis://localhost:6379/0"))
        env.update(retention_env(env))
        # the REST channel needs no API key on this machine (REST_API_KEY in production)
        env.setdefault("NOOR_LOCAL_MODE", "1")
        # the action server listens on loopback (IPv4) only
        env.setdefault("ACTION_SERVER_URL", f"http://127.0.0.1:{self.action_port}/webhook")
        env["HANDOFF_SERVICE_TOKEN"] = self.service_token
        env["RASA_TOKEN"] = self.rasa_token
        env["ACTION_SERVER_TOKEN"] = self.action_token
        env["HANDOFF_PORT"] = str(self.handoff_port)
        env["HANDOFF_URL"] = f"http://localhost:{self.handoff_port}"
        env.setdefault("RASA_PUBLIC_URL", f"http://localhost:{self.rasa_port}")
        # the trainer workbench's own process: the demo page links to it, and it reads
        # conversations through Rasa's HTTP API (with RASA_TOKEN, above)
        env["TRAINER_PORT"] = str(self.workbench_port)
        env["TRAINER_URL"] = f"http://localhost:{self.workbench_port}"
        env.setdefault("RASA_URL", f"http://127.0.0.1:{self.rasa_port}")
        # the console is served over plain http here: without local mode its Secure
        # session cookie would never come back and nobody could sign in
        env.setdefault("HANDOFF_LOCAL_MODE", "1")
        # the demo page (handoff service) embeds the web chat widget of the Rasa server
        env.setdefault(
            "WEBCHAT_ALLOWED_ORIGINS",
            ",".join(f"http://{host}:{port}" for port in (self.handoff_port, self.rasa_port) for host in ("localhost", "127.0.0.1")),
        )
        if self.fake_whatsapp_port:
            # WhatsApp against the local fake: one-time codes for web and REST customers
            # reach "the phone on file" there (GET <fake>/_requests shows them)
            env.update(self.fake_whatsapp_secrets)
            env["WHATSAPP_GRAPH_API_URL"] = f"{self.fake_whatsapp_url}/v19.0"
            env.setdefault("WHATSAPP_PHONE_NUMBER_ID", "local-demo")
            env.setdefault("WHATSAPP_TEMPLATES", "noor_verification_code:ar")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        # Arabic in `make shell` and in the logs, whatever the caller's locale
        env.setdefault("PYTHONIOENCODING", "utf-8")
        env.setdefault("LANG", "C.UTF-8")
        env.setdefault("RASA_TELEMETRY_ENABLED", "false")
        return env

    def api_url(self, path: str) -> str:
        """A URL of this stack's Rasa HTTP API, with the token (``?token=``)."""
        separator = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.rasa_port}{path}{separator}token={quote(self.rasa_token, safe='')}"

    def _spawn(self, name: str, cmd: List[str]) -> subprocess.Popen:
        out = None
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{name}.log", "ab")
        # its own process group, so Ctrl-C in `make run` reaches us first and we
        # stop children in order instead of all at once
        proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(proc)
        return proc

    def start_redis(self) -> None:
        if self.redis_url:
            return
        port = int(os.environ.get("REDIS_PORT", "6379"))
        if not _port_free(port):
            port = redis_server.free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # requirepass goes to Redis on its stdin, never its command line; every
        # client gets the password inside REDIS_URL (endpoints.yml: REDIS_PASSWORD)
        proc = redis_server.start(port, self.data_dir, self.redis_password)
        self.processes.append(proc)
        self.redis_url = f"redis://:{quote(self.redis_password, safe='')}@127.0.0.1:{port}/0"

    def start_fake_whatsapp(self, timeout: float = 30) -> None:
        """Start the fake Graph API unless WhatsApp is configured (``WHATSAPP_ACCESS_TOKEN``).

        Only on this machine (loopback): it stands in for Meta so that the demo's
        verification codes have somewhere to go.
        """
        if os.environ.get("WHATSAPP_ACCESS_TOKEN"):
            return
        # a fixed port, so `make eval-conversations` finds it (another run may hold it)
        port = int(os.environ.get("FAKE_WHATSAPP_PORT", "5089"))
        if not _port_free(port):
            port = redis_server.free_port()
        proc = self._spawn("fake-whatsapp", [self.python, "-m", "scripts.fake_graph_api", "--port", str(port)])
        wait_http(f"http://127.0.0.1:{port}/_requests", timeout, proc)
        self.fake_whatsapp_port = port

    def start_handoff(self, timeout: float = 60) -> None:
        if not _port_free(self.handoff_port):
            # another run (or a test session) has it; the URLs printed follow the port
            self.handoff_port = redis_server.free_port()
        proc = self._spawn("handoff", [self.python, "-m", "handoff"])
        wait_http(f"http://127.0.0.1:{self.handoff_port}/health", timeout, proc)

    def pick_workbench_port(self) -> None:
        """Move the workbench to a free port when another run holds its own; before
        the handoff service starts, so the demo page links to the right one."""
        if not _port_free(self.workbench_port):
            self.workbench_port = redis_server.free_port()

    def start_workbench(self, timeout: float = 60) -> None:
        """The trainer workbench (``python -m workbench``): its own process, on loopback."""
        self.pick_workbench_port()
        proc = self._spawn("workbench", [self.python, "-m", "workbench", "serve"])
        wait_http(f"http://127.0.0.1:{self.workbench_port}/health", timeout, proc)

    def start_actions(self, timeout: float = 60) -> None:
        # loopback only, and every call but /health needs ACTION_SERVER_TOKEN (from env())
        proc = self._spawn("actions", [self.python, "-m", "scripts.action_server", "--actions", "actions", "--port", str(self.action_port)])
        wait_http(f"http://127.0.0.1:{self.action_port}/health", timeout, proc)

    def start_rasa(self, timeout: float = 180) -> None:
        # scripts.rasa_run adds `--auth-token $RASA_TOKEN` inside the process, so the
        # token is required on the API but never on the command line
        cmd = [
            self.python, "-m", "scripts.rasa_run", "run",
            "--model", str(self.model),
            "--port", str(self.rasa_port),
            "--endpoints", "endpoints.yml",
            "--credentials", "credentials.yml",
            "--enable-api",
            "--cors", os.environ.get("CORS_ORIGINS", "http://localhost:5005"),
        ]
        proc = self._spawn("rasa", cmd)
        wait_http(self.api_url("/status"), timeout, proc)

    def start(self) -> None:
        self.start_redis()
        self.start_fake_whatsapp()
        self.start_handoff()
        self.start_actions()
        self.start_rasa()

    def stop(self) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.processes):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.processes.clear()


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run the assistant locally.")
    parser.add_argument("mode", choices=["run", "shell"])
    parser.add_argument("--model", type=Path, default=ROOT / "models")
    args = parser.parse_args(argv)
    # A supervisor (systemd, docker, `kill`) stops us with SIGTERM: treat it like
    # Ctrl-C so the children, which run in their own sessions, are stopped too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    # every local secret generated once into .env.local (0600, git-ignored) and reused;
    # values already in the environment win. Children get them through the environment.
    values, written = secrets_file.load_or_create(SECRETS_FILE)
    os.environ.update(values)
    print(f"Secrets          {SECRETS_FILE}  ({'generated' if written else 'reused'}; the environment wins)", flush=True)
    stack = Stack(model=args.model, redis_url=os.environ.get("REDIS_URL") or None, log_dir=ROOT / "data" / "logs")
    try:
        stack.start_redis()
        shown = re.sub(r"//[^@/]*@", "//:<REDIS_PASSWORD>@", stack.redis_url or "")
        print(f"Redis            {shown}  (append-only files in {stack.data_dir})", flush=True)
        # before the other services: their environment points WhatsApp at it
        stack.start_fake_whatsapp()
        if args.mode == "run":
            stack.pick_workbench_port()
            stack.start_handoff()
            print(f"Handoff service  http://localhost:{stack.handoff_port}/health", flush=True)
        stack.start_actions()
        print(f"Action server    http://localhost:{stack.action_port}/health", flush=True)
        if args.mode == "shell":
            return subprocess.call([stack.python, "-m", "rasa", "shell", "--model", str(args.model), "--endpoints", "endpoints.yml"], cwd=ROOT, env=stack.env())
        stack.start_rasa()
        stack.start_workbench()
        print(f"Rasa server      http://localhost:{stack.rasa_port}/status?token=<RASA_TOKEN from {SECRETS_FILE.name}>", flush=True)
        print(f"Chat demo        http://localhost:{stack.handoff_port}/", flush=True)
        print(f"Agent console    http://localhost:{stack.handoff_port}/console  (accounts: make agent)", flush=True)
        if stack.fake_whatsapp_url:
            print(f"Fake WhatsApp    {stack.fake_whatsapp_url}/_requests  (verification codes of the demo accounts land here)", flush=True)
        print(f"Trainer          http://localhost:{stack.workbench_port}/trainer  (workbench process; accounts: make agent ... --role trainer)", flush=True)
        print("Talk to it:", flush=True)
        print(
            f"  curl -s localhost:{stack.rasa_port}/webhooks/rest/webhook "
            "-d '{\"sender\":\"t1\",\"message\":\"كم فاتورتي هالشهر؟\"}'",
            flush=True,
        )
        print(f"Logs in {stack.log_dir}. Ctrl-C stops everything.", flush=True)
        while all(p.poll() is None for p in stack.processes):
            time.sleep(1)
        print("A service stopped unexpectedly; see the logs above. Stopping the rest.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
