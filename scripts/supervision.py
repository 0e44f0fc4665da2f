"""Running the stack's programs: under supervisord for ``make run``, as plain children elsewhere.

Each service of the stack is a :class:`Program` (its command, the environment it adds,
its health check), built once by ``scripts/stack.py`` and started one of two ways:

* ``make run``: :class:`Supervisord` writes a supervisord configuration with one
  ``[program:x]`` per service into the run folder (``.run/``) and runs ``supervisord``
  as its child. supervisord restarts a program that exits (``autorestart``); one that
  cannot start (``FATAL`` after ``startretries``) ends the run, and the message names
  it, its exit status and the last lines of its log. It is controlled over a Unix
  socket (mode 0700, no TCP port) with its XML-RPC API, also for ``supervisorctl``.
* tests, benchmarks and ``make shell``: a child process per program (:class:`Service`),
  started and waited for with :func:`wait_ready`, stopped with :func:`stop_all`; no
  supervision, the caller stops them.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence
from urllib.parse import urlparse

TAIL_LINES = 15
# tries supervisord gives a program that exits during its startsecs before FATAL
START_RETRIES = 2
# seconds supervisord waits after SIGTERM before SIGKILL (per program)
STOP_WAIT_SECONDS = 15
# longest path of a Unix socket (sun_path holds 108 bytes with its NUL)
_MAX_SOCKET_PATH = 107


@dataclass
class Program:
    """One service of the stack, however it is started.

    Attributes:
        name: what the messages and logs call it (``redis``, ``rasa-2`` …).
        command: its command line (run from the repository root).
        health: ``http://…`` (must answer 200; a ``?token=`` is never shown) or
            ``tcp://host:port`` (must accept connections).
        env: variables it gets on top of the stack's environment (no secrets: they are
            written into supervisord's configuration).
        secret_env: secret variables it needs on top of the stack's environment; they
            reach supervisord through its own environment, never a file.
        timeout: seconds it may take to answer ``health``.
        startsecs: seconds it must stay up for supervisord to count it started.
        before: called just before it is started by the stack (not on a restart).
    """

    name: str
    command: List[str]
    health: str
    env: Dict[str, str] = field(default_factory=dict)
    secret_env: Dict[str, str] = field(default_factory=dict)
    timeout: float = 60
    startsecs: int = 3
    before: Optional[Callable[[], None]] = None


def tail(log: Optional[Path], lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of ``log`` ('' when there is none)."""
    if log is None or not log.exists():
        return ""
    with open(log, "rb") as handle:
        handle.seek(0, 2)
        # enough bytes for the last lines of a Python traceback
        handle.seek(max(0, handle.tell() - 64 * 1024))
        text = handle.read().decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Service:
    """One program started as a plain child process (tests, benchmarks, ``make shell``).

    Attributes:
        name: what the messages call it.
        proc: the process.
        log: the file its output goes to; None when it inherits ours (or discards it).
    """

    name: str
    proc: subprocess.Popen
    log: Optional[Path] = None

    def tail(self, lines: int = TAIL_LINES) -> str:
        """The last ``lines`` lines of its log ('' when there is none)."""
        return tail(self.log, lines)


def describe_exit(code: int) -> str:
    """``exit code 3`` or ``killed by SIGKILL`` for a Popen ``returncode``."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class ServiceDied(RuntimeError):
    """A service of the stack exited (or never became ready).

    Attributes:
        service: its name.
        returncode: the exit status (negative: the signal), None when it did not exit
            but failed to answer in time, or the signal is unknown.
        tail: the last lines of its log.
    """

    def __init__(self, service: str, returncode: Optional[int], log: Optional[Path], reason: Optional[str] = None) -> None:
        self.service = service
        self.returncode = returncode
        self.tail = tail(log)
        what = reason or (describe_exit(returncode) if returncode is not None else "no exit status")
        where = f"; the last lines of {log}:\n{self.tail}" if self.tail else (f" (log: {log})" if log else "")
        super().__init__(f"{service} stopped: {what}{where}")

    @classmethod
    def of(cls, service: Service, reason: Optional[str] = None) -> ServiceDied:
        """The death of a plain child process."""
        return cls(service.name, service.proc.poll(), service.log, reason)


def answers(health: str) -> bool:
    """True when ``health`` (``http://…``: status 200; ``tcp://host:port``: a connection) answers now."""
    where = urlparse(health)
    if where.scheme == "tcp":
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex((where.hostname or "127.0.0.1", where.port or 0)) == 0
    try:
        with urllib.request.urlopen(health, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, OSError):
        return False


def _shown(health: str) -> str:
    """``health`` without its query string, which may carry ``?token=``."""
    return health.split("?")[0]


def wait_http(url: str, timeout: float, proc: Optional[subprocess.Popen] = None) -> None:
    """Wait until ``url`` answers (see :func:`answers`), failing early if ``proc`` dies.

    Raises:
        RuntimeError: ``proc`` exited.
        TimeoutError: no answer within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {_shown(url)} exited with code {proc.returncode}")
        if answers(url):
            return
        time.sleep(0.5)
    raise TimeoutError(f"{_shown(url)} did not answer within {timeout:.0f}s")


def wait_ready(service: Service, health: str, timeout: float) -> None:
    """:func:`wait_http` for a child process: its death or silence names it.

    Raises:
        ServiceDied: the process exited, or ``health`` did not answer within ``timeout``.
    """
    try:
        wait_http(health, timeout, service.proc)
    except RuntimeError:
        raise ServiceDied.of(service) from None
    except TimeoutError:
        raise ServiceDied.of(service, f"did not answer {_shown(health)} within {timeout:.0f}s") from None


def stop_all(processes: Iterable[subprocess.Popen], grace_seconds: float = 15) -> None:
    """SIGTERM to every running process (in the order given), then wait; SIGKILL the slow."""
    processes = list(processes)
    for proc in processes:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in processes:
        try:
            proc.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------- supervisord
def _value(text: str) -> str:
    """``text`` as a supervisord configuration value: ``%`` doubled, nothing read as a comment."""
    if any(bad in text for bad in ("\n", "\r", " ;", " #", "\t;", "\t#")):
        raise ValueError(f"cannot write {text!r} into supervisord's configuration")
    return text.replace("%", "%%")


def _environment(env: Dict[str, str]) -> str:
    """supervisord's ``environment=`` line (``KEY="value",…``); plain values only."""
    for key, value in env.items():
        if not key.isidentifier() or any(ch in value for ch in "\"',\\%"):
            raise ValueError(f"{key}={value!r} cannot go into supervisord's environment= (use secret_env)")
    return ",".join(f'{key}="{value}"' for key, value in env.items())


def rpc_client(sock: Path) -> Any:
    """supervisord's XML-RPC API (``.supervisor.getAllProcessInfo()`` …) over its Unix socket."""
    from supervisor.xmlrpc import SupervisorTransport

    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=SupervisorTransport(None, None, serverurl=f"unix://{sock}"))


class Supervisord:
    """One supervisord running the stack's programs (``make run``).

    The configuration (``<run_dir>/supervisord.conf``, mode 0600) has one
    ``[program:x]`` per program, not started by supervisord itself (``autostart=false``):
    :meth:`launch` starts them in order and waits for each one's health, as the
    services need each other. Priorities follow that order, so supervisord stops them
    in reverse. Every program restarts when it exits (``autorestart``); after
    ``startretries`` failed starts it is ``FATAL`` and :meth:`watch` reports it.

    Args:
        run_dir: where the configuration, the socket and the pid file go.
        log_dir: ``<program>.log`` of each program and ``supervisord.log``.
        steps: the programs, in start order; the programs of one step start together
            (several Rasa workers) and are waited for before the next step.
        env: the programs' common environment: supervisord's own, inherited by each.
        directory: the programs' working directory.
    """

    def __init__(self, run_dir: Path, log_dir: Path, steps: Sequence[Sequence[Program]], env: Dict[str, str],
                 directory: Path) -> None:
        self.run_dir, self.log_dir, self.directory = run_dir, log_dir, directory
        self.steps = [list(step) for step in steps]
        self.programs = [program for step in self.steps for program in step]
        names = [program.name for program in self.programs]
        if len(set(names)) != len(names):
            raise ValueError(f"two programs share a name: {names}")
        self.env = dict(env)
        for program in self.programs:
            for key, value in program.secret_env.items():
                if self.env.setdefault(key, value) != value:
                    raise ValueError(f"{program.name} needs its own {key}, which supervisord cannot pass on")
        self.config = run_dir / "supervisord.conf"
        self.socket = run_dir / "supervisord.sock"
        if len(os.fsencode(self.socket)) > _MAX_SOCKET_PATH:
            raise ValueError(f"the path of supervisord's socket is too long for a Unix socket: {self.socket}")
        self.proc: Optional[subprocess.Popen] = None
        self._rpc: Any = None

    def log_of(self, name: str) -> Path:
        """The log file of program ``name`` (``supervisord`` for supervisord's own)."""
        return self.log_dir / f"{name}.log"

    def config_text(self) -> str:
        """The configuration: supervisord in the foreground, a 0700 Unix socket, the programs."""
        lines = [
            "; Generated by scripts/stack.py at every start of make run; edits are lost.",
            "; The programs' common environment (secrets included) is supervisord's own, not in this file.",
            "; make run starts the programs in priority order, each once the one before answers",
            "; (autostart=false); supervisord restarts one that exits and stops them in reverse order.",
            "[supervisord]",
            "nodaemon=true",
            # its log goes to the file only, not to make run's terminal
            "silent=true",
            f"logfile={_value(str(self.log_of('supervisord')))}",
            f"pidfile={_value(str(self.run_dir / 'supervisord.pid'))}",
            f"childlogdir={_value(str(self.log_dir))}",
            f"directory={_value(str(self.directory))}",
            "",
            # no [inet_http_server]: never a TCP port
            "[unix_http_server]",
            f"file={_value(str(self.socket))}",
            "chmod=0700",
            "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "",
            "[supervisorctl]",
            f"serverurl=unix://{_value(str(self.socket))}",
        ]
        for priority, step in enumerate(self.steps, start=1):
            for program in step:
                lines += [
                    "",
                    f"[program:{program.name}]",
                    f"command={_value(shlex.join(program.command))}",
                    f"directory={_value(str(self.directory))}",
                    f"priority={priority * 10}",
                    "autostart=false",
                    "autorestart=true",
                    f"startsecs={program.startsecs}",
                    f"startretries={START_RETRIES}",
                    f"stopwaitsecs={STOP_WAIT_SECONDS}",
                    # the whole process group: a program's own children go too
                    "stopasgroup=true",
                    "killasgroup=true",
                    f"stdout_logfile={_value(str(self.log_of(program.name)))}",
                    "redirect_stderr=true",
                ]
                if program.env:
                    lines.append(f"environment={_environment(program.env)}")
        return "\n".join(lines) + "\n"

    def write_config(self) -> Path:
        """Write :meth:`config_text` (mode 0600, its folder 0700 when created) and return its path."""
        self.run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(self.config_text())
        return self.config

    @property
    def rpc(self) -> Any:
        """supervisord's XML-RPC namespace ``supervisor``."""
        if self._rpc is None:
            self._rpc = rpc_client(self.socket)
        return self._rpc.supervisor

    def start(self, timeout: float = 30) -> None:
        """Write the configuration and run ``supervisord -n -c <conf>``; return once it answers.

        Raises:
            ServiceDied: supervisord exited or did not answer within ``timeout``.
        """
        self.write_config()
        # a session of its own: Ctrl-C reaches make run, which stops supervisord in order
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(self.config)],
            env=self.env, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise ServiceDied("supervisord", self.proc.returncode, self.log_of("supervisord"))
            try:
                if self.rpc.getState()["statename"] == "RUNNING":
                    return
            except (OSError, xmlrpc.client.Error):
                self._rpc = None
            if time.monotonic() >= deadline:
                raise ServiceDied("supervisord", None, self.log_of("supervisord"), f"did not answer on {self.socket} within {timeout:.0f}s")
            time.sleep(0.2)

    def launch(self, step: Sequence[Program]) -> None:
        """Start the programs of one step, then wait until each one answers its health
        check and has stayed up its ``startsecs``.

        Raises:
            ServiceDied: a program went FATAL, or did not answer in time.
        """
        for program in step:
            if program.before is not None:
                program.before()
            self.rpc.startProcess(program.name, False)
        for program in step:
            timeout = program.timeout
            deadline = time.monotonic() + timeout
            # up: it answers, and has stayed up its startsecs (supervisord's RUNNING)
            while not (answers(program.health) and self.state(program.name) == "RUNNING"):
                died = self.first_failed()
                if died is not None:
                    raise died
                if time.monotonic() >= deadline:
                    raise ServiceDied(program.name, None, self.log_of(program.name),
                                      f"did not answer {_shown(program.health)} within {timeout:.0f}s")
                time.sleep(0.5)

    def info(self) -> List[Dict[str, Any]]:
        """supervisord's ``getAllProcessInfo``: each program's ``statename``, ``pid``, ``exitstatus`` …"""
        return list(self.rpc.getAllProcessInfo())

    def state(self, name: str) -> str:
        """supervisord's state of program ``name`` (``STARTING``, ``RUNNING``, ``BACKOFF``, ``FATAL`` …)."""
        return str(self.rpc.getProcessInfo(name)["statename"])

    def pids(self) -> Dict[str, int]:
        """Each program's pid (0 while it is not running)."""
        return {entry["name"]: int(entry["pid"]) for entry in self.info()}

    def first_failed(self) -> Optional[ServiceDied]:
        """The first program that supervisord gave up on (``FATAL``), or supervisord's own
        exit; None while all is well."""
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            return ServiceDied("supervisord", code, self.log_of("supervisord"))
        try:
            entries = self.info()
        except (OSError, xmlrpc.client.Error):
            if self.proc.poll() is None:
                raise
            return self.first_failed()
        for entry in entries:
            if entry["statename"] == "FATAL":
                name = entry["name"]
                code = self.last_exit(name)
                # no exit status: it could not even be run ("can't find command …")
                reason = describe_exit(code) if code is not None else (entry["spawnerr"] or "no exit status")
                return ServiceDied(name, code, self.log_of(name), f"{reason}, and it could not be restarted ({START_RETRIES + 1} tries)")
        return None

    def last_exit(self, name: str) -> Optional[int]:
        """How program ``name`` last exited, as a Popen ``returncode`` (negative: the signal).

        From supervisord's log (``exited: name (exit status 2; not expected)``): the API
        forgets the status of a program that exits during its ``startsecs``.
        """
        pattern = re.compile(rf"exited: {re.escape(name)} \((?:exit status (\d+)|terminated by (SIG\w+))")
        for line in reversed(tail(self.log_of("supervisord"), 1000).splitlines()):
            found = pattern.search(line)
            if found and found.group(1) is not None:
                return int(found.group(1))
            if found and found.group(2) in signal.Signals.__members__:
                return -signal.Signals[found.group(2)].value
        return None

    def watch(self, poll_seconds: float = 1.0) -> ServiceDied:
        """Block until a program cannot be restarted (or supervisord exits); return what died."""
        while (died := self.first_failed()) is None:
            time.sleep(poll_seconds)
        return died

    def stop(self, timeout: float = 120) -> None:
        """SIGTERM to supervisord, which stops every program (last started first), then exits.

        When supervisord itself does not exit within ``timeout``, it is killed, and so is
        the process group of each program it was running.
        """
        if self.proc is None:
            return
        try:
            pids = [pid for pid in self.pids().values() if pid] if self.proc.poll() is None else []
        except (OSError, xmlrpc.client.Error):
            pids = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            for pid in pids:  # each program leads its own process group
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
        self._rpc = None
