"""Start the whole assistant: Redis, the handoff service, the action server, Rasa and the trainer workbench.

``make run`` and ``make shell`` use this module, and so do the integration tests,
so the services always start the same way.

With ``--workers N`` (``make run WORKERS=N``) N Rasa processes listen on loopback
(5006, 5007, …) behind HAProxy on the public Rasa port (5005); they share Redis, whose
lock store orders each conversation's messages whichever worker takes them.

Every port is checked before anything starts: a port held by another process (a stale
server of an earlier run) stops the start with the holder's pid and command line
(``scripts/ports.py``), so a stale process never answers a health check. While the
stack runs, a service that exits stops all the others, and the message names it, its
exit status and its last log lines (``scripts/supervision.py``).

Usage:
    python -m scripts.stack run [--workers N]   # every service; Ctrl-C stops what it started
    python -m scripts.stack shell               # Redis + actions, then `rasa shell` in this terminal
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional
from urllib.parse import quote, urlparse

from bot import model_sync
from scripts import haproxy, ports, redis_server, secrets_file
from scripts.supervision import Service, ServiceDied, first_dead, stop_all, wait_http, wait_ready

__all__ = ["ROOT", "PortBusy", "ServiceDied", "Stack", "redis_env", "retention_env", "wait_http"]
PortBusy = ports.PortBusy

ROOT = Path(__file__).resolve().parents[1]
SECRETS_FILE = ROOT / ".env.local"
# generated files of a running stack (HAProxy's configuration); ignored by git
RUN_DIR = ROOT / ".run"
DEFAULT_RETENTION_DAYS_TRACKERS = 90


def redis_env(url: str) -> Dict[str, str]:
    """``REDIS_URL`` for every process, checked: the one Redis setting (endpoints.yml's
    tracker and lock stores read it as it is; so do the channels, the handoff service
    and the action server)."""
    if urlparse(url).scheme not in ("redis", "rediss"):
        raise ValueError(f"REDIS_URL must start with redis://, got {url!r}")
    return {"REDIS_URL": url}


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


@dataclass
class Stack:
    """The assistant's processes, started in order and stopped in reverse.

    Attributes:
        model: a model file or folder of models for the Rasa server.
        redis_url: use this Redis; when None a local one is started in data_dir.
        rasa_port / action_port / handoff_port / workbench_port: HTTP ports of the servers
            (the workbench, ``python -m workbench``, is started by ``make run`` only).
            ``rasa_port`` is the public one: a single Rasa server's, or HAProxy's in
            front of ``workers`` Rasa servers (``rasa_url``).
        data_dir: where a local Redis keeps its append-only file.
        log_dir: each service's output goes to <service>.log here (None: inherit).
        workers / worker_ports / fixed_ports / run_dir: see the comments below.
        processes / services: what was started, in order (``services`` names them).
    """

    model: Path = ROOT / "models"
    redis_url: Optional[str] = None
    rasa_port: int = 5005
    action_port: int = 5055
    handoff_port: int = 5080
    workbench_port: int = 5090
    data_dir: Path = ROOT / "data" / "redis"
    log_dir: Optional[Path] = None
    # Rasa server processes; above 1 they listen on worker_ports behind HAProxy on rasa_port
    workers: int = 1
    # loopback ports of the workers (workers > 1); empty: rasa_port + 1, + 2, … with
    # fixed_ports (make run: 5006, 5007, …), else free ports
    worker_ports: List[int] = field(default_factory=list)
    # make run: a busy port always stops the start. Otherwise (tests, benchmarks) the
    # services whose port nobody pinned (Redis, fake WhatsApp, handoff, workbench,
    # workers) move to a free port; Rasa's and the action server's ports never move.
    fixed_ports: bool = False
    run_dir: Path = RUN_DIR
    processes: List[subprocess.Popen] = field(default_factory=list)
    services: List[Service] = field(default_factory=list)
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

    # port -> the service it is planned for (every port checked before it is used)
    _planned: Dict[int, str] = field(default_factory=dict, repr=False, init=False)

    @property
    def fake_whatsapp_url(self) -> Optional[str]:
        """Base URL of the fake Graph API (``/_requests`` lists what it was sent)."""
        return f"http://127.0.0.1:{self.fake_whatsapp_port}" if self.fake_whatsapp_port else None

    @property
    def rasa_url(self) -> str:
        """The public Rasa URL (HAProxy's with several workers) that every client uses."""
        return f"http://127.0.0.1:{self.rasa_port}"

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
        env.setdefault("RASA_URL", self.rasa_url)
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
        return self._api_url(self.rasa_port, path)

    def _api_url(self, port: int, path: str) -> str:
        separator = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{port}{path}{separator}token={quote(self.rasa_token, safe='')}"

    # ------------------------------------------------------------------ ports
    def _free_port(self) -> int:
        while True:
            port = redis_server.free_port()
            if port not in self._planned:
                return port

    def _reserve(self, service: str, port: int, movable: bool, hint: str = "") -> int:
        """The port ``service`` will listen on: ``port`` when nobody holds it.

        A held port moves to a free one when the service may move (never with
        ``fixed_ports``); otherwise :class:`PortBusy` names the process holding it.
        """
        planned_for = self._planned.get(port)
        clash = planned_for not in (None, service)
        if clash or ports.in_use(port):
            if not (movable and not self.fixed_ports):
                if clash:
                    raise ValueError(f"port {port} is set for both {planned_for} and {service}")
                ports.require_free(service, port, hint)
            port = self._free_port()
        self._planned = {p: s for p, s in self._planned.items() if s != service}
        self._planned[port] = service
        return port

    def _redis_port(self) -> int:
        return self._reserve(
            "redis", self._planned_port("redis") or int(os.environ.get("REDIS_PORT", "6379")), movable=True,
            hint="set REDIS_PORT to a free port, or REDIS_URL to use a Redis of your own",
        )

    def _fake_whatsapp_port(self) -> int:
        # a fixed port, so `make eval-conversations` finds it
        return self._reserve(
            "fake-whatsapp", self._planned_port("fake-whatsapp") or int(os.environ.get("FAKE_WHATSAPP_PORT", "5089")),
            movable=True, hint="set FAKE_WHATSAPP_PORT to a free port",
        )

    def _planned_port(self, service: str) -> Optional[int]:
        return next((port for port, name in self._planned.items() if name == service), None)

    def _rasa_ports(self) -> List[int]:
        """Reserve the public Rasa port and, with several workers, theirs (kept in worker_ports)."""
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        self._reserve("rasa", self.rasa_port, movable=False)
        if self.workers == 1:
            return [self.rasa_port]
        wanted = self.worker_ports or (
            [self.rasa_port + number for number in range(1, self.workers + 1)] if self.fixed_ports
            # a test's rasa_port is in the ephemeral range, where its neighbours are the
            # very ports the kernel hands to outgoing connections meanwhile
            else [self._free_port() for _ in range(self.workers)]
        )
        if len(wanted) != self.workers:
            raise ValueError(f"{self.workers} workers need {self.workers} worker_ports, got {wanted}")
        self.worker_ports = [self._reserve(f"rasa-{number}", port, movable=True) for number, port in enumerate(wanted, start=1)]
        return self.worker_ports

    def reserve_ports(self, services: Iterable[str]) -> None:
        """Check the port of every named service before any of them starts.

        Args:
            services: names among ``redis``, ``fake-whatsapp``, ``handoff``, ``actions``,
                ``rasa`` (with its workers) and ``workbench``. Redis counts only when
                the stack starts its own, the fake WhatsApp only without a real one.

        Raises:
            PortBusy: a port is held and may not move; its holder is named.
        """
        for service in services:
            if service == "redis" and not self.redis_url:
                self._redis_port()
            elif service == "fake-whatsapp" and not os.environ.get("WHATSAPP_ACCESS_TOKEN"):
                self._fake_whatsapp_port()
            elif service == "handoff":
                self.handoff_port = self._reserve("handoff", self.handoff_port, movable=True)
            elif service == "workbench":
                self.pick_workbench_port()
            elif service == "actions":
                self._reserve("actions", self.action_port, movable=False)
            elif service == "rasa":
                self._rasa_ports()
            elif service not in ("redis", "fake-whatsapp"):
                raise ValueError(f"unknown service {service!r}")

    # --------------------------------------------------------------- processes
    def _register(self, name: str, proc: subprocess.Popen, log: Optional[Path] = None) -> Service:
        service = Service(name, proc, log)
        self.processes.append(proc)
        self.services.append(service)
        return service

    def _spawn(self, name: str, cmd: List[str], extra_env: Optional[Dict[str, str]] = None) -> Service:
        out, log = None, None
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log = self.log_dir / f"{name}.log"
            out = open(log, "ab")
        # its own process group, so Ctrl-C in `make run` reaches us first and we
        # stop children in order instead of all at once
        env = {**self.env(), **(extra_env or {})}
        try:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            if out is not None:
                out.close()  # the child has its own copy
        return self._register(name, proc, log)

    def start_redis(self) -> None:
        if self.redis_url:
            return
        port = self._redis_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # requirepass goes to Redis on its stdin, never its command line; every
        # client gets the password inside REDIS_URL (endpoints.yml: REDIS_PASSWORD)
        self._register("redis", redis_server.start(port, self.data_dir, self.redis_password))
        self.redis_url = f"redis://:{quote(self.redis_password, safe='')}@127.0.0.1:{port}/0"

    def start_fake_whatsapp(self, timeout: float = 30) -> None:
        """Start the fake Graph API unless WhatsApp is configured (``WHATSAPP_ACCESS_TOKEN``).

        Only on this machine (loopback): it stands in for Meta so that the demo's
        verification codes have somewhere to go.
        """
        if os.environ.get("WHATSAPP_ACCESS_TOKEN"):
            return
        port = self._fake_whatsapp_port()
        service = self._spawn("fake-whatsapp", [self.python, "-m", "scripts.fake_graph_api", "--port", str(port)])
        wait_ready(service, f"http://127.0.0.1:{port}/_requests", timeout)
        self.fake_whatsapp_port = port

    def start_handoff(self, timeout: float = 60) -> None:
        # another run (or a test session) may hold the port; the URLs printed follow it
        self.handoff_port = self._reserve("handoff", self.handoff_port, movable=True)
        service = self._spawn("handoff", [self.python, "-m", "handoff"])
        wait_ready(service, f"http://127.0.0.1:{self.handoff_port}/health", timeout)

    def pick_workbench_port(self) -> None:
        """Settle the workbench's port before the handoff service starts, so the demo
        page links to the right one."""
        self.workbench_port = self._reserve("workbench", self.workbench_port, movable=True)

    def start_workbench(self, timeout: float = 60) -> None:
        """The trainer workbench (``python -m workbench``): its own process, on loopback."""
        self.pick_workbench_port()
        service = self._spawn("workbench", [self.python, "-m", "workbench", "serve"])
        wait_ready(service, f"http://127.0.0.1:{self.workbench_port}/health", timeout)

    def start_actions(self, timeout: float = 60) -> None:
        self._reserve("actions", self.action_port, movable=False)
        # loopback only, and every call but /health needs ACTION_SERVER_TOKEN (from env())
        service = self._spawn("actions", [self.python, "-m", "scripts.action_server", "--actions", "actions", "--port", str(self.action_port)])
        wait_ready(service, f"http://127.0.0.1:{self.action_port}/health", timeout)

    def _rasa_command(self, port: int, interface: Optional[str] = None) -> List[str]:
        # scripts.rasa_run adds `--auth-token $RASA_TOKEN` inside the process, so the
        # token is required on the API but never on the command line
        cmd = [
            self.python, "-m", "scripts.rasa_run", "run",
            "--model", str(self.model),
            "--port", str(port),
            "--endpoints", "endpoints.yml",
            "--credentials", "credentials.yml",
            "--enable-api",
            "--cors", os.environ.get("CORS_ORIGINS", "http://localhost:5005"),
        ]
        return cmd + (["--interface", interface] if interface else [])

    def start_rasa(self, timeout: float = 180) -> None:
        """One Rasa server on ``rasa_port``, or ``workers`` of them behind HAProxy there."""
        worker_ports = self._rasa_ports()
        # the stack starts with the model it names, not one a trainer loaded last time
        model_sync.forget(self.redis_url or "redis://localhost:6379/0")
        if self.workers == 1:
            service = self._spawn("rasa", self._rasa_command(self.rasa_port))
            wait_ready(service, self.api_url("/status"), timeout)
            return
        # loopback only: the proxy is the way in. It adds X-Forwarded-For, which Sanic
        # trusts for one hop, so the channels' per-address limits see the customer's
        # address instead of the proxy's.
        started = [
            self._spawn(f"rasa-{number}", self._rasa_command(port, interface="127.0.0.1"), {"SANIC_PROXIES_COUNT": "1"})
            for number, port in enumerate(worker_ports, start=1)
        ]
        for service, port in zip(started, worker_ports, strict=True):
            wait_ready(service, self._api_url(port, "/status"), timeout)
        self.start_proxy()

    def start_proxy(self, timeout: float = 30) -> None:
        """HAProxy on ``rasa_port`` in front of the workers (config in ``run_dir``)."""
        config = haproxy.write_config(self.run_dir / f"haproxy-{self.rasa_port}.cfg", self.rasa_port, self.worker_ports)
        service = self._spawn("haproxy", haproxy.command(config))
        wait_ready(service, self.api_url("/status"), timeout)

    def start(self) -> None:
        """Redis, the fake WhatsApp, handoff, actions and Rasa; on any failure nothing stays up."""
        try:
            self.reserve_ports(["redis", "fake-whatsapp", "handoff", "actions", "rasa"])
            self.start_redis()
            self.start_fake_whatsapp()
            self.start_handoff()
            self.start_actions()
            self.start_rasa()
        except BaseException:
            self.stop()
            raise

    def _supervised(self) -> List[Service]:
        """Every process started, named (one appended to ``processes`` directly included)."""
        named = {id(service.proc) for service in self.services}
        return self.services + [Service(f"process {proc.pid}", proc) for proc in self.processes if id(proc) not in named]

    def supervise(self, poll_seconds: float = 1.0, timeout: Optional[float] = None) -> Optional[ServiceDied]:
        """Block until a service exits, then stop all the others.

        Args:
            poll_seconds: how often the processes are looked at.
            timeout: give up after this many seconds (None: never).

        Returns:
            The death (which service, its exit status and last log lines), or None
            when ``timeout`` passed with every service running.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while (dead := first_dead(self._supervised())) is None:
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(poll_seconds)
        died = ServiceDied(dead)
        self.stop()
        return died

    def stop(self) -> None:
        stop_all(reversed(self.processes))
        self.processes.clear()
        self.services.clear()
        self._planned.clear()


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run the assistant locally.")
    parser.add_argument("mode", choices=["run", "shell"])
    parser.add_argument("--model", type=Path, default=ROOT / "models")
    parser.add_argument("--workers", type=_positive, default=1, help="Rasa processes behind HAProxy on port 5005 (run only)")
    args = parser.parse_args(argv)
    # A supervisor (systemd, docker, `kill`) stops us with SIGTERM: treat it like
    # Ctrl-C so the children, which run in their own sessions, are stopped too. SIGINT
    # explicitly as well: a shell starting us in the background (`make run &` in a
    # script) leaves SIGINT ignored, and `kill -INT` would then do nothing.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # every local secret generated once into .env.local (0600, git-ignored) and reused;
    # values already in the environment win. Children get them through the environment.
    values, written = secrets_file.load_or_create(SECRETS_FILE)
    os.environ.update(values)
    print(f"Secrets          {SECRETS_FILE}  ({'generated' if written else 'reused'}; the environment wins)", flush=True)
    workers = args.workers if args.mode == "run" else 1
    stack = Stack(model=args.model, redis_url=os.environ.get("REDIS_URL") or None, log_dir=ROOT / "data" / "logs",
                  workers=workers, fixed_ports=True)
    try:
        # every port first: a stale process of an earlier run stops us before anything starts
        needed = ["redis", "fake-whatsapp", "handoff", "actions", "rasa", "workbench"] if args.mode == "run" else ["redis", "fake-whatsapp", "actions", "rasa"]
        stack.reserve_ports(needed)
        stack.start_redis()
        shown = re.sub(r"//[^@/]*@", "//:<REDIS_PASSWORD>@", stack.redis_url or "")
        print(f"Redis            {shown}  (append-only files in {stack.data_dir})", flush=True)
        # before the other services: their environment points WhatsApp at it
        stack.start_fake_whatsapp()
        if args.mode == "run":
            stack.start_handoff()
            print(f"Handoff service  http://localhost:{stack.handoff_port}/health", flush=True)
        stack.start_actions()
        print(f"Action server    http://localhost:{stack.action_port}/health", flush=True)
        if args.mode == "shell":
            shell = [stack.python, "-m", "rasa", "shell", "--model", str(args.model), "--endpoints", "endpoints.yml", "--port", str(stack.rasa_port)]
            return subprocess.call(shell, cwd=ROOT, env=stack.env())
        stack.start_rasa()
        stack.start_workbench()
        _print_urls(stack)
        died = stack.supervise()
        print(f"\n{died}\nThe other services were stopped.", file=sys.stderr, flush=True)
        return 1
    except (PortBusy, ServiceDied, FileNotFoundError) as error:
        # what went wrong is the whole message: no traceback to read through
        print(f"\nmake run stopped: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


def _print_urls(stack: Stack) -> None:
    """Every URL of a running ``make run`` stack."""
    if stack.workers > 1:
        workers = ", ".join(f"127.0.0.1:{port}" for port in stack.worker_ports)
        print(f"Rasa workers     {stack.workers} on loopback ({workers}), behind HAProxy on :{stack.rasa_port}; "
              f"config {stack.run_dir / f'haproxy-{stack.rasa_port}.cfg'}", flush=True)
    print(f"Rasa server      http://localhost:{stack.rasa_port}/status?token=<RASA_TOKEN from {SECRETS_FILE.name}>", flush=True)
    print(f"Web chat         http://localhost:{stack.rasa_port}/webhooks/webchat/static/demo.html  (WebSocket /webhooks/webchat/socket)", flush=True)
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
    print(f"Logs in {stack.log_dir}. Ctrl-C stops everything; so does any service that stops.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
