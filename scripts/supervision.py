"""Supervising the stack's processes: a service that dies is named, with its last words.

``scripts/stack.py`` starts each service as a child process in a session of its own.
When one of them exits (during start or later), nothing must keep running silently:
the stack stops all the others and reports which one died, its exit code and the last
lines of its log. This module holds those parts; the stack decides when to use them.
"""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

TAIL_LINES = 15


@dataclass
class Service:
    """One supervised child process.

    Attributes:
        name: what the messages call it (``redis``, ``rasa-2`` …).
        proc: the process.
        log: the file its output goes to; None when it inherits ours (or discards it).
    """

    name: str
    proc: subprocess.Popen
    log: Optional[Path] = None

    def tail(self, lines: int = TAIL_LINES) -> str:
        """The last ``lines`` lines of its log ('' when there is none)."""
        if self.log is None or not self.log.exists():
            return ""
        with open(self.log, "rb") as handle:
            handle.seek(0, 2)
            # enough bytes for the last lines of a Python traceback
            handle.seek(max(0, handle.tell() - 64 * 1024))
            text = handle.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])


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
            but failed to answer in time.
        tail: the last lines of its log.
    """

    def __init__(self, service: Service, reason: Optional[str] = None) -> None:
        self.service = service.name
        self.returncode = service.proc.poll()
        self.tail = service.tail()
        what = reason or (describe_exit(self.returncode) if self.returncode is not None else "no exit status")
        where = f"; the last lines of {service.log}:\n{self.tail}" if self.tail else (f" (log: {service.log})" if service.log else "")
        super().__init__(f"{service.name} stopped: {what}{where}")


def first_dead(services: Iterable[Service]) -> Optional[Service]:
    """The first service whose process has exited, or None while all run."""
    return next((service for service in services if service.proc.poll() is not None), None)


def wait_http(url: str, timeout: float, proc: Optional[subprocess.Popen] = None) -> None:
    """Wait until ``url`` answers 200, failing early if ``proc`` dies.

    Raises:
        RuntimeError: ``proc`` exited.
        TimeoutError: no 200 within ``timeout`` seconds.
    """
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


def wait_ready(service: Service, url: str, timeout: float) -> None:
    """:func:`wait_http` for a supervised service: its death or silence names it.

    Raises:
        ServiceDied: the process exited, or ``url`` did not answer within ``timeout``.
    """
    try:
        wait_http(url, timeout, service.proc)
    except RuntimeError:
        raise ServiceDied(service) from None
    except TimeoutError:
        # never the query string: it may carry ?token=
        raise ServiceDied(service, f"did not answer {url.split('?')[0]} within {timeout:.0f}s") from None


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
