"""Which process holds a TCP port, so that a busy port is reported by name, never reused.

A stale server left on a port (an earlier ``make run`` killed with ``-9``, a test
session that crashed) would otherwise answer the health checks of the stack that
starts next, and every request after them. ``scripts/stack.py`` therefore checks each
port before it starts anything and refuses a busy one with :class:`PortBusy`, which
names the process that holds it.

The holder is found on Linux through ``/proc`` (the listening socket's inode in
``/proc/net/tcp*``, then the process with that socket among its open files); a process
of another user stays unnamed unless we run as root.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import List, Optional, Set

# /proc/net/tcp's state column for a listening socket
_LISTEN = "0A"
_PROC = Path("/proc")


class PortBusy(RuntimeError):
    """A port the stack needs is held by another process.

    Attributes:
        service: the service that needs the port (``rasa``, ``handoff`` …).
        port: the TCP port.
        holder: ``pid <n>: <command line>`` when it could be found, else None.
    """

    def __init__(self, service: str, port: int, holder: Optional[str], hint: str = "") -> None:
        self.service, self.port, self.holder = service, port, holder
        who = holder or "a process this user cannot see (try `ss -ltnp` as root)"
        remedy = hint or "choose another port"
        super().__init__(f"port {port} ({service}) is already in use by {who}. Stop that process, or {remedy}.")


def _listening_inodes(port: int) -> Set[str]:
    """Inodes of the sockets listening on ``port`` (any address, IPv4 or IPv6)."""
    inodes: Set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (_PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            if len(fields) > 9 and fields[3] == _LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _accepts_connections(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def in_use(port: int) -> bool:
    """True when something listens on ``port`` (on any local address)."""
    return bool(_listening_inodes(port)) or _accepts_connections(port)


def _command_line(pid: int) -> str:
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return "?"
    words = [word.decode("utf-8", "replace") for word in raw.split(b"\0") if word]
    text = " ".join(words) or "?"
    return text if len(text) <= 200 else text[:197] + "..."


def holders(port: int) -> List[str]:
    """``pid <n>: <command line>`` of each process listening on ``port`` (may be empty)."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    found: List[str] = []
    if not wanted:
        return found
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:  # the process ended meanwhile, or belongs to another user
            continue
        if links & wanted:
            found.append(f"pid {entry.name}: {_command_line(int(entry.name))}")
    return found


def require_free(service: str, port: int, hint: str = "") -> None:
    """Raise :class:`PortBusy` naming the holder when ``port`` is in use."""
    if in_use(port):
        raise PortBusy(service, port, "; ".join(holders(port)) or None, hint)
