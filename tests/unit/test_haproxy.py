"""The generated HAProxy configuration, run for real in front of two small HTTP servers.

Rasa workers take a minute to load; the balancing, health checks, failover and the
stats socket are the proxy's own behaviour, so two ``http.server`` processes stand in
for them here (tests/integration/test_workers.py runs the real thing).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, List

import pytest
import requests

from scripts import haproxy, redis_server
from scripts.supervision import stop_all, wait_http

try:
    haproxy.find_haproxy()
except FileNotFoundError:  # .ci/run installs it; a bare developer machine may lack it
    pytest.skip("haproxy is not installed (apt-get install haproxy)", allow_module_level=True)


def _backend(folder: Path, name: str) -> tuple:
    folder.mkdir()
    (folder / "who").write_text(name)
    (folder / "index.html").write_text("ok")
    port = redis_server.free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}/who", 20, proc)
    return port, proc


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple]:
    """HAProxy on a free port in front of two backends; (public port, backend procs, stats socket)."""
    started: List[subprocess.Popen] = []
    try:
        backends = [_backend(tmp_path / f"w{number}", f"worker-{number}") for number in (1, 2)]
        started += [proc for _port, proc in backends]
        public = redis_server.free_port()
        config = haproxy.write_config(tmp_path / "run" / f"haproxy-{public}.cfg", public, [port for port, _proc in backends], "127.0.0.1")
        assert haproxy.check(config).returncode == 0
        log = open(tmp_path / "haproxy.log", "wb")
        proxy = subprocess.Popen(haproxy.command(config), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        started.append(proxy)
        wait_http(f"http://127.0.0.1:{public}/who", 20, proxy)
        yield public, [proc for _port, proc in backends], haproxy.stats_socket_of(config)
    finally:
        stop_all(reversed(started))


def test_the_generated_configuration_is_valid(tmp_path: Path) -> None:
    config = haproxy.write_config(tmp_path / "haproxy-5005.cfg", 5005, [5006, 5007, 5008])
    result = haproxy.check(config)
    assert result.returncode == 0, result.stdout + result.stderr
    text = config.read_text()
    assert "bind 0.0.0.0:5005" in text and "balance leastconn" in text and "option httpchk GET /" in text
    assert [line.split()[2] for line in text.splitlines() if line.strip().startswith("server ")] == [
        "127.0.0.1:5006", "127.0.0.1:5007", "127.0.0.1:5008"]
    # no request lines in the log: they would carry Rasa's ?token=
    assert "httplog" not in text and "dontlog-normal" in text
    with pytest.raises(ValueError):
        haproxy.config_text(5005, [])


def test_requests_reach_both_workers_and_survive_one_going_down(proxied: tuple) -> None:
    public, backends, stats_socket = proxied
    answers = [requests.get(f"http://127.0.0.1:{public}/who", timeout=5).text for _ in range(8)]
    assert set(answers) == {"worker-1", "worker-2"}
    stats = haproxy.server_stats(stats_socket)
    # "UP 1/3": assumed up until the first check has run
    assert set(stats) == {"rasa-1", "rasa-2"} and all(row["status"].startswith("UP") for row in stats.values())
    assert sum(int(row["stot"]) for row in stats.values()) >= 8

    backends[0].kill()
    backends[0].wait()
    # no failed request while the health check has not noticed yet: the proxy redispatches
    for _ in range(6):
        response = requests.get(f"http://127.0.0.1:{public}/who", timeout=10)
        assert response.status_code == 200 and response.text == "worker-2"
    deadline = time.monotonic() + 20
    while haproxy.server_stats(stats_socket)["rasa-1"]["status"] != "DOWN" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert haproxy.server_stats(stats_socket)["rasa-1"]["status"] == "DOWN"


def test_the_proxy_adds_the_customers_address(tmp_path: Path) -> None:
    """The workers trust one X-Forwarded-For hop (SANIC_PROXIES_COUNT=1): the proxy's own, last."""
    port, public = redis_server.free_port(), redis_server.free_port()
    echo = subprocess.Popen([sys.executable, "-c", _ECHO_HEADERS, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = [echo]
    try:
        wait_http(f"http://127.0.0.1:{port}/", 20, echo)
        config = haproxy.write_config(tmp_path / "haproxy.cfg", public, [port], "127.0.0.1")
        started.append(subprocess.Popen(haproxy.command(config), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_http(f"http://127.0.0.1:{public}/", 20, started[-1])
        seen = requests.get(f"http://127.0.0.1:{public}/", headers={"X-Forwarded-For": "203.0.113.7"}, timeout=5).text
    finally:
        stop_all(reversed(started))
    # a client's own header is kept, and the proxy appends the address it really saw:
    # one trusted hop means the last entry, which no client can forge
    assert seen == "203.0.113.7, 127.0.0.1"


_ECHO_HEADERS = """
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Echo(BaseHTTPRequestHandler):
    def do_GET(self):
        # every X-Forwarded-For line, joined as Sanic reads them (HAProxy adds a line)
        body = ", ".join(self.headers.get_all("X-Forwarded-For") or []).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
"""
