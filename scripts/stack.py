"""Start the whole assistant: Redis, the handoff service, the action server, Rasa and the trainer workbench.

``make run`` and ``make shell`` use this module, and so do the integration tests,
so the services always start the same way: each service's command, environment and
health check is defined once here, as a :class:`scripts.supervision.Program`.

With ``--workers N`` (``make run WORKERS=N``) N Rasa processes listen on loopback
(5006, 5007, …) behind HAProxy on the public Rasa port (5005); they share Redis, whose
lock store orders each conversation's messages whichever worker takes them.

Every port is checked before anything starts: a port held by another process (a stale
server of an earlier run) stops the start with the holder's pid and command line
(``scripts/ports.py``), so a stale process never answers a health check.

``make run`` (:func:`serve`) runs the services under supervisord: the configuration
goes to ``.run/supervisord.conf``, supervisord runs as this process's child and starts
each service in order, waiting for its health check. A service that exits is restarted
by supervisord; one that cannot be started again (or never becomes healthy) stops
everything, and the message names it, its exit status and its last log lines. Ctrl-C
or SIGTERM stops supervisord, which stops every service. ``make shell``, the tests and
the benchmarks start the services as plain child processes (``Stack.start_*``), which
the caller stops.

Usage:
    python -m scripts.stack run [--workers N]   # every service under supervisord; Ctrl-C stops them
    python -m scripts.stack shell               # Redis + actions, then `rasa shell` in this terminal
    supervisorctl -c .run/supervisord.conf status   # while make run runs: each service's state and pid
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence
from urllib.parse import quote, urlparse

from bot import model_sync
from scripts import haproxy, ports, redis_server, secrets_file
from scripts.supervision import Program, Service, ServiceDied, Supervisord, stop_all, wait_http, wait_ready

__all__ = ["ROOT", "PortBusy", "ServiceDied", "Stack", "redis_env", "retention_env", "serve", "wait_http"]
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
        processes / services: the child processes ``start_*`` started, in order
            (``services`` names them).
        supervisor: the supervisord of :meth:`start_supervised` (``make run``), if any.
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
    # generated files: HAProxy's and supervisord's configuration, supervisord's socket
    run_dir: Path = RUN_DIR
    processes: List[subprocess.Popen] = field(default_factory=list)
    services: List[Service] = field(default_factory=list)
    supervisor: Optional[Supervisord] = field(default=None, init=False)
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

    # --------------------------------------------------------------- programs
    # Each service's command, environment and health check, defined once for both ways
    # of starting it (start_* below, start_supervised). Building a program reserves its
    # port and settles the address the other services are given.
    def _redis_program(self) -> Program:
        port = self._redis_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # every client gets the password inside REDIS_URL; Redis gets it on its stdin
        # (scripts/redis_server.py), never on its command line
        self.redis_url = f"redis://:{quote(self.redis_password, safe='')}@127.0.0.1:{port}/0"
        return Program(
            "redis", [self.python, "-m", "scripts.redis_server", "--port", str(port), "--dir", str(self.data_dir)],
            health=f"tcp://127.0.0.1:{port}", secret_env={"REDIS_PASSWORD": self.redis_password}, timeout=15, startsecs=1,
        )

    def _fake_whatsapp_program(self) -> Program:
        # the other services' environment points WhatsApp at it (env())
        self.fake_whatsapp_port = port = self._fake_whatsapp_port()
        return Program("fake-whatsapp", [self.python, "-m", "scripts.fake_graph_api", "--port", str(port)],
                       health=f"http://127.0.0.1:{port}/_requests", timeout=30, startsecs=2)

    def _handoff_program(self) -> Program:
        # another run (or a test session) may hold the port; the URLs printed follow it
        self.handoff_port = self._reserve("handoff", self.handoff_port, movable=True)
        return Program("handoff", [self.python, "-m", "handoff"], health=f"http://127.0.0.1:{self.handoff_port}/health")

    def _workbench_program(self) -> Program:
        self.pick_workbench_port()
        return Program("workbench", [self.python, "-m", "workbench", "serve"], health=f"http://127.0.0.1:{self.workbench_port}/health")

    def _actions_program(self) -> Program:
        self._reserve("actions", self.action_port, movable=False)
        # loopback only, and every call but /health needs ACTION_SERVER_TOKEN (from env())
        return Program("actions", [self.python, "-m", "scripts.action_server", "--actions", "actions", "--port", str(self.action_port)],
                       health=f"http://127.0.0.1:{self.action_port}/health")

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

    def _forget_model(self) -> None:
        # the stack starts with the model it names, not one a trainer loaded last time
        # (a worker supervisord restarts on its own still follows the trainer's load)
        model_sync.forget(self.redis_url or "redis://localhost:6379/0")

    def _rasa_steps(self) -> List[List[Program]]:
        """One Rasa server on ``rasa_port``; or ``workers`` of them (started together),
        then HAProxy on ``rasa_port`` in front of them (config in ``run_dir``)."""
        worker_ports = self._rasa_ports()
        # loading a model takes long: up to 180 s to answer; supervisord counts a start
        # that survives 20 s (a bad model or setting fails before)
        if self.workers == 1:
            return [[Program("rasa", self._rasa_command(self.rasa_port), self.api_url("/status"), before=self._forget_model,
                             timeout=180, startsecs=20)]]
        # loopback only: the proxy is the way in. It adds X-Forwarded-For, which Sanic
        # trusts for one hop, so the channels' per-address limits see the customer's
        # address instead of the proxy's.
        workers = [
            Program(f"rasa-{number}", self._rasa_command(port, interface="127.0.0.1"), self._api_url(port, "/status"),
                    env={"SANIC_PROXIES_COUNT": "1"}, before=self._forget_model if number == 1 else None, timeout=180, startsecs=20)
            for number, port in enumerate(worker_ports, start=1)
        ]
        config = haproxy.write_config(self.run_dir / f"haproxy-{self.rasa_port}.cfg", self.rasa_port, self.worker_ports)
        return [workers, [Program("haproxy", haproxy.command(config), self.api_url("/status"), timeout=30, startsecs=1)]]

    def steps(self, services: Iterable[str]) -> List[List[Program]]:
        """The programs of the named services, in start order (see :meth:`reserve_ports`);
        the programs of one step start together."""
        builders: Dict[str, Callable[[], List[List[Program]]]] = {
            "redis": lambda: [] if self.redis_url else [[self._redis_program()]],
            "fake-whatsapp": lambda: [] if os.environ.get("WHATSAPP_ACCESS_TOKEN") else [[self._fake_whatsapp_program()]],
            "handoff": lambda: [[self._handoff_program()]],
            "actions": lambda: [[self._actions_program()]],
            "rasa": self._rasa_steps,
            "workbench": lambda: [[self._workbench_program()]],
        }
        found: List[List[Program]] = []
        for service in services:
            if service not in builders:
                raise ValueError(f"unknown service {service!r}")
            found += builders[service]()
        return found

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
        # its own process group, so Ctrl-C in `make shell` reaches us first and we
        # stop children in order instead of all at once
        env = {**self.env(), **(extra_env or {})}
        try:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            if out is not None:
                out.close()  # the child has its own copy
        return self._register(name, proc, log)

    def _start(self, steps: Sequence[Sequence[Program]], timeout: Optional[float] = None) -> None:
        """Each step's programs as child processes, then wait for each one's health."""
        for step in steps:
            started = []
            for program in step:
                if program.before is not None:
                    program.before()
                started.append((program, self._spawn(program.name, program.command, {**program.env, **program.secret_env})))
            for program, service in started:
                wait_ready(service, program.health, timeout or program.timeout)

    def start_redis(self, timeout: float = 15) -> None:
        """A Redis of the stack's own (with ``redis_password``), unless ``redis_url`` is set."""
        self._start(self.steps(["redis"]), timeout)

    def start_fake_whatsapp(self, timeout: float = 30) -> None:
        """Start the fake Graph API unless WhatsApp is configured (``WHATSAPP_ACCESS_TOKEN``).

        Only on this machine (loopback): it stands in for Meta so that the demo's
        verification codes have somewhere to go.
        """
        self._start(self.steps(["fake-whatsapp"]), timeout)

    def start_handoff(self, timeout: float = 60) -> None:
        self._start(self.steps(["handoff"]), timeout)

    def pick_workbench_port(self) -> None:
        """Settle the workbench's port before the handoff service starts, so the demo
        page links to the right one."""
        self.workbench_port = self._reserve("workbench", self.workbench_port, movable=True)

    def start_workbench(self, timeout: float = 60) -> None:
        """The trainer workbench (``python -m workbench``): its own process, on loopback."""
        self._start(self.steps(["workbench"]), timeout)

    def start_actions(self, timeout: float = 60) -> None:
        self._start(self.steps(["actions"]), timeout)

    def start_rasa(self, timeout: float = 180) -> None:
        """One Rasa server on ``rasa_port``, or ``workers`` of them behind HAProxy there."""
        self._start(self.steps(["rasa"]), timeout)

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

    def start_supervised(self, services: Sequence[str], on_ready: Optional[Callable[[Program], None]] = None) -> Supervisord:
        """The named services under supervisord (``make run``), each started once the
        previous one answers; on any failure nothing stays up.

        Args:
            services: as for :meth:`reserve_ports`, in start order.
            on_ready: called with each program once it answers.

        Returns:
            The running supervisord (also ``self.supervisor``); :meth:`stop` stops it.

        Raises:
            PortBusy: a port is held (nothing was started).
            ServiceDied: a program could not start or did not answer in time.
        """
        try:
            self.reserve_ports(services)
            steps = self.steps(services)
            # the environment once every address is settled; the programs inherit it
            self.supervisor = Supervisord(self.run_dir, self.log_dir or self.run_dir, steps, self.env(), directory=ROOT)
            self.supervisor.start()
            for step in steps:
                self.supervisor.launch(step)
                for program in step:
                    if on_ready is not None:
                        on_ready(program)
            return self.supervisor
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop supervisord (and with it its programs), then the child processes, last first."""
        if self.supervisor is not None:
            self.supervisor.stop()
            self.supervisor = None
        stop_all(reversed(self.processes))
        self.processes.clear()
        self.services.clear()
        self._planned.clear()


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


# the services of `make run`, in start order
RUN_SERVICES = ("redis", "fake-whatsapp", "handoff", "actions", "rasa", "workbench")


def _stop_on_signals() -> None:
    """SIGTERM (systemd, docker, `kill`) as Ctrl-C: KeyboardInterrupt, and the services are stopped.

    SIGINT explicitly as well: a shell starting us in the background (`make run &` in a
    script) leaves SIGINT ignored, and `kill -INT` would then do nothing.
    """
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def serve(stack: Stack, services: Sequence[str] = RUN_SERVICES, announce: Optional[Callable[[Stack], None]] = None) -> int:
    """``make run``: the services under supervisord until Ctrl-C or SIGTERM, or until one
    of them cannot be (re)started.

    Every port is checked first; then supervisord starts each service once the one
    before answers its health check, ``announce`` (default: print every URL) runs, and
    this process stays in the foreground, watching supervisord.

    Returns:
        0 after Ctrl-C or SIGTERM; 1 when a port was busy, or a service could not start,
        did not answer in time or could not be restarted (the message on stderr names it).
    """
    _stop_on_signals()

    def run() -> int:
        supervisor = stack.start_supervised(services, on_ready=_print_ready)
        (announce or _print_urls)(stack)
        died = supervisor.watch()
        stack.stop()
        print(f"\nmake run stopped: {died}\nEvery other service was stopped.", file=sys.stderr, flush=True)
        return 1

    return _until_stopped("make run", stack, run)


def _shell(stack: Stack, model: Path) -> int:
    """``make shell``: Redis, the fake WhatsApp and the action server as child processes,
    then ``rasa shell`` in this terminal."""

    def run() -> int:
        # every port first: a stale process of an earlier run stops us before anything starts
        stack.reserve_ports(["redis", "fake-whatsapp", "actions", "rasa"])
        stack.start_redis()
        print(f"Redis            {_masked(stack.redis_url)}  (append-only files in {stack.data_dir})", flush=True)
        stack.start_fake_whatsapp()
        stack.start_actions()
        print(f"Action server    http://localhost:{stack.action_port}/health", flush=True)
        shell = [stack.python, "-m", "rasa", "shell", "--model", str(model), "--endpoints", "endpoints.yml", "--port", str(stack.rasa_port)]
        return subprocess.call(shell, cwd=ROOT, env=stack.env())

    return _until_stopped("make shell", stack, run)


def _until_stopped(command: str, stack: Stack, run: Callable[[], int]) -> int:
    """``run()``'s exit status; 1 with a one-line reason when a port was busy or a service
    failed, 0 after Ctrl-C or SIGTERM; the stack is stopped whatever happens."""
    try:
        return run()
    except (PortBusy, ServiceDied, FileNotFoundError) as error:
        # what went wrong is the whole message: no traceback to read through
        print(f"\n{command} stopped: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run the assistant locally.")
    parser.add_argument("mode", choices=["run", "shell"])
    parser.add_argument("--model", type=Path, default=ROOT / "models")
    parser.add_argument("--workers", type=_positive, default=1, help="Rasa processes behind HAProxy on port 5005 (run only)")
    args = parser.parse_args(argv)
    _stop_on_signals()
    # every local secret generated once into .env.local (0600, git-ignored) and reused;
    # values already in the environment win. The services get them through the
    # environment (under make run: supervisord's own), never a file of their own.
    values, written = secrets_file.load_or_create(SECRETS_FILE)
    os.environ.update(values)
    print(f"Secrets          {SECRETS_FILE}  ({'generated' if written else 'reused'}; the environment wins)", flush=True)
    workers = args.workers if args.mode == "run" else 1
    stack = Stack(model=args.model, redis_url=os.environ.get("REDIS_URL") or None, log_dir=ROOT / "data" / "logs",
                  workers=workers, fixed_ports=True)
    if args.mode == "shell":
        return _shell(stack, args.model)
    return serve(stack)


def _masked(redis_url: Optional[str]) -> str:
    """A Redis URL without its password."""
    return re.sub(r"//[^@/]*@", "//:<REDIS_PASSWORD>@", redis_url or "")


def _print_ready(program: Program) -> None:
    print(f"{program.name:<16} up  ({program.health.split('?')[0]})", flush=True)


def _print_urls(stack: Stack) -> None:
    """Every URL of a running ``make run`` stack."""
    print(f"Redis            {_masked(stack.redis_url)}  (append-only files in {stack.data_dir})", flush=True)
    if stack.workers > 1:
        workers = ", ".join(f"127.0.0.1:{port}" for port in stack.worker_ports)
        print(f"Rasa workers     {stack.workers} on loopback ({workers}), behind HAProxy on :{stack.rasa_port}; "
              f"config {stack.run_dir / f'haproxy-{stack.rasa_port}.cfg'}", flush=True)
    print(f"Rasa server      http://localhost:{stack.rasa_port}/status?token=<RASA_TOKEN from {SECRETS_FILE.name}>", flush=True)
    print(f"Web chat         http://localhost:{stack.rasa_port}/webhooks/webchat/static/demo.html  (WebSocket /webhooks/webchat/socket)", flush=True)
    print(f"Chat demo        http://localhost:{stack.handoff_port}/", flush=True)
    print(f"Agent console    http://localhost:{stack.handoff_port}/console  (accounts: make agent)", flush=True)
    print(f"Action server    http://localhost:{stack.action_port}/health", flush=True)
    if stack.fake_whatsapp_url:
        print(f"Fake WhatsApp    {stack.fake_whatsapp_url}/_requests  (verification codes of the demo accounts land here)", flush=True)
    print(f"Trainer          http://localhost:{stack.workbench_port}/trainer  (workbench process; accounts: make agent ... --role trainer)", flush=True)
    if stack.supervisor is not None:
        print(f"Supervisor       {Path(sys.executable).parent / 'supervisorctl'} -c {stack.supervisor.config} status", flush=True)
    print("Talk to it:", flush=True)
    print(
        f"  curl -s localhost:{stack.rasa_port}/webhooks/rest/webhook "
        "-d '{\"sender\":\"t1\",\"message\":\"كم فاتورتي هالشهر؟\"}'",
        flush=True,
    )
    print(f"Logs in {stack.log_dir}. A service that exits is restarted; one that cannot be restarted stops everything. "
          "Ctrl-C stops everything.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
